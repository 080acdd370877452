// quant_avx512.c — AVX-512 (f, bw, vl) dequantization and matmul, compiled with a target
// attribute (no -march) and chosen at run time. Every weight is computed with exactly ggml's
// operations (no fused multiply-add), so dequantized values are bitwise ggml's (the Q8_0 matmul
// applies the block scale once per block instead, see the matmul section). 4-bit weights
// (Q4_0, Q4_K) go through a 16-entry table of the sub-block's possible values and one vpermps
// per 16 weights; 5-, 6- and 8-bit weights are converted from integers, which measured faster on
// Zen 4 than two masked lookups.
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

// Q5_0: w = (q - 16) * d with the 5-bit q assembled in integers and converted (two masked
// vpermps lookups per vector are slower on Zen 4). For a nibble n and fifth bit h,
// q - 16 = h ? n : n - 16 = n | (h ? 0 : ~15): one masked OR.
INL void blk_q5_0(const uint8_t *b, __m512 out[2]) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    qh = ~qh;
    const __m512i q = bytes16(b + 6), m4 = _mm512_set1_epi32(15), neg = _mm512_set1_epi32(-16);
    __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_srli_epi32(q, 4);
    lo = _mm512_mask_or_epi32(lo, (__mmask16)qh, lo, neg);
    hi = _mm512_mask_or_epi32(hi, (__mmask16)(qh >> 16), hi, neg);
    out[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d);
    out[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d);
}

INL void blk_q8_0(const uint8_t *b, __m512 out[2]) {
    const __m512 d = _mm512_set1_ps(h2f(b));
    const __m128i *q = (const __m128i *)(b + 2);
    out[0] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))), d);
    out[1] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))), d);
}

// Q8_0 quants as floats, unscaled (the matmul applies d once per block).
INL void blk_q8_0_raw(const uint8_t *b, __m512 out[2]) {
    const __m128i *q = (const __m128i *)(b + 2);
    out[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)));
    out[1] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)));
}

// The eight 6-bit scales and mins of a Q4_K/Q5_K block (ggml's get_scale_min_k4 for j = 0..7),
// returned as floats: lanes 0-7 hold d * scale_j, lanes 8-15 dmin * min_j.
INL __m512 k4_scales_v(const uint8_t *b) {
    uint32_t u[4];
    ps__scales_mins_k4(b, u);
    const __m512 q = _mm512_cvtepi32_ps(bytes16((const uint8_t *)u));
    const __m512 dd = _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(h2f(b)), _mm512_set1_ps(h2f(b + 2)));
    return _mm512_mul_ps(dd, q);
}

typedef struct { float v[16]; } ps_scales16;
INL ps_scales16 k4_scales(const uint8_t *b) {
    ps_scales16 r;
    _mm512_storeu_ps(r.v, k4_scales_v(b));
    return r;
}

// The 16-entry table (j * d1 - m1, j = 0..15) of sub-block `sub` of a Q4_K block: one vpermps
// then dequantizes 16 nibbles exactly as ggml does.
INL __m512 k4_table(const ps_scales16 *dm, int sub) {
    return _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dm->v[sub]), iota16()), _mm512_set1_ps(dm->v[sub + 8]));
}

// One 64-element chunk c (0..3) of a Q4_K block; dm from k4_scales.
INL void blk_q4_k_chunk(const uint8_t *b, const ps_scales16 *dm, int c, __m512 out[4]) {
    const __m512 t1 = k4_table(dm, 2 * c), t2 = k4_table(dm, 2 * c + 1);
    const uint8_t *q = b + 16 + 32 * c;
    const __m512i q0 = bytes16(q), q1 = bytes16(q + 16);
    out[0] = _mm512_permutexvar_ps(q0, t1);
    out[1] = _mm512_permutexvar_ps(q1, t1);
    out[2] = _mm512_permutexvar_ps(_mm512_srli_epi32(q0, 4), t2);
    out[3] = _mm512_permutexvar_ps(_mm512_srli_epi32(q1, 4), t2);
}

// Q5_K: w = d1 * q - m1 with the 5-bit q converted to float (two masked lookups per vector
// would cost more than the conversion on Zen 4).
INL void blk_q5_k_chunk(const uint8_t *b, const ps_scales16 *dm, int c, __m512 out[4]) {
    const __m512 d1 = _mm512_set1_ps(dm->v[2 * c]), m1 = _mm512_set1_ps(dm->v[2 * c + 8]);
    const __m512 d2 = _mm512_set1_ps(dm->v[2 * c + 1]), m2 = _mm512_set1_ps(dm->v[2 * c + 9]);
    const uint8_t *qh = b + 16;
    const uint8_t *q = b + 48 + 32 * c;
    const __m128i h0 = _mm_loadu_si128((const __m128i *)qh);
    const __m128i h1 = _mm_loadu_si128((const __m128i *)(qh + 16));
    const __m128i u1 = _mm_set1_epi8((char)(1u << (2 * c))), u2 = _mm_set1_epi8((char)(2u << (2 * c)));
    const __m512i q0 = bytes16(q), q1 = bytes16(q + 16), m4 = _mm512_set1_epi32(15), s16 = _mm512_set1_epi32(16);
    __m512i v[4];
    v[0] = _mm512_and_si512(q0, m4);
    v[1] = _mm512_and_si512(q1, m4);
    v[2] = _mm512_srli_epi32(q0, 4);
    v[3] = _mm512_srli_epi32(q1, 4);
    v[0] = _mm512_mask_or_epi32(v[0], _mm_test_epi8_mask(h0, u1), v[0], s16);
    v[1] = _mm512_mask_or_epi32(v[1], _mm_test_epi8_mask(h1, u1), v[1], s16);
    v[2] = _mm512_mask_or_epi32(v[2], _mm_test_epi8_mask(h0, u2), v[2], s16);
    v[3] = _mm512_mask_or_epi32(v[3], _mm_test_epi8_mask(h1, u2), v[3], s16);
    out[0] = _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(v[0])), m1);
    out[1] = _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(v[1])), m1);
    out[2] = _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(v[2])), m2);
    out[3] = _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(v[3])), m2);
}

// d * scale_i for the 16 int8 scales of a Q6_K block.
INL ps_scales16 q6_scales(const uint8_t *b) {
    const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b + 192))));
    ps_scales16 r;
    _mm512_storeu_ps(r.v, _mm512_mul_ps(_mm512_set1_ps(h2f(b + 208)), sc));
    return r;
}

INL __m512 i8x16_scaled(__m128i v, const ps_scales16 *ds, int i) {
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)), _mm512_set1_ps(ds->v[i]));
}

// One 128-element half h (0..1) of a Q6_K block: out[0..7] are elements 128h + 16i; ds from
// q6_scales.
INL void blk_q6_k_half(const uint8_t *b, const ps_scales16 *ds, int h, __m512 out[8]) {
    const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
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
        out[2 * i] = i8x16_scaled(_mm256_castsi256_si128(v), ds, 8 * h + 2 * i);
        out[2 * i + 1] = i8x16_scaled(_mm256_extracti128_si256(v, 1), ds, 8 * h + 2 * i + 1);
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
        const ps_scales16 dm = k4_scales(b);
        for (int c = 0; c < 4; c++, dst += 64) {
            __m512 v[4];
            blk_q4_k_chunk(b, &dm, c, v);
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

TGT static void dq_q5_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 176) {
        const ps_scales16 dm = k4_scales(b);
        for (int c = 0; c < 4; c++, dst += 64) {
            __m512 v[4];
            blk_q5_k_chunk(b, &dm, c, v);
            for (int j = 0; j < 4; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

TGT static void dq_q6_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 210) {
        const ps_scales16 ds = q6_scales(b);
        for (int h = 0; h < 2; h++, dst += 128) {
            __m512 v[8];
            blk_q6_k_half(b, &ds, h, v);
            for (int j = 0; j < 8; j++) _mm512_storeu_ps(dst + 16 * j, v[j]);
        }
    }
}

// Q8_0 for the matmul: unscaled quants into q, block scales into d.
TGT static void dq_q8_0_split(const uint8_t *b, float *q, float *d, int64_t nblocks) {
    for (int64_t i = 0; i < nblocks; i++, b += 34, q += 32) {
        __m512 v[2];
        blk_q8_0_raw(b, v);
        _mm512_storeu_ps(q, v[0]);
        _mm512_storeu_ps(q + 16, v[1]);
        d[i] = h2f(b);
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
// Q8_0 is the exception (it is mostly the output head, read once per decoded token): per
// 32-element block i, t = q[0:16]*x[0:16]; t = fma(q[16:32], x[16:32], t); acc[i % 2] =
// fma(t, d_i, acc[i % 2]) -- one multiply per block instead of one per weight.

enum { KC = 2048, NBS = 64, NR = 2, BT = 6, FBT = 4 };

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

INL void tile_q8(const int nr, const int nbt, const float *const wr[NR], const float *const dr[NR],
                 const float *x, int64_t xs, int64_t kc, float *accp, int first, int last, float *y,
                 int64_t ys) {
    __m512 a[2][BT][NR];
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++)
            for (int p = 0; p < 2; p++)
                a[p][b][r] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(accp + (b * NR + r) * 32 + 16 * p);
    for (int64_t i = 0; i < kc / 32; i++) {
        const int p = (int)(i & 1);
        __m512 q0[NR], q1[NR], d[NR];
        for (int r = 0; r < nr; r++) {
            q0[r] = _mm512_loadu_ps(wr[r] + 32 * i);
            q1[r] = _mm512_loadu_ps(wr[r] + 32 * i + 16);
            d[r] = _mm512_set1_ps(dr[r][i]);
        }
        for (int b = 0; b < nbt; b++) {
            const __m512 x0 = _mm512_loadu_ps(x + b * xs + 32 * i);
            const __m512 x1 = _mm512_loadu_ps(x + b * xs + 32 * i + 16);
            for (int r = 0; r < nr; r++) {
                const __m512 t = _mm512_fmadd_ps(q1[r], x1, _mm512_mul_ps(q0[r], x0));
                if (p) a[1][b][r] = _mm512_fmadd_ps(t, d[r], a[1][b][r]);
                else a[0][b][r] = _mm512_fmadd_ps(t, d[r], a[0][b][r]);
            }
        }
    }
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) {
            if (last) {
                y[b * ys + r] = _mm512_reduce_add_ps(_mm512_add_ps(a[0][b][r], a[1][b][r]));
            } else {
                _mm512_storeu_ps(accp + (b * NR + r) * 32, a[0][b][r]);
                _mm512_storeu_ps(accp + (b * NR + r) * 32 + 16, a[1][b][r]);
            }
        }
}

TGT static void tile_q8_any(int nr, int nbt, const float *const wr[NR], const float *const dr[NR],
                            const float *x, int64_t xs, int64_t kc, float *accp, int first, int last,
                            float *y, int64_t ys) {
#define T(R, B) \
    case (R) * 8 + (B): tile_q8(R, B, wr, dr, x, xs, kc, accp, first, last, y, ys); return;
    switch (nr * 8 + nbt) {
        T(1, 1) T(1, 2) T(1, 3) T(1, 4) T(1, 5) T(1, 6) T(2, 1) T(2, 2) T(2, 3) T(2, 4) T(2, 5) T(2, 6)
    default: return;
    }
#undef T
}

TGT static void tile_any(int nr, int nbt, const float *const wr[NR], const float *x, int64_t xs,
                         int64_t kc, float *accp, int first, int last, float *y, int64_t ys) {
#define T(R, B) \
    case (R) * 8 + (B): tile(R, B, wr, x, xs, kc, accp, first, last, y, ys); return;
    switch (nr * 8 + nbt) {
        T(1, 1) T(1, 2) T(1, 3) T(1, 4) T(1, 5) T(1, 6) T(2, 1) T(2, 2) T(2, 3) T(2, 4) T(2, 5) T(2, 6)
    default: return;
    }
#undef T
}

// ---- fused path for small batches -------------------------------------------------------------
// For nb <= FBT the weights never touch memory: each block is dequantized into registers and
// multiplied into the accumulators of all nb activation rows at once. Vector j still goes into
// accumulator j % 2 in increasing j, so results are bitwise those of the buffered path.

INL void fma_vecs(const int nr, const int nbt, const int nv, __m512 w[NR][8], const float *x, int64_t xs,
                  int64_t j0, __m512 a0[BT][NR], __m512 a1[BT][NR]) {
    for (int b = 0; b < nbt; b++)
        for (int v = 0; v < nv; v += 2) {
            const __m512 x0 = _mm512_loadu_ps(x + b * xs + 16 * (j0 + v));
            const __m512 x1 = _mm512_loadu_ps(x + b * xs + 16 * (j0 + v) + 16);
            for (int r = 0; r < nr; r++) {
                a0[b][r] = _mm512_fmadd_ps(w[r][v], x0, a0[b][r]);
                a1[b][r] = _mm512_fmadd_ps(w[r][v + 1], x1, a1[b][r]);
            }
        }
}

INL void fused(const int type, const int nr, const int nbt, const uint8_t *const rows[NR], int64_t k,
               const float *x, int64_t xs, float *y, int64_t ys, int64_t pf) {
    __m512 a0[BT][NR], a1[BT][NR];
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) a0[b][r] = a1[b][r] = _mm512_setzero_ps();
    __m512 w[NR][8];
    switch (type) {
#define SMALL(TYPE, BLK, BYTES)                                                              \
    case TYPE:                                                                               \
        for (int64_t i = 0; i < k / 32; i++) {                                               \
            for (int r = 0; r < nr; r++) {                                                   \
                _mm_prefetch((const char *)rows[r] + i * BYTES + pf, _MM_HINT_T0);      \
                BLK(rows[r] + i * BYTES, w[r]);                                              \
            }                                                                                \
            fma_vecs(nr, nbt, 2, w, x, xs, 2 * i, a0, a1);                                   \
        }                                                                                    \
        break;
    SMALL(PS_TYPE_Q4_0, blk_q4_0, 18)
    SMALL(PS_TYPE_Q5_0, blk_q5_0, 22)
#undef SMALL
    case PS_TYPE_Q8_0:
        for (int64_t i = 0; i < k / 32; i++) {
            __m512 d[NR];
            for (int r = 0; r < nr; r++) {
                const uint8_t *b = rows[r] + i * 34;
                _mm_prefetch((const char *)b + pf, _MM_HINT_T1);
                blk_q8_0_raw(b, w[r]);
                d[r] = _mm512_set1_ps(h2f(b));
            }
            for (int bb = 0; bb < nbt; bb++) {
                const __m512 x0 = _mm512_loadu_ps(x + bb * xs + 32 * i);
                const __m512 x1 = _mm512_loadu_ps(x + bb * xs + 32 * i + 16);
                for (int r = 0; r < nr; r++) {
                    const __m512 t = _mm512_fmadd_ps(w[r][1], x1, _mm512_mul_ps(w[r][0], x0));
                    if (i & 1) a1[bb][r] = _mm512_fmadd_ps(t, d[r], a1[bb][r]);
                    else a0[bb][r] = _mm512_fmadd_ps(t, d[r], a0[bb][r]);
                }
            }
        }
        break;
    case PS_TYPE_Q4_K:
    case PS_TYPE_Q5_K: {
        const int bytes = type == PS_TYPE_Q4_K ? 144 : 176;
        for (int64_t i = 0; i < k / 256; i++) {
            ps_scales16 dm[NR];
            for (int r = 0; r < nr; r++) {
                for (int l = 0; l < bytes; l += 64)
                    _mm_prefetch((const char *)rows[r] + i * bytes + l + pf, _MM_HINT_T0);
                dm[r] = k4_scales(rows[r] + i * bytes);
            }
            for (int c = 0; c < 4; c++) {
                for (int r = 0; r < nr; r++) {
                    if (type == PS_TYPE_Q4_K) blk_q4_k_chunk(rows[r] + i * bytes, &dm[r], c, w[r]);
                    else blk_q5_k_chunk(rows[r] + i * bytes, &dm[r], c, w[r]);
                }
                fma_vecs(nr, nbt, 4, w, x, xs, 16 * i + 4 * c, a0, a1);
            }
        }
        break;
    }
    case PS_TYPE_Q6_K:
        for (int64_t i = 0; i < k / 256; i++) {
            ps_scales16 ds[NR];
            for (int r = 0; r < nr; r++) {
                const uint8_t *b = rows[r] + i * 210;
                for (int l = 0; l < 210; l += 64) _mm_prefetch((const char *)b + l + pf, _MM_HINT_T0);
                ds[r] = q6_scales(b);
            }
            for (int h = 0; h < 2; h++) {
                for (int r = 0; r < nr; r++) blk_q6_k_half(rows[r] + i * 210, &ds[r], h, w[r]);
                fma_vecs(nr, nbt, 8, w, x, xs, 16 * i + 8 * h, a0, a1);
            }
        }
        break;
    default: break;
    }
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++)
            y[b * ys + r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[b][r], a1[b][r]));
}

#define FUSED_FN(NAME, TYPE)                                                                  \
    TGT static void NAME(int nr, int nbt, const uint8_t *const rows[NR], int64_t k,          \
                         const float *x, int64_t xs, float *y, int64_t ys, int64_t pf) {     \
        switch (nr * 8 + nbt) {                                                              \
        case 9: fused(TYPE, 1, 1, rows, k, x, xs, y, ys, pf); return;                            \
        case 10: fused(TYPE, 1, 2, rows, k, x, xs, y, ys, pf); return;                           \
        case 11: fused(TYPE, 1, 3, rows, k, x, xs, y, ys, pf); return;                           \
        case 12: fused(TYPE, 1, 4, rows, k, x, xs, y, ys, pf); return;                           \
        case 17: fused(TYPE, 2, 1, rows, k, x, xs, y, ys, pf); return;                           \
        case 18: fused(TYPE, 2, 2, rows, k, x, xs, y, ys, pf); return;                           \
        case 19: fused(TYPE, 2, 3, rows, k, x, xs, y, ys, pf); return;                           \
        case 20: fused(TYPE, 2, 4, rows, k, x, xs, y, ys, pf); return;                           \
        default: return;                                                                     \
        }                                                                                    \
    }
FUSED_FN(fused_q4_0, PS_TYPE_Q4_0)
FUSED_FN(fused_q5_0, PS_TYPE_Q5_0)
FUSED_FN(fused_q8_0, PS_TYPE_Q8_0)
FUSED_FN(fused_q4_k, PS_TYPE_Q4_K)
FUSED_FN(fused_q5_k, PS_TYPE_Q5_K)
FUSED_FN(fused_q6_k, PS_TYPE_Q6_K)

typedef void (*fused_fn)(int, int, const uint8_t *const[NR], int64_t, const float *, int64_t, float *, int64_t,
                         int64_t);

static fused_fn fused_for(int type) {
    switch (type) {
    case PS_TYPE_Q4_0: return fused_q4_0;
    case PS_TYPE_Q5_0: return fused_q5_0;
    case PS_TYPE_Q8_0: return fused_q8_0;
    case PS_TYPE_Q4_K: return fused_q4_k;
    case PS_TYPE_Q5_K: return fused_q5_k;
    case PS_TYPE_Q6_K: return fused_q6_k;
    default: return 0;
    }
}

TGT void ps__matmul_avx512(int type, const void *w, size_t w_row_bytes, int64_t k,
                           const float *x, int64_t x_stride, int64_t nb,
                           float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type);
    ps_dequant_blocks_fn dq = ps__dequant_avx512(type);
    float wbuf[NR][KC] __attribute__((aligned(64)));
    float dbuf[NR][KC / 32];
    float accbuf[NBS * NR * 32] __attribute__((aligned(64)));
    const fused_fn ff = nb <= FBT ? fused_for(type) : 0;
    if (ff) {
        // Software prefetch of the weights ahead of use: decode streams matrices that fit in no
        // cache. Measured best here: Q8_0 (cheap to compute, so bandwidth-bound) 8 row pairs
        // ahead into L2; the other types 2 row pairs ahead into L1.
        int64_t pf = (type == PS_TYPE_Q8_0 ? 8 : 2) * NR * (int64_t)w_row_bytes;
        if (pf < 1024) pf = 1024;
        for (int64_t r = r0; r < r1; r += NR) {
            const int nr = r1 - r < NR ? (int)(r1 - r) : NR;
            const uint8_t *rows[NR] = {0};
            for (int i = 0; i < nr; i++) rows[i] = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
            ff(nr, (int)nb, rows, k, x, x_stride, y + r, y_stride, pf);
        }
        return;
    }
    for (int64_t r = r0; r < r1; r += NR) {
        const int nr = r1 - r < NR ? (int)(r1 - r) : NR;
        for (int64_t bs = 0; bs < nb; bs += NBS) {
            const int64_t nbs = nb - bs < NBS ? nb - bs : NBS;
            for (int64_t c0 = 0; c0 < k; c0 += KC) {
                const int64_t kc = k - c0 < KC ? k - c0 : KC;
                const float *wr[NR] = {0}, *dr[NR] = {0};
                for (int i = 0; i < nr; i++) {
                    const uint8_t *row = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
                    dr[i] = dbuf[i];
                    if (type == PS_TYPE_Q8_0) {
                        dq_q8_0_split(row + c0 / 32 * 34, wbuf[i], dbuf[i], kc / 32);
                        wr[i] = wbuf[i];
                    } else if (type == PS_TYPE_F32) {
                        wr[i] = (const float *)row + c0;
                    } else {
                        dq(row + c0 / be * bb, wbuf[i], kc / be);
                        wr[i] = wbuf[i];
                    }
                }
                const int first = c0 == 0, last = c0 + kc == k;
                for (int64_t b = 0; b < nbs; b += BT) {
                    const int nbt = nbs - b < BT ? (int)(nbs - b) : BT;
                    if (type == PS_TYPE_Q8_0)
                        tile_q8_any(nr, nbt, wr, dr, x + (bs + b) * x_stride + c0, x_stride, kc,
                                    accbuf + b * NR * 32, first, last, y + (bs + b) * y_stride + r, y_stride);
                    else
                        tile_any(nr, nbt, wr, x + (bs + b) * x_stride + c0, x_stride, kc,
                                 accbuf + b * NR * 32, first, last, y + (bs + b) * y_stride + r, y_stride);
                }
            }
        }
    }
}

#endif
