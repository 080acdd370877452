// quant_packed_avx512.c — ps_matmul_q8 on packed Q5_0/Q8_0/Q4_K/Q6_K weights (layout in ps_quant.h)
// with AVX-512 VNNI. Lane r of every vector is row r of a 16-row group, so a block needs no horizontal
// work: per 4-element chunk j, one vpdpbusd of the 16 rows' unsigned weights with the broadcast
// activation bytes (and corr[j]) gives p[j] for each row, and acc[i % 2][j] = fma(dw * dx[j / 2], p[j],
// acc) is the contract of ps_quant.h with the 16 rows side by side; tree8 across the eight
// accumulators is vertical adds. Bitwise the same as the portable path.
//
// Per block of 16 rows this is 8 vpdpbusd and 8 fmas; the row-major kernel spends about four
// times as many instructions per weight byte on unpacking and on spreading scales, which is what
// kept decode below the memory bandwidth.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(off)

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

// No software prefetch: a group's blocks are one sequential stream, which the hardware prefetcher
// follows better than prefetch instructions do when the kernel has compute to spare. Measured
// from memory against a plain read loop in the same process (huge pages, one thread, medians of
// 24 paired runs, 262k x 640): Q8_0 1.03-1.04x without prefetch, 0.87-0.93x with one prefetch
// per line 2-16 KB ahead (0.71 with a burst per block into L2, as this kernel had); Q4_K
// (65k x 2048) 0.85-0.90x without, 0.66-0.67x with one prefetch per line 8 KB ahead. Q5_0 with
// its block's lines 2 or 8 KB ahead: 0.95 and 0.94x of none in scripts/bench-kernels' decode step,
// 0.97-0.98x in decode (a harness built with -O2 -march=native, not the package's flags, had
// shown it 1.25x faster).

// tree8 and tree16 of ps_quant.h across vectors (lane r = row r): vertical adds in the order
// ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)), and tree16(v) = tree8(v[L] + v[L + 8]).
INL __m512 tree8v(const __m512 v[8]) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(v[0], v[4]), _mm512_add_ps(v[2], v[6])),
                         _mm512_add_ps(_mm512_add_ps(v[1], v[5]), _mm512_add_ps(v[3], v[7])));
}
INL __m512 tree16v(const __m512 v[16]) {
    __m512 w[8];
    for (int l = 0; l < 8; l++) w[l] = _mm512_add_ps(v[l], v[l + 8]);
    return tree8v(w);
}

// Unsigned weights of chunks j and j + 4 (j < 4) of a Q5_0 group-block, 16 rows x 4 elements
// each: the low and high nibbles of n[j], plus 16 where h has the fifth bit.
INL void q5_chunks(const uint8_t *gblk, int j, __m512i *lo, __m512i *hi) {
    const __m512i v = _mm512_loadu_si512(gblk + 32 + 64 * j), m4 = _mm512_set1_epi8(0x0F);
    __mmask64 h0, h1;
    memcpy(&h0, gblk + 288 + 8 * j, 8);
    memcpy(&h1, gblk + 288 + 8 * (j + 4), 8);
    const __m512i l = _mm512_and_si512(v, m4), u = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
    *lo = _mm512_mask_add_epi8(l, h0, l, _mm512_set1_epi8(16));
    *hi = _mm512_mask_add_epi8(u, h1, u, _mm512_set1_epi8(16));
}

INL __m512i q8_chunk(const uint8_t *gblk, int j) {
    return _mm512_loadu_si512(gblk + 32 + 64 * j);
}

// Block i of a group (b: its group-block) into acc (the contract's acc[i % 2]).
INL void group_block(const int type, const uint8_t *b, int64_t i, const int32_t *xq, const int32_t *corr,
                     const float *xd, __m512 acc[8]) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b));
    __m512 s[4];   // dw * dx of the block's four activation groups (chunks 2m and 2m + 1)
    for (int m = 0; m < 4; m++) s[m] = _mm512_mul_ps(dw, _mm512_set1_ps(xd[4 * i + m]));
    for (int j = 0; j < 4; j++) {
        __m512i u[2];
        if (type == PS_TYPE_Q8_0) {
            u[0] = q8_chunk(b, j);
            u[1] = q8_chunk(b, j + 4);
        } else {
            q5_chunks(b, j, &u[0], &u[1]);
        }
        for (int c = 0; c < 2; c++) {
            const int jj = j + 4 * c;
            const __m512i p = _mm512_dpbusd_epi32(_mm512_set1_epi32(corr[8 * i + jj]), u[c], _mm512_set1_epi32(xq[8 * i + jj]));
            acc[jj] = _mm512_fmadd_ps(s[jj / 2], _mm512_cvtepi32_ps(p), acc[jj]);
        }
    }
}

// One activation row (xr: its qs | corr | d) against one group of 16 rows (g: nblk group-blocks);
// stores the 16 results at y.
INL void group_row(const int type, const uint8_t *g, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    const int gb = type == PS_TYPE_Q8_0 ? 544 : 352;
    const int32_t *xq = (const int32_t *)xr;            // 4 activation bytes per int32
    const int32_t *corr = (const int32_t *)(xr + k);
    const float *xd = (const float *)(xr + 2 * k);
    // acc[i % 2] with i % 2 known at compile time: blocks go in pairs. (Indexed by a run-time
    // parity the 16 accumulators lived on the stack, a store and a reload per fma — the kernel
    // then read 25-27 GB/s in decode instead of the memory's 30-31.)
    __m512 acc[2][8];
    for (int p = 0; p < 2; p++)
        for (int j = 0; j < 8; j++) acc[p][j] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nblk; i += 2) {
        group_block(type, g + i * gb, i, xq, corr, xd, acc[0]);
        group_block(type, g + (i + 1) * gb, i + 1, xq, corr, xd, acc[1]);
    }
    if (i < nblk) group_block(type, g + i * gb, i, xq, corr, xd, acc[0]);
    __m512 v[8];
    for (int j = 0; j < 8; j++) v[j] = _mm512_add_ps(acc[0][j], acc[1][j]);
    _mm512_storeu_ps(y, tree8v(v));
}

// Q4_K: one activation row against one group of 16 rows. Lane r is row r throughout; the
// contract's sixteen lanes L become sixteen accumulators. Per super-block and L < 8, chunk c's
// vector holds bytes 32c + 4L .. +3 of each row's qs: low nibbles are elements 64c + 4L + t (lane
// L, scale 2c), high nibbles 64c + 32 + 4L + t (lane L + 8, scale 2c + 1). Per row and super-block
// that is about 20 vector instructions against the row-major kernel's 50; measured from memory
// (huge pages, Gemma's 640 x 1024 and 640 x 2048 shapes) 27-29 GB/s against 19-21. vpmaddubsw against the
// four broadcast activation bytes and vpdpwssd with the row's scale in both 16-bit halves add
// scale * (u0 q0 + u1 q1) + scale * (u2 q2 + u3 q3) — the row-major kernel's integers exactly.
INL void group_row_q4_k(const uint8_t *g, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    enum { GB = 2368 };
    const int32_t *x4 = (const int32_t *)xr;
    const float *xd = (const float *)(xr + k);
    const int16_t *bsums = (const int16_t *)(xr + k + k / 256 * 4);
    const uint8_t *shifts = xr + k + k / 256 * 4 + k / 16 * 2;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512 acc[16], macc[8];
    for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
    for (int j = 0; j < 8; j++) macc[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        const uint8_t *b = g + i * GB;
        const uint8_t *sh = shifts + 8 * i;
        const __m512 dx = _mm512_set1_ps(xd[i]);
        const __m512 s = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b)), dx);
        const __m512 ms = _mm512_castsi512_ps(_mm512_xor_si512(
            _mm512_castps_si512(_mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(b + 32))), dx)),
            _mm512_set1_epi32((int)0x80000000u)));   // -(dmin * dx)
        __m512i sc[8];
        for (int j = 0; j < 8; j++) {
            const __m512i t = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + 64 + 16 * j)));
            sc[j] = _mm512_sll_epi16(_mm512_or_si512(t, _mm512_slli_epi32(t, 16)), _mm_cvtsi32_si128(sh[j]));
        }
        const int32_t *xi = x4 + 64 * i;
        for (int l = 0; l < 8; l++) {
            __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
            for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_loadu_si512(b + 320 + 256 * l + 64 * c);
                const __m512i ul = _mm512_and_si512(v, m4), uh = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                lo = _mm512_dpwssd_epi32(lo, _mm512_maddubs_epi16(ul, _mm512_set1_epi32(xi[16 * c + l])), sc[2 * c]);
                hi = _mm512_dpwssd_epi32(hi, _mm512_maddubs_epi16(uh, _mm512_set1_epi32(xi[16 * c + 8 + l])), sc[2 * c + 1]);
            }
            acc[l] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(lo), acc[l]);
            acc[l + 8] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(hi), acc[l + 8]);
        }
        const int16_t *bs = bsums + 16 * i;
        for (int j = 0; j < 8; j++) {
            const __m512i mn = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(b + 192 + 16 * j)));
            const int32_t m = ((int32_t)bs[2 * j] + (int32_t)bs[2 * j + 1]) * (1 << sh[j]);
            const __m512i p = _mm512_mullo_epi32(mn, _mm512_set1_epi32(m));
            macc[j] = _mm512_fmadd_ps(ms, _mm512_cvtepi32_ps(p), macc[j]);
        }
    }
    _mm512_storeu_ps(y, _mm512_add_ps(tree16v(acc), tree8v(macc)));
}

TGT static void groups_q4_k(const uint8_t *g, int64_t gbytes, int64_t ng, int64_t nblk, const uint8_t *xq, int64_t rb,
                            int64_t nb, int64_t k, float *y, int64_t ys) {
    for (int64_t n = 0; n < ng; n++, g += gbytes, y += 16)
        for (int64_t b = 0; b < nb; b++) group_row_q4_k(g, nblk, xq + b * rb, k, y + b * ys);
}

// Q6_K: one activation row against one group of 16 rows, lane r = row r as for Q4_K. Per super-block
// and L < 8, the 64 bytes at n[L][c] hold in their low nibbles the low four bits of elements
// 64c + 4L + t (lane L) and in their high nibbles those of 64c + 32 + 4L + t (lane L + 8); h[L][0]
// and h[L][1] hold the top two bits of either, chunk c at bits 2c. Element e's scale is
// sc[e / 16] = sc[4c + L / 4]: the pairs (sc[2j], sc[2j + 1]) of each row are stored as bytes, so
// one sign extension gives the 16-bit pair vpmaddwd needs for the contract's correction
// -32 * (sc[2j] * bs[2j] + sc[2j + 1] * bs[2j + 1]) of lane j, and one byte shuffle either scale
// in both halves of the row's lane for vpdpwssd.
INL void group_row_q6_k(const uint8_t *g, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    enum { GB = 3360 };
    const int32_t *x4 = (const int32_t *)xr;
    const float *xd = (const float *)(xr + k);
    const int32_t *bsums = (const int32_t *)(xr + k + k / 256 * 4);   // pairs of 16-bit sums
    const uint8_t *shifts = xr + k + k / 256 * 4 + k / 16 * 2;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    // Per 32-bit lane: bytes 0,1 (the even scale) or 2,3 (the odd one) twice.
    const __m512i dup_even = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
    const __m512i dup_odd = _mm512_add_epi8(dup_even, _mm512_set1_epi8(2));
    __m512 acc[16];
    for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        const uint8_t *b = g + i * GB;
        const __m512 s = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b)), _mm512_set1_ps(xd[i]));
        __m512i pair[8];   // (sc[2j], sc[2j + 1]) << sh[j] of each row as 16-bit lanes
        for (int j = 0; j < 8; j++)
            pair[j] = _mm512_sll_epi16(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b + 32 + 32 * j))),
                                       _mm_cvtsi32_si128(shifts[8 * i + j]));
        const int32_t *xi = x4 + 64 * i;
        for (int half = 0; half < 2; half++) {
            // Scales of lanes L (L / 4 = half) and L + 8 in chunk c: sc[4c + half], sc[4c + half + 2].
            __m512i sc[8];
            for (int c = 0; c < 4; c++) {
                sc[2 * c] = _mm512_shuffle_epi8(pair[2 * c], half ? dup_odd : dup_even);
                sc[2 * c + 1] = _mm512_shuffle_epi8(pair[2 * c + 1], half ? dup_odd : dup_even);
            }
            for (int l = 4 * half; l < 4 * half + 4; l++) {
                const uint8_t *n = b + 288 + 384 * l;
                const __m512i h0 = _mm512_loadu_si512(n + 0), h1 = _mm512_loadu_si512(n + 64);
                __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
                for (int c = 0; c < 4; c++) {
                    const __m512i v = _mm512_loadu_si512(n + 128 + 64 * c);
                    // Bits 2c, 2c + 1 of h to bits 4, 5 (16-bit shifts: bits crossing into the
                    // neighbouring byte fall outside 0x30).
                    const __m512i t0 = c < 2 ? _mm512_slli_epi16(h0, 4 - 2 * c) : c == 2 ? h0 : _mm512_srli_epi16(h0, 2);
                    const __m512i t1 = c < 2 ? _mm512_slli_epi16(h1, 4 - 2 * c) : c == 2 ? h1 : _mm512_srli_epi16(h1, 2);
                    const __m512i ul = _mm512_ternarylogic_epi32(_mm512_and_si512(v, m4), t0, m30, 0xF8);   // a | (b & c)
                    const __m512i uh = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), t1, m30, 0xF8);
                    lo = _mm512_dpwssd_epi32(lo, _mm512_maddubs_epi16(ul, _mm512_set1_epi32(xi[16 * c + l])), sc[2 * c]);
                    hi = _mm512_dpwssd_epi32(hi, _mm512_maddubs_epi16(uh, _mm512_set1_epi32(xi[16 * c + 8 + l])), sc[2 * c + 1]);
                }
                const __m512i corr = _mm512_slli_epi32(_mm512_madd_epi16(pair[l], _mm512_set1_epi32(bsums[8 * i + l])), 5);
                lo = _mm512_sub_epi32(lo, corr);
                acc[l] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(lo), acc[l]);
                acc[l + 8] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(hi), acc[l + 8]);
            }
        }
    }
    _mm512_storeu_ps(y, tree16v(acc));
}

TGT static void groups_q6_k(const uint8_t *g, int64_t gbytes, int64_t ng, int64_t nblk, const uint8_t *xq, int64_t rb,
                            int64_t nb, int64_t k, float *y, int64_t ys) {
    for (int64_t n = 0; n < ng; n++, g += gbytes, y += 16)
        for (int64_t b = 0; b < nb; b++) group_row_q6_k(g, nblk, xq + b * rb, k, y + b * ys);
}

TGT static void groups_q8_0(const uint8_t *g, int64_t gbytes, int64_t ng, int64_t nblk, const uint8_t *xq, int64_t rb,
                            int64_t nb, int64_t k, float *y, int64_t ys) {
    for (int64_t n = 0; n < ng; n++, g += gbytes, y += 16)
        for (int64_t b = 0; b < nb; b++) group_row(PS_TYPE_Q8_0, g, nblk, xq + b * rb, k, y + b * ys);
}

TGT static void groups_q5_0(const uint8_t *g, int64_t gbytes, int64_t ng, int64_t nblk, const uint8_t *xq, int64_t rb,
                            int64_t nb, int64_t k, float *y, int64_t ys) {
    for (int64_t n = 0; n < ng; n++, g += gbytes, y += 16)
        for (int64_t b = 0; b < nb; b++) group_row(PS_TYPE_Q5_0, g, nblk, xq + b * rb, k, y + b * ys);
}

// ---- batches (prefill): a group unpacked once, reused by every activation row ----------------
//
// With many activation rows the per-row unpacking above (Q5_0's fifth bits, the K types' nibbles,
// Q4_K's scale widening, Q6_K's scale shuffles) costs as much as the dot products. So each 16-row
// group is unpacked once into a buffer on the stack (f32 scales, one byte per weight, the scales as
// the 16-bit or 32-bit lanes the kernel multiplies by), which stays in L1/L2 while every
// activation row of the batch passes over it. The loads, integer sums and float operations per
// lane are those of the per-row kernels above in the same order, so every value is bitwise theirs
// (and ps_matmul_q8's): only where the operands come from changes.
enum { UNPACKED_MAX = 64 * 1024 };    // bytes of stack for one unpacked group
enum { BATCH_ROWS = 64 };
enum { UB_Q5 = 576 };                 // per block: f32 dw[16] | u8 u[8][64]
enum { UB_Q4K = 64 + 64 + 512 + 512 + 4096 };   // per super-block: f32 d[16] | f32 dmin[16] | i32 sc[8][16] | i32 mn[8][16] | u8 u[8][4][2][64]
enum { UB_Q6K = 64 + 512 + 1024 + 4096 };       // per super-block: f32 d[16] | i16 pair[8][32] | sc[2][8][64] | u8 u[8][4][2][64]

static inline int64_t unpacked_block_bytes(int type) {
    return type == PS_TYPE_Q5_0 ? UB_Q5 : type == PS_TYPE_Q4_K ? UB_Q4K : type == PS_TYPE_Q6_K ? UB_Q6K : 0;
}

INL void unpack_q5_0(const uint8_t *g, int64_t nblk, uint8_t *ub) {
    for (int64_t i = 0; i < nblk; i++, g += 352, ub += UB_Q5) {
        _mm512_store_ps((float *)ub, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)));
        for (int j = 0; j < 4; j++) {
            __m512i lo, hi;
            q5_chunks(g, j, &lo, &hi);
            _mm512_store_si512(ub + 64 + 64 * j, lo);
            _mm512_store_si512(ub + 64 + 64 * (j + 4), hi);
        }
    }
}

// group_row on an unpacked Q5_0 group: the same s, vpdpbusd operands and fmas per block.
INL void ublock_q5_0(const uint8_t *ub, int64_t i, const int32_t *xq, const int32_t *corr, const float *xd, __m512 acc[8]) {
    const uint8_t *b = ub + i * UB_Q5;
    const __m512 dw = _mm512_load_ps((const float *)b);
    __m512 s[4];
    for (int m = 0; m < 4; m++) s[m] = _mm512_mul_ps(dw, _mm512_set1_ps(xd[4 * i + m]));
    for (int j = 0; j < 8; j++) {
        const __m512i p = _mm512_dpbusd_epi32(_mm512_set1_epi32(corr[8 * i + j]), _mm512_load_si512(b + 64 + 64 * j),
                                              _mm512_set1_epi32(xq[8 * i + j]));
        acc[j] = _mm512_fmadd_ps(s[j / 2], _mm512_cvtepi32_ps(p), acc[j]);
    }
}

INL void urow_q5_0(const uint8_t *ub, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    const int32_t *xq = (const int32_t *)xr;
    const int32_t *corr = (const int32_t *)(xr + k);
    const float *xd = (const float *)(xr + 2 * k);
    __m512 acc[2][8];
    for (int p = 0; p < 2; p++)
        for (int j = 0; j < 8; j++) acc[p][j] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nblk; i += 2) {   // parity known at compile time (see group_row)
        ublock_q5_0(ub, i, xq, corr, xd, acc[0]);
        ublock_q5_0(ub, i + 1, xq, corr, xd, acc[1]);
    }
    if (i < nblk) ublock_q5_0(ub, i, xq, corr, xd, acc[0]);
    __m512 v[8];
    for (int j = 0; j < 8; j++) v[j] = _mm512_add_ps(acc[0][j], acc[1][j]);
    _mm512_storeu_ps(y, tree8v(v));
}

// Two activation rows over an unpacked Q5_0 group, each weight vector loaded once for both. The
// contract's acc[0] (even blocks) and acc[1] (odd blocks) are separate chains, so they are run
// one after the other (8 accumulators per row at a time), then added as urow_q5_0 adds them.
INL void ublock2_q5_0(const uint8_t *ub, int64_t i, const uint8_t *x0, const uint8_t *x1, int64_t k, __m512 a0[8], __m512 a1[8]) {
    const uint8_t *b = ub + i * UB_Q5;
    const __m512 dw = _mm512_load_ps((const float *)b);
    const float *d0 = (const float *)(x0 + 2 * k) + 4 * i, *d1 = (const float *)(x1 + 2 * k) + 4 * i;
    __m512 s0[4], s1[4];
    for (int m = 0; m < 4; m++) {
        s0[m] = _mm512_mul_ps(dw, _mm512_set1_ps(d0[m]));
        s1[m] = _mm512_mul_ps(dw, _mm512_set1_ps(d1[m]));
    }
    const int32_t *q0 = (const int32_t *)x0 + 8 * i, *c0 = (const int32_t *)(x0 + k) + 8 * i;
    const int32_t *q1 = (const int32_t *)x1 + 8 * i, *c1 = (const int32_t *)(x1 + k) + 8 * i;
    for (int j = 0; j < 8; j++) {
        const __m512i u = _mm512_load_si512(b + 64 + 64 * j);
        const __m512i p0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(c0[j]), u, _mm512_set1_epi32(q0[j]));
        const __m512i p1 = _mm512_dpbusd_epi32(_mm512_set1_epi32(c1[j]), u, _mm512_set1_epi32(q1[j]));
        a0[j] = _mm512_fmadd_ps(s0[j / 2], _mm512_cvtepi32_ps(p0), a0[j]);
        a1[j] = _mm512_fmadd_ps(s1[j / 2], _mm512_cvtepi32_ps(p1), a1[j]);
    }
}

INL void urow2_q5_0(const uint8_t *ub, int64_t nblk, const uint8_t *x0, const uint8_t *x1, int64_t k, float *y0, float *y1) {
    __m512 e0[8], e1[8], o0[8], o1[8];
    for (int j = 0; j < 8; j++) e0[j] = e1[j] = o0[j] = o1[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nblk; i += 2) ublock2_q5_0(ub, i, x0, x1, k, e0, e1);
    for (int64_t i = 1; i < nblk; i += 2) ublock2_q5_0(ub, i, x0, x1, k, o0, o1);
    __m512 v0[8], v1[8];
    for (int j = 0; j < 8; j++) {
        v0[j] = _mm512_add_ps(e0[j], o0[j]);
        v1[j] = _mm512_add_ps(e1[j], o1[j]);
    }
    _mm512_storeu_ps(y0, tree8v(v0));
    _mm512_storeu_ps(y1, tree8v(v1));
}

INL void unpack_q4_k(const uint8_t *g, int64_t nblk, uint8_t *ub) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t i = 0; i < nblk; i++, g += 2368, ub += UB_Q4K) {
        _mm512_store_ps((float *)ub, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)));
        _mm512_store_ps((float *)(ub + 64), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 32))));
        for (int j = 0; j < 8; j++) {
            const __m512i t = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(g + 64 + 16 * j)));
            _mm512_store_si512(ub + 128 + 64 * j, _mm512_or_si512(t, _mm512_slli_epi32(t, 16)));
            _mm512_store_si512(ub + 640 + 64 * j, _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(g + 192 + 16 * j))));
        }
        for (int l = 0; l < 8; l++)
            for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_loadu_si512(g + 320 + 256 * l + 64 * c);
                _mm512_store_si512(ub + 1152 + 512 * l + 128 * c, _mm512_and_si512(v, m4));
                _mm512_store_si512(ub + 1152 + 512 * l + 128 * c + 64, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
            }
    }
}

// group_row_q4_k on an unpacked group.
INL void urow_q4_k(const uint8_t *ub, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    const int32_t *x4 = (const int32_t *)xr;
    const float *xd = (const float *)(xr + k);
    const int16_t *bsums = (const int16_t *)(xr + k + k / 256 * 4);
    __m512 acc[16], macc[8];
    for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
    for (int j = 0; j < 8; j++) macc[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        const uint8_t *b = ub + i * UB_Q4K;
        const __m512 dx = _mm512_set1_ps(xd[i]);
        const __m512 s = _mm512_mul_ps(_mm512_load_ps((const float *)b), dx);
        const __m512 ms = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mul_ps(_mm512_load_ps((const float *)(b + 64)), dx)),
                                                               _mm512_set1_epi32((int)0x80000000u)));   // -(dmin * dx)
        const uint8_t *sh = xr + k + k / 256 * 4 + k / 16 * 2 + 8 * i;
        _Alignas(64) __m512i sc[8];   // the unpacked scales << this row's sub-block shifts
        for (int j = 0; j < 8; j++) sc[j] = _mm512_sll_epi16(_mm512_load_si512(b + 128 + 64 * j), _mm_cvtsi32_si128(sh[j]));
        const int32_t *xi = x4 + 64 * i;
        for (int l = 0; l < 8; l++) {
            __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
            const uint8_t *u = b + 1152 + 512 * l;
            for (int c = 0; c < 4; c++) {
                lo = _mm512_dpwssd_epi32(lo, _mm512_maddubs_epi16(_mm512_load_si512(u + 128 * c), _mm512_set1_epi32(xi[16 * c + l])),
                                         _mm512_load_si512(sc + 2 * c));
                hi = _mm512_dpwssd_epi32(hi, _mm512_maddubs_epi16(_mm512_load_si512(u + 128 * c + 64), _mm512_set1_epi32(xi[16 * c + 8 + l])),
                                         _mm512_load_si512(sc + 2 * c + 1));
            }
            acc[l] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(lo), acc[l]);
            acc[l + 8] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(hi), acc[l + 8]);
        }
        const int16_t *bs = bsums + 16 * i;
        for (int j = 0; j < 8; j++) {
            const int32_t m = ((int32_t)bs[2 * j] + (int32_t)bs[2 * j + 1]) * (1 << sh[j]);
            const __m512i p = _mm512_mullo_epi32(_mm512_load_si512(b + 640 + 64 * j), _mm512_set1_epi32(m));
            macc[j] = _mm512_fmadd_ps(ms, _mm512_cvtepi32_ps(p), macc[j]);
        }
    }
    _mm512_storeu_ps(y, _mm512_add_ps(tree16v(acc), tree8v(macc)));
}

INL void unpack_q6_k(const uint8_t *g, int64_t nblk, uint8_t *ub) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    const __m512i dup_even = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
    const __m512i dup_odd = _mm512_add_epi8(dup_even, _mm512_set1_epi8(2));
    for (int64_t i = 0; i < nblk; i++, g += 3360, ub += UB_Q6K) {
        _mm512_store_ps((float *)ub, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g)));
        for (int j = 0; j < 8; j++) {
            const __m512i pair = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(g + 32 + 32 * j)));
            _mm512_store_si512(ub + 64 + 64 * j, pair);
            _mm512_store_si512(ub + 576 + 64 * j, _mm512_shuffle_epi8(pair, dup_even));
            _mm512_store_si512(ub + 576 + 512 + 64 * j, _mm512_shuffle_epi8(pair, dup_odd));
        }
        for (int l = 0; l < 8; l++) {
            const uint8_t *n = g + 288 + 384 * l;
            const __m512i h0 = _mm512_loadu_si512(n + 0), h1 = _mm512_loadu_si512(n + 64);
            for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_loadu_si512(n + 128 + 64 * c);
                const __m512i t0 = c < 2 ? _mm512_slli_epi16(h0, 4 - 2 * c) : c == 2 ? h0 : _mm512_srli_epi16(h0, 2);
                const __m512i t1 = c < 2 ? _mm512_slli_epi16(h1, 4 - 2 * c) : c == 2 ? h1 : _mm512_srli_epi16(h1, 2);
                _mm512_store_si512(ub + 1600 + 512 * l + 128 * c, _mm512_ternarylogic_epi32(_mm512_and_si512(v, m4), t0, m30, 0xF8));
                _mm512_store_si512(ub + 1600 + 512 * l + 128 * c + 64,
                                   _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), t1, m30, 0xF8));
            }
        }
    }
}

// group_row_q6_k on an unpacked group.
INL void urow_q6_k(const uint8_t *ub, int64_t nblk, const uint8_t *xr, int64_t k, float *y) {
    const int32_t *x4 = (const int32_t *)xr;
    const float *xd = (const float *)(xr + k);
    const int32_t *bsums = (const int32_t *)(xr + k + k / 256 * 4);
    __m512 acc[16];
    for (int l = 0; l < 16; l++) acc[l] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        const uint8_t *b = ub + i * UB_Q6K;
        const __m512 s = _mm512_mul_ps(_mm512_load_ps((const float *)b), _mm512_set1_ps(xd[i]));
        const int32_t *xi = x4 + 64 * i;
        // The unpacked spreads (and pairs, for the correction) << this row's sub-block shifts
        // (pair j and its spreads belong to sub-block j), half by half in registers.
        const uint8_t *sh = xr + k + k / 256 * 4 + k / 16 * 2 + 8 * i;
        for (int half = 0; half < 2; half++) {
            __m512i sc[8];
            for (int j = 0; j < 8; j++)
                sc[j] = _mm512_sll_epi16(_mm512_load_si512(b + 576 + 512 * half + 64 * j), _mm_cvtsi32_si128(sh[j]));
            for (int l = 4 * half; l < 4 * half + 4; l++) {
                const uint8_t *u = b + 1600 + 512 * l;
                __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
                for (int c = 0; c < 4; c++) {
                    lo = _mm512_dpwssd_epi32(lo, _mm512_maddubs_epi16(_mm512_load_si512(u + 128 * c), _mm512_set1_epi32(xi[16 * c + l])),
                                             sc[2 * c]);
                    hi = _mm512_dpwssd_epi32(hi, _mm512_maddubs_epi16(_mm512_load_si512(u + 128 * c + 64), _mm512_set1_epi32(xi[16 * c + 8 + l])),
                                             sc[2 * c + 1]);
                }
                const __m512i pr = _mm512_sll_epi16(_mm512_load_si512(b + 64 + 64 * l), _mm_cvtsi32_si128(sh[l]));
                const __m512i corr = _mm512_slli_epi32(_mm512_madd_epi16(pr, _mm512_set1_epi32(bsums[8 * i + l])), 5);
                lo = _mm512_sub_epi32(lo, corr);
                acc[l] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(lo), acc[l]);
                acc[l + 8] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(hi), acc[l + 8]);
            }
        }
    }
    _mm512_storeu_ps(y, tree16v(acc));
}

// nb activation rows against ng groups, each group unpacked once into a stack buffer (in a
// function of its own, so that the one-row path's frame stays small).
__attribute__((noinline)) TGT static void groups_unpacked(const int type, const uint8_t *g, int64_t gbytes, int64_t ng,
                                                          int64_t nblk, const uint8_t *xq, int64_t rb, int64_t nb, int64_t k,
                                                          float *y, int64_t ys) {
    _Alignas(64) uint8_t ub[UNPACKED_MAX];
    for (int64_t n = 0; n < ng; n++, g += gbytes, y += 16) {
        if (type == PS_TYPE_Q5_0) {
            unpack_q5_0(g, nblk, ub);
            int64_t b = 0;
            for (; b + 2 <= nb; b += 2) urow2_q5_0(ub, nblk, xq + b * rb, xq + (b + 1) * rb, k, y + b * ys, y + (b + 1) * ys);
            if (b < nb) urow_q5_0(ub, nblk, xq + b * rb, k, y + b * ys);
        } else if (type == PS_TYPE_Q4_K) {
            unpack_q4_k(g, nblk, ub);
            for (int64_t b = 0; b < nb; b++) urow_q4_k(ub, nblk, xq + b * rb, k, y + b * ys);
        } else {
            unpack_q6_k(g, nblk, ub);
            for (int64_t b = 0; b < nb; b++) urow_q6_k(ub, nblk, xq + b * rb, k, y + b * ys);
        }
    }
}

void ps__matmul_q8_packed_avx512(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                                 float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t nblk = k / ps_type_block_elems(type), gbytes = ps_packed_bytes(type, 16, k);   // one group of 16 rows
    const int64_t rb = ps_act_row_bytes(type, k);
    const uint8_t *g = (const uint8_t *)packed + (size_t)(r0 / 16) * (size_t)gbytes;
    const int64_t ng = (r1 - r0) / 16;
    const int64_t ubytes = nblk * unpacked_block_bytes(type);
    if (nb > 1 && ubytes > 0 && ubytes <= UNPACKED_MAX) {
        // Activation rows BATCH_ROWS at a time, so they stay in L2 while every group passes over
        // them (a group is then unpacked once per block: about one row's work in 64).
        for (int64_t b0 = 0; b0 < nb; b0 += BATCH_ROWS) {
            const int64_t n = nb - b0 < BATCH_ROWS ? nb - b0 : BATCH_ROWS;
            groups_unpacked(type, g, gbytes, ng, nblk, (const uint8_t *)xq + b0 * rb, rb, n, k, y + r0 + b0 * y_stride, y_stride);
        }
        return;
    }
    if (type == PS_TYPE_Q6_K) groups_q6_k(g, gbytes, ng, nblk, (const uint8_t *)xq, rb, nb, k, y + r0, y_stride);
    else if (type == PS_TYPE_Q4_K) groups_q4_k(g, gbytes, ng, nblk, (const uint8_t *)xq, rb, nb, k, y + r0, y_stride);
    else if (type == PS_TYPE_Q8_0) groups_q8_0(g, gbytes, ng, nblk, (const uint8_t *)xq, rb, nb, k, y + r0, y_stride);
    else groups_q5_0(g, gbytes, ng, nblk, (const uint8_t *)xq, rb, nb, k, y + r0, y_stride);
}

#endif
