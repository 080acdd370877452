// ps_quant.h — quantized-weight kernels of pipeserve.
//
// Weight tensors use exactly ggml's block layouts and type ids (ggml-common.h), so a GGUF
// tensor's bytes are used in place. Activations are f32 (ps_matmul) or, for the "_0" and K types,
// quantized to 8 bits per element (ps_quantize_activations + ps_matmul_q8, the integer path).
// Every exported symbol is prefixed ps_.
//
//   type   id  elems/block  bytes/block  layout (little-endian)
//   F32     0       1            4       float
//   F16     1       1            2       IEEE binary16
//   Q4_0    2      32           18       f16 d | u8 qs[16]                      w = d*(nibble-8)
//   Q5_0    6      32           22       f16 d | u8 qh[4] | u8 qs[16]           w = d*(5-bit q-16)
//   Q8_0    8      32           34       f16 d | i8 qs[32]                      w = d*q
//   Q4_K   12     256          144       f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
//   Q5_K   13     256          176       f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
//   Q6_K   14     256          210       u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
//   BF16   30       1            2       upper half of an IEEE binary32
#ifndef PS_QUANT_H
#define PS_QUANT_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { PS_TYPE_F32 = 0, PS_TYPE_F16 = 1, PS_TYPE_Q4_0 = 2, PS_TYPE_Q5_0 = 6, PS_TYPE_Q8_0 = 8,
       PS_TYPE_Q4_K = 12, PS_TYPE_Q5_K = 13, PS_TYPE_Q6_K = 14, PS_TYPE_BF16 = 30 };

/// 1 for the nine supported types above, else 0.
int     ps_type_supported(int type);
/// Elements per block (1 for F32/F16/BF16, 32, or 256); 0 if unsupported.
int64_t ps_type_block_elems(int type);
/// Bytes per block; 0 if unsupported.
int64_t ps_type_block_bytes(int type);

/// Dequantizes n elements (a multiple of the block size) of one row. Does nothing on bad input.
void    ps_dequantize_row(int type, const void *src, float *dst, int64_t n);

/// Y[b*y_stride + r] = sum_{i<k} W[r][i] * X[b*x_stride + i]  for r in [r0, r1), b in [0, nb).
/// W rows are w_row_bytes apart (= k / block_elems * block_bytes); k is a multiple of the block
/// size. Each (r, b) value is reduced in an order that depends only on k and the ISA level, so it
/// is bitwise identical whatever nb, r0/r1 and the position of b in the batch are.
/// Uses only the stack (about 40 KiB); no threads (callers split [r0, r1) across threads).
/// Batches of up to 4 rows keep dequantized weights in registers (decode); larger batches
/// dequantize 2048-element chunks of two weight rows once into the stack and reuse them for
/// every activation row.
void    ps_matmul(int type, const void *w, size_t w_row_bytes, int64_t k,
                  const float *x, int64_t x_stride, int64_t nb,
                  float *y, int64_t y_stride, int64_t r0, int64_t r1);

// ---- 8-bit activations ------------------------------------------------------------------------
//
// As in ggml, activations are quantized per group, q = nearest(x * 127 / amax) in [-127, 127],
// scale d = amax / 127 (f32), and each weight block is dotted with them in integers; the groups
// are finer than ggml's (which measured against float64 has about twice the error on Gemma 3:
// scripts/analysis/error_budget.py). One activation row of k elements is ps_act_row_bytes apart
// from the next (a multiple of 64):
//
//   Q4_0 Q5_0 Q8_0 (blocks of 32):  i8 qs[k] | i32 corr[k/4] | f32 d[k/8]
//       A scale per 8 elements (ggml: per 32): the kernels multiply each 4-element integer sum
//       by a float anyway, so a finer scale costs one multiply per scale in the packed kernels
//       (per 4 elements measured 0.91x on the Q5_0 batch kernel; per 8 halves that for 10 % more
//       error than per 4, scripts/analysis/error_budget.py).
//       corr[j] = -off * (qs[4j] + ... + qs[4j+3]), off = 8, 16, 128: the correction that lets a
//       kernel multiply the unsigned form of the weights (u = w + off) instead of w.
//   Q4_K Q5_K Q6_K (blocks of 256):  i8 qs[k] | f32 d[k/256] | i16 bsums[k/16] | u8 sh[k/32]
//       Unlike ggml's Q8_K (one scale per 256), each sub-block s of 32 takes the finest scale
//       d * 2^-e_s (e_s <= PS_ACT_SHIFT_MAX) that its own amax allows: q = nearest(x * 2^e_s / d)
//       (d = amax of the 256 / 127), stored d is d / 2^PS_ACT_SHIFT_MAX and sh[s] =
//       PS_ACT_SHIFT_MAX - e_s, so element e stands for q(e) * d * 2^sh[e/32]. The power of two
//       folds into the weights' integer sub-block scales (scale << sh), so the products stay in
//       integers; a sub-block far below the block's outlier keeps up to 6 more bits (Gemma 3's
//       ffn_down inputs: error against float64 about half of ggml's, scripts/analysis/error_budget.py).
//       bsums are the plain sums of 16 qs.
//
// The arithmetic, identical on every ISA level (integer sums are exact; the float operations
// and their order are fixed, fused multiply-adds included), so results are bitwise the same on
// portable, AVX2 and AVX-512 and whatever nb, r0/r1 and the position in the batch:
//   blocks of 32: block i of the row gives p[j] = sum of w*q over elements 4j..4j+3 (j < 8),
//     acc[i % 2][j] = fma(dw_i * dx[4i + j/2], p[j], acc[i % 2][j]); y = tree8(acc[0] + acc[1]).
//   K types: super-block i gives, for lanes L < 16, sumi[L] = sum over c < 4, t < 4 of
//     (scale(e) << sh(e)) * u(e) * q(e), e = 64c + 4L + t (u the unsigned quant: 0..15, 0..31,
//     0..63; sh(e) = sh[i*8 + e/32]); Q6_K: sumi[j] -= 32 * ((sc[2j] << sh_j) * bsums[2j] +
//     (sc[2j+1] << sh_j) * bsums[2j+1]) for j < 8;
//     acc[L] = fma(d_i * dx_i, sumi[L], acc[L]);
//     Q4_K/Q5_K: macc[j] = fma(-(dmin_i * dx_i), (min_j << sh_j) * bsums[2j] + (min_j << sh_j) * bsums[2j+1], macc[j]);
//     y = tree16(acc) (+ tree8(macc)). ("<<" is a multiplication by 2^sh; every sum fits in 32 bits:
//     |scale << sh| <= 8192, lanes <= 2^30.)
//   tree8(v) = ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)); tree16(v) = tree8(v[0:8] + v[8:16]).

/// The largest sub-block shift of K-type activations (see above): 6 keeps every integer sum of
/// the contract inside 32 bits for Q6_K's signed scales.
enum { PS_ACT_SHIFT_MAX = 6 };

/// Activation modes: 0 = f32 (ps_matmul), 1 = 8-bit (ps_matmul_q8 where the type has it).
enum { PS_ACTIVATIONS_F32 = 0, PS_ACTIVATIONS_Q8 = 1 };
/// Mode in use on the calling thread: the one set by ps_activations_set on this thread, else the
/// process mode, q8 unless the environment variable PIPESERVE_ACTIVATIONS=f32 (read once).
int ps_activations_current(void);
/// Selects a mode for the calling thread only (tests compare both paths); returns it.
int ps_activations_set(int mode);
/// 1 if a matmul of weights of `type` on the calling thread should use 8-bit activations (the
/// mode is q8 and the type has an integer path), else 0.
int ps_activations_for(int type);

/// Bytes of one quantized activation row for weights of `type` (0 if the type uses f32
/// activations or k is not a multiple of its block size).
int64_t ps_act_row_bytes(int type, int64_t k);
/// Quantizes nb rows of k floats (x_stride floats apart) into `out`, rows ps_act_row_bytes
/// apart, in the layout for weights of `type`. Deterministic on every ISA level.
void    ps_quantize_activations(int type, const float *x, int64_t x_stride, int64_t nb, int64_t k,
                                void *out);
/// Y[b*y_stride + r] = W[r] . X[b] for r in [r0, r1), b < nb, with X the activation rows
/// quantized by ps_quantize_activations for the same type and k. Same contract as ps_matmul:
/// no allocation, no threads, each value bitwise independent of nb, r0/r1 and the position in the
/// batch (and here of the ISA level too). Does nothing for types without an integer path.
void    ps_matmul_q8(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                     int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1);

// ---- packed weights (decode layout) -----------------------------------------------------------
//
// Q5_0, Q8_0, Q4_K and Q6_K rows repacked at load so that one 512-bit vector holds 4 consecutive
// weights of 16 rows: one vpdpbusd (K types: vpmaddubsw + vpdpwssd with the scales) against 4 broadcast
// activation bytes then gives each of the 16 rows its partial sum over those 4 elements in its own
// lane, and the 16 rows' scales convert with one instruction. Rows go in groups of 16; group g is
// one group-block per block of the row (k/32, or k/256 for the K types), block i being
//   Q8_0 (544 bytes = 16 x 34): f16 d[16] | u8 c[8][16][4]        c[j][r][t] = q(r, 4j+t) ^ 0x80
//   Q5_0 (352 bytes = 16 x 22): f16 d[16] | u8 n[4][64] | u64 h[8]
//       n[j][4r+t] = u(r,4j+t) | u(r,4j+16+t) << 4 (low nibbles of the unsigned 5-bit quant
//       u = q + 16: chunk j in the low nibbles of n[j], chunk j + 4 in the high ones, so one load
//       and three operations give two chunks), bit 4r+t of h[j] = bit 4 of u(r, 4j+t).
//   Q4_K (2368 bytes = 16 x 148, per super-block of 256): f16 d[16] | f16 dmin[16] | u8 sc[8][16] |
//       u8 mn[8][16] | u8 q[8][4][16][4]; sc/mn the 6-bit scale and min of sub-block j of row r
//       (decoded from the 12 packed bytes, 4 bytes more per row), q[l][c][r][t] = byte 32c + 4l + t
//       of row r's qs (low nibble element 64c + 4l + t, high nibble 64c + 32 + 4l + t), in the
//       order the kernel reads them (chunk-major order ran at 12 GB/s from memory against 28).
//   Q6_K (3360 bytes = 16 x 210, per super-block): f16 d[16] | i8 pair[8][16][2] | per l < 8:
//       u8 h0[64] | u8 h1[64] | u8 v[4][64]; pair[j][r] = (sc[2j], sc[2j + 1]) of row r; with u the
//       unsigned 6-bit quant (q + 32), v[c][4r+t] = low 4 bits of u(r, 64c + 4l + t) | those of
//       u(r, 64c + 32 + 4l + t) << 4, and bits 2c, 2c + 1 of h0[4r+t] (h1[4r+t]) the top two bits
//       of the first (second) of them.
// The same values as the GGUF rows, reordered; the arithmetic is exactly ps_matmul_q8's, so the
// results are bitwise those of the unpacked rows on every ISA level.

/// Bytes of the packed form of `rows` rows of `k` elements of `type`, or 0 if there is none
/// (type other than Q5_0/Q8_0/Q4_K/Q6_K, rows not a positive multiple of 16, k not a multiple of the
/// type's block).
int64_t ps_packed_bytes(int type, int64_t rows, int64_t k);
/// 1 if weights should be copied at load into a huge-page arena (ps_packed_alloc): PIPESERVE_PACK
/// is not "off" and the calling thread has not turned packing off (ps_packed_set(0)).
int     ps_arena_preferred(void);
/// 1 if single-row matmuls with 8-bit activations are faster on packed weights of `type` with rows
/// of `k` elements on this process's ISA level (AVX-512 VNNI: Q5_0, Q4_K and Q6_K; Q8_0 when k <= 1024)
/// and ps_arena_preferred(); else 0.
int     ps_packed_preferred(int type, int64_t k);
/// 1 if a matmul of `nb` activation rows on packed weights of `type` with rows of `k` elements is
/// faster than on the GGUF rows (always for nb = 1; for batches, where the packed kernel unpacks
/// each 16-row group once: Q5_0, Q8_0, Q4_K and Q6_K). Either gives the same bits.
int     ps_packed_batch_preferred(int type, int64_t k, int64_t nb);
/// Packing on the calling thread only: 0 = never (ps_arena_preferred and ps_packed_preferred are
/// 0), 1 = as the process decides, -1 = back to the process's decision. Tests load a model both ways. Returns `mode`.
int     ps_packed_set(int mode);
/// Memory for weights (packed or copied as they are): anonymous, 2 MiB-aligned, marked for
/// transparent huge pages and populated at once (streaming a 170 MB Q8_0 head through 4 KiB
/// pages costs TLB misses: 23 against 31 GB/s measured, one thread).
/// NULL if the memory cannot be had. Free with ps_packed_free(p, the same n).
void   *ps_packed_alloc(size_t n);
void    ps_packed_free(void *p, size_t n);
/// Packs rows [0, rows) of `w` (rows w_row_bytes apart) into `dst` (ps_packed_bytes bytes).
/// Returns 0, or -1 on bad arguments (nothing written).
int     ps_pack_rows(int type, const void *w, size_t w_row_bytes, int64_t k, int64_t rows, void *dst);
/// Row r of packed weights back in the GGUF layout (k / block-size blocks) into `dst`; -1 on bad
/// arguments.
int     ps_unpack_row(int type, const void *packed, int64_t k, int64_t r, void *dst);
/// ps_matmul_q8 on packed weights: Y[b*y_stride + r] = W[r] . X[b] for r in [r0, r1), b < nb.
/// r0 and r1 must be multiples of 16 (whole groups; nothing is done otherwise). Bitwise the same
/// as ps_matmul_q8 on the unpacked rows, whatever nb, r0/r1 and the ISA level. With nb > 1 the
/// AVX-512 kernel unpacks each group of Q5_0, Q4_K and Q6_K once into up to 64 KiB of stack and
/// runs every activation row over it (longer rows: unpacked per activation row).
void    ps_matmul_q8_packed(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                            float *y, int64_t y_stride, int64_t r0, int64_t r1);

/// ISA levels: 0 = portable C, 1 = AVX2+FMA(+F16C), 2 = AVX-512 (f, bw, vl).
enum { PS_ISA_PORTABLE = 0, PS_ISA_AVX2 = 1, PS_ISA_AVX512 = 2 };
/// Highest level this CPU supports (from CPUID).
int ps_isa_detected(void);
/// Selects a level for the calling thread only, clamped to [0, detected]; returns the level now in
/// use. Other threads keep the process level: the detected one, lowered by PIPESERVE_ISA
/// (portable | avx2 | avx512) when that environment variable is set.
int ps_isa_set(int level);
/// Level in use on the calling thread.
int ps_isa_current(void);
/// 1 if the CPU has AVX-512 VNNI (vpdpbusd/vpdpwssd), which the AVX-512 level of ps_matmul_q8
/// uses; without it that level runs the AVX2 integer kernels.
int ps_isa_vnni(void);

/// IEEE binary16 <-> binary32, round-to-nearest-even; subnormals, infinities and NaNs kept.
float    ps_f16_to_f32(uint16_t h);
uint16_t ps_f32_to_f16(float f);
/// bfloat16 <-> binary32, round-to-nearest-even; NaNs stay (quiet) NaNs.
float    ps_bf16_to_f32(uint16_t h);
uint16_t ps_f32_to_bf16(float f);

#if defined(PS_QUANT_INTERNAL)
#include <string.h>
// ---- Internal to the kernel .c files (not API; invisible to Swift) -------------------------
// exp(x) for the activations and attention's softmax: Cephes' single-precision range reduction and polynomial, written
// with plain IEEE operations only (round-to-nearest by the 1.5 * 2^23 trick, 2^n built from its
// bits), so every ISA level's vectorisation of it gives the same bits. Within 2 ulp of expf on
// [-87, 88]; x is clamped to that range (exp(88) = 1.65e38 stays finite).
static inline __attribute__((always_inline)) float ps__exp(float x) {
#pragma clang fp contract(off)   // no fused multiply-adds: the same bits on every level (this header precedes the files' own pragma)
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { int32_t i; float f; } e = {.i = ((int32_t)n + 127) << 23};
    return p * e.f;
}
// s[j] = ps__exp(s[j] - m) for j < n, in place (NaN stays NaN), on the current ISA level (ops.c).
void ps__softmax_exp(float *s, int64_t n, float m);
// Dequantizes nblocks whole blocks of `type` into dst (nblocks * block_elems floats).
typedef void (*ps_dequant_blocks_fn)(const void *src, float *dst, int64_t nblocks);
ps_dequant_blocks_fn ps__dequant_portable(int type);
void ps__matmul_portable(int type, const void *w, size_t w_row_bytes, int64_t k,
                         const float *x, int64_t x_stride, int64_t nb,
                         float *y, int64_t y_stride, int64_t r0, int64_t r1);
#if defined(__x86_64__)
ps_dequant_blocks_fn ps__dequant_avx2(int type);
void ps__matmul_avx2(int type, const void *w, size_t w_row_bytes, int64_t k,
                     const float *x, int64_t x_stride, int64_t nb,
                     float *y, int64_t y_stride, int64_t r0, int64_t r1);
ps_dequant_blocks_fn ps__dequant_avx512(int type);
void ps__matmul_avx512(int type, const void *w, size_t w_row_bytes, int64_t k,
                       const float *x, int64_t x_stride, int64_t nb,
                       float *y, int64_t y_stride, int64_t r0, int64_t r1);
#endif
// 8-bit activations (quant_q8*.c).
enum { PS_ACT_Q8_32 = 1, PS_ACT_Q8_256 = 2 };
int ps__act_kind(int type);   // PS_ACT_Q8_32, PS_ACT_Q8_256 or 0
float ps__tree8(const float v[8]);
float ps__tree16(const float v[16]);
float ps__amax(const float *x, int n);                 // largest |x[i]| (0 for none)
int ps__act_exponent(float sub_amax, float amax);      // e_s of a K-type sub-block (ps_quant.h)
void ps__matmul_q8_portable(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                            int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1);
int ps__isa_process_level(void);   // the level of threads that did not call ps_isa_set
void ps__matmul_q8_packed_portable(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                                   float *y, int64_t y_stride, int64_t r0, int64_t r1);
#if defined(__x86_64__)
void ps__matmul_q8_packed_avx512(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                                 float *y, int64_t y_stride, int64_t r0, int64_t r1);
void ps__matmul_q8_avx2(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                        int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1);
void ps__quantize_act_avx512(int type, const float *x, int64_t x_stride, int64_t nb, int64_t k, void *out);
void ps__matmul_q8_avx512(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                          int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1);
#endif
// Q4_K / Q5_K 6-bit scale and min of sub-block j (0..7) from the 12 packed scale bytes.
static inline void ps__scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m  = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m  = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}
static inline uint16_t ps__rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
/// The unsigned 6-bit quants u[256] of a Q6_K block (u = q + 32, element order): ql's nibbles
/// are the low four bits, qh's bit pairs the top two.
static inline void ps__q6_unsigned(const uint8_t *b, uint8_t u[256]) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *L = b + 64 * h, H = b[128 + 32 * h + l];
            u[128 * h + l] = (uint8_t)((L[l] & 0xF) | (H & 3) << 4);
            u[128 * h + l + 32] = (uint8_t)((L[l + 32] & 0xF) | ((H >> 2) & 3) << 4);
            u[128 * h + l + 64] = (uint8_t)((L[l] >> 4) | ((H >> 4) & 3) << 4);
            u[128 * h + l + 96] = (uint8_t)((L[l + 32] >> 4) | ((H >> 6) & 3) << 4);
        }
}
/// How many weight rows ahead the q8 matmuls prefetch into L2. Decode (`decode`: a batch small
/// enough for the decode tiles): 32 rows for the blocks of 32, measured on Zen 4 for the 262k x
/// 640 Q8_0 head to reach about the memory bandwidth (22 GB/s; 8-16 rows reach half); 8 rows for
/// the K types (`ktype`), whose kernels spend about twice as long per byte: Gemma's 640 x 2048
/// Q6_K rows (1680 bytes) read 79-89 % of a plain read at 8 rows against 70-72 % at 32 and 56 % at
/// 64 (scripts/bench-kernels, session 7). Larger batches spend far longer per
/// weight row, so about 8 KB ahead (at least 4 rows) hides the latency; without it the first
/// activation tile of every row waited on memory: 16-row batches ran at 40 GMAC/s on
/// TinyLlama-sized Q8_0 matrices and 28 on Gemma's Q5_0 ones, against 58-60 and 52-54 with it.
static inline int64_t ps__prefetch_rows(int decode, int ktype, size_t w_row_bytes) {
    if (decode) return ktype ? 8 : 32;
    const int64_t rows = 8192 / (int64_t)w_row_bytes;
    return rows > 4 ? rows : 4;
}
/// All eight 6-bit scales and mins of a Q4_K/Q5_K block (`b` = the block, scales at b + 4) as 16
/// bytes in `u`: scales 0..7 then mins 0..7 (ps__scale_min_k4 for j = 0..7, branch-free).
static inline void ps__scales_mins_k4(const uint8_t *b, uint32_t u[4]) {
    memcpy(u, b + 4, 12);
    const uint32_t m6 = 0x3F3F3F3Fu, m4 = 0x0F0F0F0Fu, m2 = 0x03030303u;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);     // mins 4..7
    const uint32_t mins03 = u[1] & m6;                          // mins 0..3
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);             // scales 4..7
    u[2] = mins03;
    u[0] &= m6;                                                 // scales 0..3
}
#endif

#ifdef __cplusplus
}
#endif
#endif
