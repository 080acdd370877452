// ps_quant.h — quantized-weight kernels of pipeserve.
//
// Weight tensors use exactly ggml's block layouts and type ids (ggml-common.h), so a GGUF
// tensor's bytes are used in place. Activations stay f32. Every exported symbol is prefixed ps_.
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

/// IEEE binary16 <-> binary32, round-to-nearest-even; subnormals, infinities and NaNs kept.
float    ps_f16_to_f32(uint16_t h);
uint16_t ps_f32_to_f16(float f);
/// bfloat16 <-> binary32, round-to-nearest-even; NaNs stay (quiet) NaNs.
float    ps_bf16_to_f32(uint16_t h);
uint16_t ps_f32_to_bf16(float f);

#if defined(PS_QUANT_INTERNAL)
// ---- Internal to the quant_*.c files (not API; invisible to Swift) -------------------------
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
#endif

#ifdef __cplusplus
}
#endif
#endif
