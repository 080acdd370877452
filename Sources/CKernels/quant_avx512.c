// quant_avx512.c — AVX-512 (f, bw, vl) dequantization and matmul, compiled with a target
// attribute (no -march) and chosen at run time. 4- and 5-bit weights are dequantized through
// 16-entry lookup tables (vpermps): the table holds the block's 16 (or 32) possible weight
// values, computed with exactly ggml's operations, so the weights are bitwise ggml's.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(off)

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

INL float h2f(const uint8_t *p) { return _cvtsh_ss(ps__rd16(p)); }

// 0, 1, ..., 15 as floats.
INL __m512 iota16(void) {
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
INL __m512i bytes16(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }

// ---- dequantize one block into 16-float vectors -----------------------------------------------

INL void blk_q4_0(const uint8_t *b, __m512 out[2]) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    const __m512 t = _mm512_mul_ps(_mm512_sub_ps(iota16(), _mm512_set1_ps(8.0f)), d);
    const __m512i q = bytes16(b + 2);
    out[0] = _mm512_permutexvar_ps(q, t);
    out[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), t);
}

INL void blk_q5_0(const uint8_t *b, __m512 out[2]) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    const __m512 tl = _mm512_mul_ps(_mm512_sub_ps(iota16(), _mm512_set1_ps(16.0f)), d);
    const __m512 th = _mm512_mul_ps(iota16(), d);
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    const __m512i q = bytes16(b + 6);
    const __m512i qs = _mm512_srli_epi32(q, 4);
    out[0] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(q, tl), (__mmask16)qh, q, th);
    out[1] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(qs, tl), (__mmask16)(qh >> 16), qs, th);
}

INL void blk_q8_0(const uint8_t *b, __m512 out[2]) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    const __m128i *q = (const __m128i *)(b + 2);
    out[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))), d);
    out[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))), d);
}

// One 64-element chunk c (0..3) of a Q4_K block.
INL void blk_q4_k_chunk(const uint8_t *b, float d, float dmin, int c, __m512 out[4]) {
    uint8_t sc, m;
    ps__scale_min_k4(2 * c, b + 4, &sc, &m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    ps__scale_min_k4(2 * c + 1, b + 4, &sc, &m);
    const float d2 = d * (float)sc, m2 = dmin * (float)m;
    const __m512 t1 = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d1)), _mm512_set1_ps(m1));
    const __m512 t2 = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d2)), _mm512_set1_ps(m2));
    const uint8_t *q = b + 16 + 32 * c;
    const __m512i q0 = bytes16(q), q1 = bytes16(q + 16);
    out[0] = _mm512_permutexvar_ps(q0, t1);
    out[1] = _mm512_permutexvar_ps(q1, t1);
    out[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), t2);
    out[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), t2);
}

INL void blk_q5_k_chunk(const uint8_t *b, float d, float dmin, int c, __m512 out[4]) {
    uint8_t sc, m;
    ps__scale_min_k4(2 * c, b + 4, &sc, &m);
    const float d1 = d * (float)sc, m1 = dmin * (float)m;
    ps__scale_min_k4(2 * c + 1, b + 4, &sc, &m);
    const float d2 = d * (float)sc, m2 = dmin * (float)m;
    const __m512 i16 = _mm512_add_ps(iota16(), _mm512_set1_ps(16.0f));
    const __m512 t1l = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d1)), _mm512_set1_ps(m1));
    const __m512 t1h = _mm512_sub_ps(_mm512_mul_ps(i16, _mm512_set1_ps(d1)), _mm512_set1_ps(m1));
    const __m512 t2l = _mm512_sub_ps(_mm512_mul_ps(iota16(), _mm512_set1_ps(d2)), _mm512_set1_ps(m2));
    const __m512 t2h = _mm512_sub_ps(_mm512_mul_ps(i16, _mm512_set1_ps(d2)), _mm512_set1_ps(m2));
    const uint8_t *qh = b + 16;
    const uint8_t *q = b + 48 + 32 * c;
    const __m128i h0 = _mm_loadu_si128((const __m128i *)qh);
    const __m128i h1 = _mm_loadu_si128((const __m128i *)(qh + 16));
    const __m128i u1 = _mm_set1_epi8((char)(1u << (2 * c))), u2 = _mm_set1_epi8((char)(2u << (2 * c)));
    const __m512i q0 = bytes16(q), q1 = bytes16(q + 16);
    const __m512i q0s = _mm512_srli_epi32(q0, 4), q1s = _mm512_srli_epi32(q1, 4);
    out[0] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(q0, t1l), _mm_test_epi8_mask(h0, u1), q0, t1h);
    out[1] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(q1, t1l), _mm_test_epi8_mask(h1, u1), q1, t1h);
    out[2] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(q0s, t2l), _mm_test_epi8_mask(h0, u2), q0s, t2h);
    out[3] = _mm512_mask_permutexvar_ps(_mm512_permutexvar_ps(q1s, t2l), _mm_test_epi8_mask(h1, u2), q1s, t2h);
}

INL __m512 i8x16_scaled(__m128i v, float s) {
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), _mm512_set1_ps(s));
}

// One 128-element half h (0..1) of a Q6_K block: out[0..7] are elements 128h + 16i.
INL void blk_q6_k_half(const uint8_t *b, float d, int h, __m512 out[8]) {
    const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
    const int8_t *sc = (const int8_t *)(b + 192) + 8 * h;
    const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
    const __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), m32 = _mm256_set1_epi8(32);
    __m256i q[4];
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
    for (int i = 0; i < 4; i++) {
        const __m256i v = _mm256_sub_epi8(q[i], m32);
        out[2 * i] = i8x16_scaled(_mm256_castsi256_si128(v), d * (float)sc[2 * i]);
        out[2 * i + 1] = i8x16_scaled(_mm256_extracti128_si256(v, 1), d * (float)sc[2 * i + 1]);
    }
}

// ---- block-run dequantizers (ps_dequantize_row and the matmul's buffer) -----------------------

TGT static void dq_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

TGT static void dq_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 2 * i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(ps__rd16(p + 2 * i));
}

TGT static void dq_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
    }
    for (; i < n; i++) dst[i] = ps_bf16_to_f32(ps__rd16(p + 2 * i));
}

#define DQ32(NAME, BLK, BYTES)                                                    \
    TGT static void NAME(const void *src, float *dst, int64_t nblocks) {          \
        const uint8_t *b = src;                                                   \
        for (int64_t i = 0; i < nblocks; i++, b += BYTES, dst += 32) {            \
            __m512 v[2];                                                          \
            BLK(b, v);                                                            \
            _mm512_storeu_ps(dst, v[0]);                                          \
            _mm512_storeu_ps(dst + 16, v[1]);                                     \
        }                                                                         \
    }
DQ32(dq_q4_0, blk_q4_0, 18)
DQ32(dq_q5_0, blk_q5_0, 22)
DQ32(dq_q8_0, blk_q8_0, 34)

TGT static void dq_q4_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        for (int c = 0; c < 4; c++, dst += 64) {
            __m512 v[4];
            blk_q4_k_chunk(b, d, dmin, c, v);
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

TGT static void dq_q5_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        for (int c = 0; c < 4; c++, dst += 64) {
            __m512 v[4];
            blk_q5_k_chunk(b, d, dmin, c, v);
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

TGT static void dq_q6_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 210) {
        const float d = h2f(b + 208);
        for (int h = 0; h < 2; h++, dst += 128) {
            __m512 v[8];
            blk_q6_k_half(b, d, h, v);
            for (int j = 0; j < 8; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

ps_dequant_blocks_fn ps__dequant_avx512(int type) {
    switch (type) {
    case PS_TYPE_F32: return dq_f32;
    case PS_TYPE_F16: return dq_f16;
    case PS_TYPE_BF16: return dq_bf16;
    case PS_TYPE_Q4_0: return dq_q4_0;
    case PS_TYPE_Q5_0: return dq_q5_0;
    case PS_TYPE_Q8_0: return dq_q8_0;
    case PS_TYPE_Q4_K: return dq_q4_k;
    case PS_TYPE_Q5_K: return dq_q5_k;
    case PS_TYPE_Q6_K: return dq_q6_k;
    default: return 0;
    }
}

// ---- matmul -----------------------------------------------------------------------------------
// Reduction order (fixed per (row, activation) pair, independent of batch and row range): the
// k elements form 16-float vectors j = 0, 1, ...; vector j is fused-multiply-added into
// accumulator j % 2; at the end y = reduce_add(acc0 + acc1). A partial last vector (float types
// only) is masked. Rows are dequantized KC elements at a time into a stack buffer, once for up
// to NBS activation rows, and consumed NR rows x BT activation rows at a time.

enum { KC = 2048, NBS = 64, NR = 2, BT = 4 };

INL void tile(const int nr, const int nbt, const float *const wr[NR], const float *x, int64_t xs,
              int64_t kc, float *accp, int first, int last, float *y, int64_t ys) {
    __m512 a0[BT][NR], a1[BT][NR];
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) {
            if (first) {
                a0[b][r] = _mm512_setzero_ps();
                a1[b][r] = _mm512_setzero_ps();
            } else {
                a0[b][r] = _mm512_loadu_ps(accp + (b * NR + r) * 32);
                a1[b][r] = _mm512_loadu_ps(accp + (b * NR + r) * 32 + 16);
            }
        }
    const int64_t nv = kc / 16;
    int64_t j = 0;
    for (; j + 2 <= nv; j += 2) {
        __m512 w0[NR], w1[NR];
        for (int r = 0; r < nr; r++) {
            w0[r] = _mm512_loadu_ps(wr[r] + 16 * j);
            w1[r] = _mm512_loadu_ps(wr[r] + 16 * j + 16);
        }
        for (int b = 0; b < nbt; b++) {
            const __m512 x0 = _mm512_loadu_ps(x + b * xs + 16 * j);
            const __m512 x1 = _mm512_loadu_ps(x + b * xs + 16 * j + 16);
            for (int r = 0; r < nr; r++) {
                a0[b][r] = _mm512_fmadd_ps(w0[r], x0, a0[b][r]);
                a1[b][r] = _mm512_fmadd_ps(w1[r], x1, a1[b][r]);
            }
        }
    }
    const int rem = (int)(kc & 15);
    if (j < nv || rem) {
        // j is even here: vector j goes to a0; a following partial vector j+1 to a1.
        const __mmask16 m = (__mmask16)((1u << rem) - 1);
        for (int b = 0; b < nbt; b++)
            for (int r = 0; r < nr; r++) {
                if (j < nv) {
                    const __m512 x0 = _mm512_loadu_ps(x + b * xs + 16 * j);
                    a0[b][r] = _mm512_fmadd_ps(_mm512_loadu_ps(wr[r] + 16 * j), x0, a0[b][r]);
                    if (rem) {
                        const __m512 x1 = _mm512_maskz_loadu_ps(m, x + b * xs + 16 * j + 16);
                        const __m512 w1 = _mm512_maskz_loadu_ps(m, wr[r] + 16 * j + 16);
                        a1[b][r] = _mm512_fmadd_ps(w1, x1, a1[b][r]);
                    }
                } else {
                    const __m512 x0 = _mm512_maskz_loadu_ps(m, x + b * xs + 16 * j);
                    const __m512 w0 = _mm512_maskz_loadu_ps(m, wr[r] + 16 * j);
                    a0[b][r] = _mm512_fmadd_ps(w0, x0, a0[b][r]);
                }
            }
    }
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) {
            if (last) {
                y[b * ys + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[b][r], a1[b][r]));
            } else {
                _mm512_storeu_ps(accp + (b * NR + r) * 32, a0[b][r]);
                _mm512_storeu_ps(accp + (b * NR + r) * 32 + 16, a1[b][r]);
            }
        }
}

TGT static void tile_any(int nr, int nbt, const float *const wr[NR], const float *x, int64_t xs,
                         int64_t kc, float *accp, int first, int last, float *y, int64_t ys) {
#define T(R, B) \
    case (R) * 8 + (B): tile(R, B, wr, x, xs, kc, accp, first, last, y, ys); return;
    switch (nr * 8 + nbt) {
        T(1, 1) T(1, 2) T(1, 3) T(1, 4) T(2, 1) T(2, 2) T(2, 3) T(2, 4)
    default: return;
    }
#undef T
}

TGT void ps__matmul_avx512(int type, const void *w, size_t w_row_bytes, int64_t k,
                           const float *x, int64_t x_stride, int64_t nb,
                           float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type);
    ps_dequant_blocks_fn dq = ps__dequant_avx512(type);
    float wbuf[NR][KC] __attribute__((aligned(64)));
    float accbuf[NBS * NR * 32] __attribute__((aligned(64)));
    for (int64_t r = r0; r < r1; r += NR) {
        const int nr = r1 - r < NR ? (int)(r1 - r) : NR;
        for (int64_t bs = 0; bs < nb; bs += NBS) {
            const int64_t nbs = nb - bs < NBS ? nb - bs : NBS;
            for (int64_t c0 = 0; c0 < k; c0 += KC) {
                const int64_t kc = k - c0 < KC ? k - c0 : KC;
                const float *wr[NR] = {0};
                for (int i = 0; i < nr; i++) {
                    const uint8_t *row = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
                    if (type == PS_TYPE_F32) {
                        wr[i] = (const float *)row + c0;
                    } else {
                        dq(row + c0 / be * bb, wbuf[i], kc / be);
                        wr[i] = wbuf[i];
                    }
                }
                const int first = c0 == 0, last = c0 + kc == k;
                for (int64_t b = 0; b < nbs; b += BT) {
                    const int nbt = nbs - b < BT ? (int)(nbs - b) : BT;
                    tile_any(nr, nbt, wr, x + (bs + b) * x_stride + c0, x_stride, kc,
                             accbuf + b * NR * 32, first, last, y + (bs + b) * y_stride + r, y_stride);
                }
            }
        }
    }
}

#endif
