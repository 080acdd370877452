// quant_q8_avx2.c — integer matmul with 8-bit activations on AVX2 (vpmaddubsw + vpmaddwd),
// compiled with a target attribute and chosen at run time. Same arithmetic as quant_q8.c (see
// ps_quant.h), so results are bitwise those of the portable and AVX-512 paths.
//
// Blocks of 32: one block per 256-bit vector; Q4_0/Q5_0 weights in unsigned form plus the
// activations' corr lanes, Q8_0 with the sign trick (|w| times q carrying w's sign), since
// vpmaddubsw would saturate on w + 128. K types: each 64-element chunk as two vectors (lanes 0-7
// and 8-15 of the reference), sub-block scales applied by vpmaddwd.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(off)

#define TGT __attribute__((target("avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

enum { NR = 4, BT = 3, NBS = 64 };

INL float h2f(const uint8_t *p) { return _cvtsh_ss(ps__rd16(p)); }

INL float tree8(__m256 v) {
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)));
}

// ---- blocks of 32 -----------------------------------------------------------------------------

// The weights of one block: unsigned (Q4_0, Q5_0) or signed (Q8_0), in element order.
INL __m256i wblk(const int type, const uint8_t *b) {
    if (type == PS_TYPE_Q8_0) return _mm256_loadu_si256((const __m256i *)(b + 2));
    const __m128i q = _mm_loadu_si128((const __m128i *)(b + (type == PS_TYPE_Q4_0 ? 2 : 6)));
    const __m256i z = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1),
                                       _mm256_set1_epi8(0x0F));
    if (type == PS_TYPE_Q4_0) return z;
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    // Byte e gets bit e of qh: spread the 4 bytes over their 8-byte groups, test one bit each.
    const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                          _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
                                                             0x0303030303030303LL));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit);
    return _mm256_or_si256(z, _mm256_and_si256(set, _mm256_set1_epi8(16)));
}

// Exact lane sums of w * q for one block.
INL __m256i dot_blk(const int type, __m256i w, __m256i aw, __m256i x, const uint8_t *corr) {
    const __m256i ones = _mm256_set1_epi16(1);
    if (type == PS_TYPE_Q8_0) return _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), ones);
    return _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(w, x), ones),
                            _mm256_loadu_si256((const __m256i *)corr));
}

INL void tile32(const int type, const int nr, const int nbt, const uint8_t *const rows[NR], int64_t k,
                const uint8_t *xq, int64_t rb, float *y, int64_t ys, int64_t pf) {
    const int bb = type == PS_TYPE_Q4_0 ? 18 : type == PS_TYPE_Q5_0 ? 22 : 34;
    const int64_t nblk = k / 32;
    __m256 acc[2][NR][BT];
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < nr; r++)
            for (int b = 0; b < nbt; b++) acc[p][r][b] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        const int p = (int)(i & 1);
        __m256i wv[NR], aw[NR];
        __m256 dw[NR];
        for (int r = 0; r < nr; r++) {
            const uint8_t *a = rows[r] + i * bb;
            if (pf) _mm_prefetch((const char *)a + pf, _MM_HINT_T1);
            wv[r] = wblk(type, a);
            aw[r] = type == PS_TYPE_Q8_0 ? _mm256_sign_epi8(wv[r], wv[r]) : wv[r];
            dw[r] = _mm256_set1_ps(h2f(a));
        }
        for (int b = 0; b < nbt; b++) {
            const uint8_t *xr = xq + b * rb;
            const __m256i x = _mm256_loadu_si256((const __m256i *)(xr + 32 * i));
            const __m256 dx = _mm256_permutevar8x32_ps(      // lane l: scale l / 2
                _mm256_castps128_ps256(_mm_loadu_ps((const float *)(xr + 2 * k) + 4 * i)), _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
            for (int r = 0; r < nr; r++) {
                const __m256 v = _mm256_cvtepi32_ps(dot_blk(type, wv[r], aw[r], x, xr + k + 32 * i));
                if (p) acc[1][r][b] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), v, acc[1][r][b]);
                else acc[0][r][b] = _mm256_fmadd_ps(_mm256_mul_ps(dw[r], dx), v, acc[0][r][b]);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) y[b * ys + r] = tree8(_mm256_add_ps(acc[0][r][b], acc[1][r][b]));
}

// ---- K types ----------------------------------------------------------------------------------

// Q4_K/Q5_K scales (bytes 0-7) and mins (8-15) of a super-block.
INL __m128i k4_scales_mins(const uint8_t *b) {
    uint32_t u[4];
    memcpy(u, b + 4, 12);
    const uint32_t m6 = 0x3F3F3F3Fu, m4 = 0x0F0F0F0Fu, m2 = 0x03030303u;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4);
    const uint32_t mins03 = u[1] & m6;
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);
    u[2] = mins03;
    u[0] &= m6;
    return _mm_loadu_si128((const __m128i *)u);
}

// Unsigned quants of chunk c: elements 64c..64c+31 in lo, 64c+32..64c+63 in hi.
INL void uk(const int type, const uint8_t *b, int c, __m256i *lo, __m256i *hi) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    if (type == PS_TYPE_Q6_K) {
        const int h = c >> 1;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
        const __m256i hh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
        const __m256i m30 = _mm256_set1_epi8(0x30);
        if ((c & 1) == 0) {
            *lo = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30));
            *hi = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30));
        } else {
            *lo = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
            *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                  _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
        }
        return;
    }
    const __m256i q = _mm256_loadu_si256((const __m256i *)(b + (type == PS_TYPE_Q4_K ? 16 : 48) + 32 * c));
    *lo = _mm256_and_si256(q, m4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    if (type == PS_TYPE_Q5_K) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 16));
        const __m256i b1 = _mm256_set1_epi8((char)(1u << (2 * c))), b2 = _mm256_set1_epi8((char)(2u << (2 * c)));
        const __m256i s16 = _mm256_set1_epi8(16);
        *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), s16));
        *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b2), b2), s16));
    }
}

INL __m256i bcast2(int a, int b) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)), _mm_set1_epi16((short)b), 1);
}

INL void tile256(const int type, const int nr, const int nbt, const uint8_t *const rows[NR], int64_t k,
                 const uint8_t *xq, int64_t rb, float *y, int64_t ys, int64_t pf) {
    const int bb = type == PS_TYPE_Q4_K ? 144 : type == PS_TYPE_Q5_K ? 176 : 210;
    const int q6 = type == PS_TYPE_Q6_K;
    const int64_t nblk = k / 256;
    __m256 acc[2][NR][BT], macc[NR][BT];
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) acc[0][r][b] = acc[1][r][b] = macc[r][b] = _mm256_setzero_ps();
    for (int64_t i = 0; i < nblk; i++) {
        uint8_t sm[NR][16];
        int8_t s6[NR][16];
        __m256i scv[NR], minv[NR];
        float dw[NR], dmw[NR];
        for (int r = 0; r < nr; r++) {
            const uint8_t *w = rows[r] + i * bb;
            if (pf) {
                for (int l = 0; l < bb; l += 64) _mm_prefetch((const char *)w + l + pf, _MM_HINT_T1);
                _mm_prefetch((const char *)w + bb - 1 + pf, _MM_HINT_T1);
            }
            if (q6) {
                memcpy(s6[r], w + 192, 16);
                scv[r] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
                dw[r] = h2f(w + 208);
            } else {
                const __m128i v = k4_scales_mins(w);
                _mm_storeu_si128((__m128i *)sm[r], v);
                minv[r] = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(v, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
                                                                                 13, 14, 14, 15, 15)));
                dw[r] = h2f(w);
                dmw[r] = h2f(w + 2);
            }
        }
        // The activation rows' sub-block shifts (ps_quant.h): 16-bit scales of sub-block 2c and
        // 2c + 1 shifted per chunk, the 32-bit lanes j of the mins and Q6_K correction by sh[j].
        const uint8_t *shb[BT];
        __m256i sh32[BT];
        for (int b = 0; b < nbt; b++) {
            shb[b] = xq + b * rb + k + k / 256 * 4 + k / 16 * 2 + 8 * i;
            sh32[b] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)shb[b]));
        }
        __m256i sumi[2][NR][BT];
        for (int r = 0; r < nr; r++)
            for (int b = 0; b < nbt; b++) sumi[0][r][b] = sumi[1][r][b] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i ulo[NR], uhi[NR], slo[NR], shi[NR];
            for (int r = 0; r < nr; r++) {
                uk(type, rows[r] + i * bb, c, &ulo[r], &uhi[r]);
                if (q6) {
                    slo[r] = bcast2(s6[r][4 * c], s6[r][4 * c + 1]);
                    shi[r] = bcast2(s6[r][4 * c + 2], s6[r][4 * c + 3]);
                } else {
                    slo[r] = _mm256_set1_epi16(sm[r][2 * c]);
                    shi[r] = _mm256_set1_epi16(sm[r][2 * c + 1]);
                }
            }
            for (int b = 0; b < nbt; b++) {
                const uint8_t *xp = xq + b * rb + 256 * i + 64 * c;
                const __m256i x0 = _mm256_loadu_si256((const __m256i *)xp);
                const __m256i x1 = _mm256_loadu_si256((const __m256i *)(xp + 32));
                const __m128i n0 = _mm_cvtsi32_si128(shb[b][2 * c]), n1 = _mm_cvtsi32_si128(shb[b][2 * c + 1]);
                for (int r = 0; r < nr; r++) {
                    sumi[0][r][b] = _mm256_add_epi32(sumi[0][r][b], _mm256_madd_epi16(_mm256_maddubs_epi16(ulo[r], x0),
                                                                                      _mm256_sll_epi16(slo[r], n0)));
                    sumi[1][r][b] = _mm256_add_epi32(sumi[1][r][b], _mm256_madd_epi16(_mm256_maddubs_epi16(uhi[r], x1),
                                                                                      _mm256_sll_epi16(shi[r], n1)));
                }
            }
        }
        for (int b = 0; b < nbt; b++) {
            const uint8_t *xr = xq + b * rb;
            const float dx = ((const float *)(xr + k))[i];
            const __m256i bs = _mm256_loadu_si256((const __m256i *)(xr + k + k / 256 * 4 + 32 * i));
            for (int r = 0; r < nr; r++) {
                __m256i s0 = sumi[0][r][b];
                if (q6) {
                    const __m256i corr = _mm256_sllv_epi32(_mm256_madd_epi16(bs, scv[r]), sh32[b]);
                    s0 = _mm256_sub_epi32(s0, _mm256_slli_epi32(corr, 5));
                } else {
                    const __m256 ml = _mm256_cvtepi32_ps(_mm256_sllv_epi32(_mm256_madd_epi16(bs, minv[r]), sh32[b]));
                    macc[r][b] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmw[r] * dx)), ml, macc[r][b]);
                }
                const __m256 dd = _mm256_set1_ps(dw[r] * dx);
                acc[0][r][b] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(s0), acc[0][r][b]);
                acc[1][r][b] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(sumi[1][r][b]), acc[1][r][b]);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) {
            const float v = tree8(_mm256_add_ps(acc[0][r][b], acc[1][r][b]));
            y[b * ys + r] = q6 ? v : v + tree8(macc[r][b]);
        }
}

// ---- instantiation and driver -----------------------------------------------------------------

typedef void (*tile_fn)(int, int, const uint8_t *const[NR], int64_t, const uint8_t *, int64_t, float *, int64_t,
                        int64_t);

#define TILES(NAME, KIND, TYPE)                                                                     \
    TGT static void NAME(int nr, int nbt, const uint8_t *const rows[NR], int64_t k, const uint8_t *xq, \
                         int64_t rb, float *y, int64_t ys, int64_t pf) {                            \
        switch (nr * 8 + nbt) {                                                                     \
        case 9: KIND(TYPE, 1, 1, rows, k, xq, rb, y, ys, pf); return;                                \
        case 10: KIND(TYPE, 1, 2, rows, k, xq, rb, y, ys, pf); return;                               \
        case 11: KIND(TYPE, 1, 3, rows, k, xq, rb, y, ys, pf); return;                               \
        case 17: KIND(TYPE, 2, 1, rows, k, xq, rb, y, ys, pf); return;                               \
        case 18: KIND(TYPE, 2, 2, rows, k, xq, rb, y, ys, pf); return;                               \
        case 19: KIND(TYPE, 2, 3, rows, k, xq, rb, y, ys, pf); return;                               \
        case 25: KIND(TYPE, 3, 1, rows, k, xq, rb, y, ys, pf); return;                               \
        case 26: KIND(TYPE, 3, 2, rows, k, xq, rb, y, ys, pf); return;                               \
        case 27: KIND(TYPE, 3, 3, rows, k, xq, rb, y, ys, pf); return;                               \
        case 33: KIND(TYPE, 4, 1, rows, k, xq, rb, y, ys, pf); return;                               \
        case 34: KIND(TYPE, 4, 2, rows, k, xq, rb, y, ys, pf); return;                               \
        case 35: KIND(TYPE, 4, 3, rows, k, xq, rb, y, ys, pf); return;                               \
        default: return;                                                                            \
        }                                                                                           \
    }
TILES(tiles_q4_0, tile32, PS_TYPE_Q4_0)
TILES(tiles_q5_0, tile32, PS_TYPE_Q5_0)
TILES(tiles_q8_0, tile32, PS_TYPE_Q8_0)
TILES(tiles_q4_k, tile256, PS_TYPE_Q4_K)
TILES(tiles_q5_k, tile256, PS_TYPE_Q5_K)
TILES(tiles_q6_k, tile256, PS_TYPE_Q6_K)

static tile_fn tiles_for(int type) {
    switch (type) {
    case PS_TYPE_Q4_0: return tiles_q4_0;
    case PS_TYPE_Q5_0: return tiles_q5_0;
    case PS_TYPE_Q8_0: return tiles_q8_0;
    case PS_TYPE_Q4_K: return tiles_q4_k;
    case PS_TYPE_Q5_K: return tiles_q5_k;
    case PS_TYPE_Q6_K: return tiles_q6_k;
    default: return 0;
    }
}

void ps__matmul_q8_avx2(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                        int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const tile_fn tf = tiles_for(type);
    if (!tf) return;
    const int64_t rb = ps_act_row_bytes(type, k);
    // The first activation tile of each row group prefetches weight lines into L2 ahead.
    const int64_t pf = ps__prefetch_rows(nb <= BT, ps__act_kind(type) == PS_ACT_Q8_256, w_row_bytes) * (int64_t)w_row_bytes;
    for (int64_t bs = 0; bs < nb; bs += NBS) {
        const int64_t nbs = nb - bs < NBS ? nb - bs : NBS;
        for (int64_t r = r0; r < r1; r += NR) {
            const int nr = r1 - r < NR ? (int)(r1 - r) : NR;
            const uint8_t *rows[NR] = {0};
            for (int i = 0; i < nr; i++) rows[i] = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
            for (int64_t b = 0; b < nbs; b += BT) {
                const int nbt = nbs - b < BT ? (int)(nbs - b) : BT;
                tf(nr, nbt, rows, k, (const uint8_t *)xq + (bs + b) * rb, rb, y + (bs + b) * y_stride + r, y_stride,
                   b == 0 ? pf : 0);
            }
        }
    }
}

#endif
