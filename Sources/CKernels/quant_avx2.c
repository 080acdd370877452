// quant_avx2.c — AVX2 + FMA + F16C dequantization and matmul, compiled with a target attribute
// (no -march) and chosen at run time on CPUs without AVX-512. Weights are dequantized with
// exactly ggml's operations (integer -> float, multiply, subtract; no fused multiply-add), so
// they are bitwise ggml's.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(off)

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

INL float h2f(const uint8_t *p) { return _cvtsh_ss(ps__rd16(p)); }
INL __m256i u8x8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
INL __m256i i8x8(const void *p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)); }
INL __m256 cvt(__m256i v) { return _mm256_cvtepi32_ps(v); }

TGT static void dq_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

TGT static void dq_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
    for (; i < n; i++) dst[i] = _cvtsh_ss(ps__rd16(p + 2 * i));
}

TGT static void dq_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p + 2 * i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
    }
    for (; i < n; i++) dst[i] = ps_bf16_to_f32(ps__rd16(p + 2 * i));
}

TGT static void dq_q4_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi32(0xF), e8 = _mm256_set1_epi32(8);
    for (int64_t i = 0; i < nblocks; i++, b += 18, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        for (int h = 0; h < 2; h++) {
            const __m256i q = u8x8(b + 2 + 8 * h);
            const __m256i lo = _mm256_sub_epi32(_mm256_and_si256(q, m4), e8);
            const __m256i hi = _mm256_sub_epi32(_mm256_srli_epi32(q, 4), e8);
            _mm256_storeu_ps(dst + 8 * h, _mm256_mul_ps(cvt(lo), d));
            _mm256_storeu_ps(dst + 16 + 8 * h, _mm256_mul_ps(cvt(hi), d));
        }
    }
}

TGT static void dq_q5_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi32(0xF), one = _mm256_set1_epi32(1), e16 = _mm256_set1_epi32(16);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t i = 0; i < nblocks; i++, b += 22, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        uint32_t qh;
        memcpy(&qh, b + 2, 4);
        const __m256i vh = _mm256_set1_epi32((int)qh);
        for (int h = 0; h < 2; h++) {
            const __m256i q = u8x8(b + 6 + 8 * h);
            const __m256i sl = _mm256_add_epi32(lane, _mm256_set1_epi32(8 * h));
            const __m256i bl = _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(vh, sl), one), 4);
            const __m256i bh = _mm256_slli_epi32(
                _mm256_and_si256(_mm256_srlv_epi32(vh, _mm256_add_epi32(sl, e16)), one), 4);
            const __m256i lo = _mm256_sub_epi32(_mm256_or_si256(_mm256_and_si256(q, m4), bl), e16);
            const __m256i hi = _mm256_sub_epi32(_mm256_or_si256(_mm256_srli_epi32(q, 4), bh), e16);
            _mm256_storeu_ps(dst + 8 * h, _mm256_mul_ps(cvt(lo), d));
            _mm256_storeu_ps(dst + 16 + 8 * h, _mm256_mul_ps(cvt(hi), d));
        }
    }
}

TGT static void dq_q8_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 34, dst += 32) {
        const __m256 d = _mm256_set1_ps(h2f(b));
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(dst + 8 * j, _mm256_mul_ps(cvt(i8x8(b + 2 + 8 * j)), d));
    }
}

// Q4_K and Q5_K: w = d1 * q - m1 per 32-element sub-block; hb selects Q5_K's fifth bit.
INL void dq_k_sub(const uint8_t *q, const uint8_t *qh, int shift, int hbit, float dd, float mm,
                  float *dst) {
    const __m256 d1 = _mm256_set1_ps(dd), m1 = _mm256_set1_ps(mm);
    const __m256i m4 = _mm256_set1_epi32(0xF), one = _mm256_set1_epi32(1);
    const __m128i sh = _mm_cvtsi32_si128(shift), hs = _mm_cvtsi32_si128(hbit);
    for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_and_si256(_mm256_srl_epi32(u8x8(q + 8 * j), sh), m4);
        if (qh) v = _mm256_or_si256(v, _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(u8x8(qh + 8 * j), hs), one), 4));
        _mm256_storeu_ps(dst + 8 * j, _mm256_sub_ps(_mm256_mul_ps(d1, cvt(v)), m1));
    }
}

TGT static void dq_q4_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 144) {
        const float d = h2f(b), dmin = h2f(b + 2);
        for (int c = 0; c < 4; c++, dst += 64) {
            uint8_t sc, m;
            ps__scale_min_k4(2 * c, b + 4, &sc, &m);
            dq_k_sub(b + 16 + 32 * c, 0, 0, 0, d * (float)sc, dmin * (float)m, dst);
            ps__scale_min_k4(2 * c + 1, b + 4, &sc, &m);
            dq_k_sub(b + 16 + 32 * c, 0, 4, 0, d * (float)sc, dmin * (float)m, dst + 32);
        }
    }
}

TGT static void dq_q5_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 176) {
        const float d = h2f(b), dmin = h2f(b + 2);
        for (int c = 0; c < 4; c++, dst += 64) {
            uint8_t sc, m;
            ps__scale_min_k4(2 * c, b + 4, &sc, &m);
            dq_k_sub(b + 48 + 32 * c, b + 16, 0, 2 * c, d * (float)sc, dmin * (float)m, dst);
            ps__scale_min_k4(2 * c + 1, b + 4, &sc, &m);
            dq_k_sub(b + 48 + 32 * c, b + 16, 4, 2 * c + 1, d * (float)sc, dmin * (float)m, dst + 32);
        }
    }
}

TGT static void dq_q6_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), m32 = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < nblocks; i++, b += 210) {
        const float d = h2f(b + 208);
        for (int h = 0; h < 2; h++, dst += 128) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            const int8_t *sc = (const int8_t *)(b + 192) + 8 * h;
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
            int8_t tmp[32] __attribute__((aligned(32)));
            for (int s = 0; s < 4; s++) {
                _mm256_store_si256((__m256i *)tmp, _mm256_sub_epi8(q[s], m32));
                for (int g = 0; g < 4; g++) {
                    const __m256 ds = _mm256_set1_ps(d * (float)sc[2 * s + g / 2]);
                    _mm256_storeu_ps(dst + 32 * s + 8 * g, _mm256_mul_ps(cvt(i8x8(tmp + 8 * g)), ds));
                }
            }
        }
    }
}

ps_dequant_blocks_fn ps__dequant_avx2(int type) {
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
// Reduction order per (row, activation) pair: 8-float vector j of the k elements is
// fused-multiply-added into accumulator j % 2; y = horizontal sum of (acc0 + acc1) in a fixed
// tree. A partial last vector (float types only) is masked. Same chunking as the AVX-512 path.

enum { KC = 2048, NBS = 64, NR = 2, BT = 2 };

INL float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INL __m256i tail_mask(int rem) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), lane);
}

INL void tile(const int nr, const int nbt, const float *const wr[NR], const float *x, int64_t xs,
              int64_t kc, float *accp, int first, int last, float *y, int64_t ys) {
    __m256 a0[BT][NR], a1[BT][NR];
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) {
            if (first) {
                a0[b][r] = _mm256_setzero_ps();
                a1[b][r] = _mm256_setzero_ps();
            } else {
                a0[b][r] = _mm256_loadu_ps(accp + (b * NR + r) * 16);
                a1[b][r] = _mm256_loadu_ps(accp + (b * NR + r) * 16 + 8);
            }
        }
    const int64_t nv = kc / 8;
    int64_t j = 0;
    for (; j + 2 <= nv; j += 2) {
        __m256 w0[NR], w1[NR];
        for (int r = 0; r < nr; r++) {
            w0[r] = _mm256_loadu_ps(wr[r] + 8 * j);
            w1[r] = _mm256_loadu_ps(wr[r] + 8 * j + 8);
        }
        for (int b = 0; b < nbt; b++) {
            const __m256 x0 = _mm256_loadu_ps(x + b * xs + 8 * j);
            const __m256 x1 = _mm256_loadu_ps(x + b * xs + 8 * j + 8);
            for (int r = 0; r < nr; r++) {
                a0[b][r] = _mm256_fmadd_ps(w0[r], x0, a0[b][r]);
                a1[b][r] = _mm256_fmadd_ps(w1[r], x1, a1[b][r]);
            }
        }
    }
    const int rem = (int)(kc & 7);
    if (j < nv || rem) {
        const __m256i m = tail_mask(rem);
        for (int b = 0; b < nbt; b++)
            for (int r = 0; r < nr; r++) {
                if (j < nv) {
                    const __m256 x0 = _mm256_loadu_ps(x + b * xs + 8 * j);
                    a0[b][r] = _mm256_fmadd_ps(_mm256_loadu_ps(wr[r] + 8 * j), x0, a0[b][r]);
                    if (rem) {
                        const __m256 x1 = _mm256_maskload_ps(x + b * xs + 8 * j + 8, m);
                        const __m256 w1 = _mm256_maskload_ps(wr[r] + 8 * j + 8, m);
                        a1[b][r] = _mm256_fmadd_ps(w1, x1, a1[b][r]);
                    }
                } else {
                    const __m256 x0 = _mm256_maskload_ps(x + b * xs + 8 * j, m);
                    const __m256 w0 = _mm256_maskload_ps(wr[r] + 8 * j, m);
                    a0[b][r] = _mm256_fmadd_ps(w0, x0, a0[b][r]);
                }
            }
    }
    for (int b = 0; b < nbt; b++)
        for (int r = 0; r < nr; r++) {
            if (last) {
                y[b * ys + r] = hsum8(_mm256_add_ps(a0[b][r], a1[b][r]));
            } else {
                _mm256_storeu_ps(accp + (b * NR + r) * 16, a0[b][r]);
                _mm256_storeu_ps(accp + (b * NR + r) * 16 + 8, a1[b][r]);
            }
        }
}

TGT static void tile_any(int nr, int nbt, const float *const wr[NR], const float *x, int64_t xs,
                         int64_t kc, float *accp, int first, int last, float *y, int64_t ys) {
#define T(R, B) \
    case (R) * 8 + (B): tile(R, B, wr, x, xs, kc, accp, first, last, y, ys); return;
    switch (nr * 8 + nbt) {
        T(1, 1) T(1, 2) T(2, 1) T(2, 2)
    default: return;
    }
#undef T
}

TGT void ps__matmul_avx2(int type, const void *w, size_t w_row_bytes, int64_t k,
                         const float *x, int64_t x_stride, int64_t nb,
                         float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type);
    ps_dequant_blocks_fn dq = ps__dequant_avx2(type);
    float wbuf[NR][KC] __attribute__((aligned(32)));
    float accbuf[NBS * NR * 16] __attribute__((aligned(32)));
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
                             accbuf + b * NR * 16, first, last, y + (bs + b) * y_stride + r, y_stride);
                }
            }
        }
    }
}

#endif
