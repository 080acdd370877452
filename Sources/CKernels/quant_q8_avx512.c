// quant_q8_avx512.c — integer matmul with 8-bit activations on AVX-512 VNNI (vpdpbusd,
// vpdpwssd), compiled with a target attribute and chosen at run time. The arithmetic is the one
// described in ps_quant.h and implemented plainly in quant_q8.c; results are bitwise the same.
//
// Blocks of 32 (Q4_0, Q5_0, Q8_0): two blocks per 512-bit vector (lanes 0-7 the even block,
// 8-15 the odd one, matching acc[i % 2]). Weights are used in unsigned form u = w + off, so
// vpdpbusd(corr, u, q) gives the exact lane sums of w * q (corr carries -off * sum q).
// K types: one 64-element chunk per vector; vpmaddubsw(u, q) then vpdpwssd with the sub-block
// scales as 16-bit lanes; one float fma per lane and super-block.
//
// Tiles of NR weight rows x BT activation rows run over the whole row, so each output value is
// one tile's work whatever the batch; activations are taken NBS rows at a time so they stay in
// L2 while every weight row of the range passes over them (prefill), and a decode batch (nb <=
// BT) streams each weight row once.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512dq,avx2,fma,f16c")))
#define INL static inline __attribute__((always_inline)) TGT

enum { NR = 4, BT = 4, NBS = 64 };
// Prefill tiles of the 32-blocks: weight setup (unpacking, scales) is much of the work per
// vector, so a tile takes few weight rows and more activation rows (2 x 8 measured best on Zen 4,
// about 10 % over 4 x 4; 2 x 12 and 1 x 12 spill).
enum { NR32 = 2, BT32 = 8 };
// Q4_K/Q5_K carry a second accumulator (the mins) per pair: 2 x 4 tiles keep them in registers
// (4 x 4 spills; measured 53 vs 47 GMAC/s).
enum { NRK = 2, BTK = 4 };
enum { TR = NR > NR32 ? NR : NR32, TB = BT > BT32 ? BT : BT32 };
// Every weight line is prefetched into L2 ps__prefetch_rows rows ahead (prefetching one line per
// two 34-byte blocks missed every 17th line and reached half the bandwidth on the head).
#define PF_HINT _MM_HINT_T1

INL float h2f(const uint8_t *p) { return _cvtsh_ss(ps__rd16(p)); }

// tree8 and tree16 of ps_quant.h.
INL float tree8(__m256 v) {
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)));
}

INL float tree16(__m512 a) {
    return tree8(_mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1)));
}


// ---- blocks of 32 -----------------------------------------------------------------------------

// Unsigned weights of blocks A (bytes 0-31) and B (32-63).
INL __m512i u2_q4_0(const uint8_t *a, const uint8_t *b) {
    const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + 2))),
                                              _mm_loadu_si128((const __m128i *)(b + 2)), 1);
    const __m512i z = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(t));
    const __m512i m = _mm512_mask_blend_epi64(0xCC, z, _mm512_srli_epi16(z, 4));
    return _mm512_and_si512(m, _mm512_set1_epi8(0x0F));
}

INL __m512i u2_q5_0(const uint8_t *a, const uint8_t *b) {
    const __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + 6))),
                                              _mm_loadu_si128((const __m128i *)(b + 6)), 1);
    const __m512i z = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(t));
    const __m512i m = _mm512_and_si512(_mm512_mask_blend_epi64(0xCC, z, _mm512_srli_epi16(z, 4)),
                                       _mm512_set1_epi8(0x0F));
    uint32_t ha, hb;
    memcpy(&ha, a + 2, 4);
    memcpy(&hb, b + 2, 4);
    return _mm512_mask_add_epi8(m, (__mmask64)ha | ((__mmask64)hb << 32), m, _mm512_set1_epi8(16));
}

INL __m512i u2_q8_0(const uint8_t *a, const uint8_t *b) {
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + 2))),
                                         _mm256_loadu_si256((const __m256i *)(b + 2)), 1);
    return _mm512_xor_si512(z, _mm512_set1_epi8((char)0x80));
}

INL __m512i u2(const int type, const uint8_t *a, const uint8_t *b) {
    return type == PS_TYPE_Q4_0 ? u2_q4_0(a, b) : type == PS_TYPE_Q5_0 ? u2_q5_0(a, b) : u2_q8_0(a, b);
}

INL void tile32(const int type, const int nr, const int nbt, const uint8_t *const rows[TR], int64_t k,
                const uint8_t *xq, int64_t rb, float *y, int64_t ys, int64_t pf) {
    const int bb = type == PS_TYPE_Q4_0 ? 18 : type == PS_TYPE_Q5_0 ? 22 : 34;
    const int64_t nblk = k / 32;
    __m512 acc[TR][TB];
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) acc[r][b] = _mm512_setzero_ps();
    // Lane l of the scale vector is block i + l / 8's dw times activation group 4i + l / 2's dx:
    // dw spread once per weight row, the 8 dx of the two blocks spread to pairs of lanes.
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i pairs = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
    int64_t i = 0;
    for (; i + 2 <= nblk; i += 2) {
        __m512i u[TR];
        __m512 dws[TR];
        for (int r = 0; r < nr; r++) {
            const uint8_t *a = rows[r] + i * bb;
            if (pf) {
                _mm_prefetch((const char *)a + pf, PF_HINT);
                _mm_prefetch((const char *)a + pf + 2 * bb - 1, PF_HINT);
            }
            u[r] = u2(type, a, a + bb);
            const __m128 dw = _mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(ps__rd16(a)), ps__rd16(a + bb), 1));
            dws[r] = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(dw));
        }
        for (int b = 0; b < nbt; b++) {
            const uint8_t *xr = xq + b * rb;
            const __m512i x = _mm512_loadu_si512(xr + 32 * i);
            const __m512i c = _mm512_loadu_si512(xr + k + 32 * i);
            const __m512 dx = _mm512_permutexvar_ps(pairs, _mm512_castps256_ps512(
                                                        _mm256_loadu_ps((const float *)(xr + 2 * k) + 4 * i)));
            for (int r = 0; r < nr; r++) {
                const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, u[r], x));
                acc[r][b] = _mm512_fmadd_ps(_mm512_mul_ps(dws[r], dx), p, acc[r][b]);
            }
        }
    }
    if (i < nblk) {   // a last, even-numbered block: lanes 0-7 only
        __m512i u[TR];
        __m512 dw[TR];
        for (int r = 0; r < nr; r++) {
            const uint8_t *a = rows[r] + i * bb;
            u[r] = u2(type, a, a);
            dw[r] = _mm512_set1_ps(h2f(a));
        }
        for (int b = 0; b < nbt; b++) {
            const uint8_t *xr = xq + b * rb;
            const __m512i x = _mm512_maskz_loadu_epi32(0x00FF, xr + 32 * i);
            const __m512i c = _mm512_maskz_loadu_epi32(0x00FF, xr + k + 32 * i);
            const __m512 dx = _mm512_permutexvar_ps(pairs, _mm512_maskz_loadu_ps(0x000F, (const float *)(xr + 2 * k) + 4 * i));
            for (int r = 0; r < nr; r++) {
                const __m512 p = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, u[r], x));
                acc[r][b] = _mm512_mask3_fmadd_ps(_mm512_mul_ps(dw[r], dx), p, acc[r][b], 0x00FF);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) y[b * ys + r] = tree16(acc[r][b]);
}

// ---- K types ----------------------------------------------------------------------------------

// Index vectors for vpermw: chunk c of Q4_K/Q5_K takes scale 2c for 16-bit lanes 0-15 and 2c+1
// for 16-31; of Q6_K scale 4c + m/8 for lane m.
INL __m512i idx_k4(int c) {
    return _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_set1_epi16((short)(2 * c)), _mm512_set1_epi16((short)(2 * c + 1)));
}
INL __m512i idx_k6(int c) {
    const __m512i m = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                                       11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    return _mm512_add_epi16(_mm512_srli_epi16(m, 3), _mm512_set1_epi16((short)(4 * c)));
}

// Q4_K/Q5_K: the 8 scales (16-bit lanes 0-7) and 8 mins (8-15) of a super-block.
INL __m512i k4_scales_mins(const uint8_t *b) {
    uint32_t u[4];
    ps__scales_mins_k4(b, u);
    return _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)u)));
}

// Unsigned quants of chunk c (elements 64c..64c+63) of a K block.
INL __m512i uk(const int type, const uint8_t *b, int c) {
    if (type == PS_TYPE_Q6_K) {
        const int h = c >> 1, part = c & 1;
        const __m256i hh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
        const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
        // Elements of half h in order: [ql lo | qh>>0], [ql+32 lo | qh>>2], [ql hi | qh>>4],
        // [ql+32 hi | qh>>6]; chunk 2h holds the first two, chunk 2h+1 the last two.
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b + 64 * h + 32));
        __m256i q0, q1;
        if (part == 0) {
            q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30));
            q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30));
        } else {
            q0 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
            q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                 _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
        }
        return _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
    }
    const uint8_t *qs = b + (type == PS_TYPE_Q4_K ? 16 : 48) + 32 * c;
    const __m256i q = _mm256_loadu_si256((const __m256i *)qs);
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
    __m512i u = _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
    if (type == PS_TYPE_Q5_K) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 16));
        const __mmask64 lo = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(1u << (2 * c))));
        const __mmask64 hi = _mm256_test_epi8_mask(qh, _mm256_set1_epi8((char)(2u << (2 * c))));
        u = _mm512_mask_add_epi8(u, lo | (hi << 32), u, _mm512_set1_epi8(16));
    }
    return u;
}

INL void tile256(const int type, const int nr, const int nbt, const uint8_t *const rows[TR], int64_t k,
                 const uint8_t *xq, int64_t rb, float *y, int64_t ys, int64_t pf) {
    const int bb = type == PS_TYPE_Q4_K ? 144 : type == PS_TYPE_Q5_K ? 176 : 210;
    const int q6 = type == PS_TYPE_Q6_K;
    const int64_t nblk = k / 256;
    __m512 acc[NR][BT];
    __m256 macc[NR][BT];
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) {
            acc[r][b] = _mm512_setzero_ps();
            macc[r][b] = _mm256_setzero_ps();
        }
    for (int64_t i = 0; i < nblk; i++) {
        __m512i sm[NR];   // scales (and mins) as 16-bit lanes
        float dw[NR], dmw[NR];
        for (int r = 0; r < nr; r++) {
            const uint8_t *w = rows[r] + i * bb;
            if (pf) {
                for (int l = 0; l < bb; l += 64) _mm_prefetch((const char *)w + l + pf, PF_HINT);
                _mm_prefetch((const char *)w + bb - 1 + pf, PF_HINT);
            }
            if (q6) {
                sm[r] = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192))));
                dw[r] = h2f(w + 208);
            } else {
                sm[r] = k4_scales_mins(w);
                dw[r] = h2f(w);
                dmw[r] = h2f(w + 2);
            }
        }
        // The activation rows' sub-block shifts applied to the 16-bit scales (and mins): lane m
        // of a Q4_K/Q5_K row's scales-and-mins vector is sub-block m % 8's, of a Q6_K row's
        // scales sub-block m / 2's.
        __m512i smb[NR][BT];
        for (int b = 0; b < nbt; b++) {
            const uint8_t *shp = xq + b * rb + k + k / 256 * 4 + k / 16 * 2 + 8 * i;
            const __m128i s8 = _mm_loadl_epi64((const __m128i *)shp);
            const __m128i s16 = q6 ? _mm_unpacklo_epi8(s8, s8) : _mm_unpacklo_epi64(s8, s8);
            const __m512i shv = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(s16));
            for (int r = 0; r < nr; r++) smb[r][b] = _mm512_sllv_epi16(sm[r], shv);
        }
        __m512i sumi[NR][BT];
        for (int r = 0; r < nr; r++)
            for (int b = 0; b < nbt; b++) sumi[r][b] = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            __m512i u[NR];
            const __m512i idx = q6 ? idx_k6(c) : idx_k4(c);
            for (int r = 0; r < nr; r++) u[r] = uk(type, rows[r] + i * bb, c);
            for (int b = 0; b < nbt; b++) {
                const __m512i x = _mm512_loadu_si512(xq + b * rb + 256 * i + 64 * c);
                for (int r = 0; r < nr; r++)
                    sumi[r][b] = _mm512_dpwssd_epi32(sumi[r][b], _mm512_maddubs_epi16(u[r], x),
                                                     _mm512_permutexvar_epi16(idx, smb[r][b]));
            }
        }
        const __m512i midx = _mm512_add_epi16(_mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
                                                                 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8,
                                                                 7, 6, 5, 4, 3, 2, 1, 0), 1),
                                              _mm512_set1_epi16(8));
        for (int b = 0; b < nbt; b++) {
            const uint8_t *xr = xq + b * rb;
            const float dx = ((const float *)(xr + k))[i];
            const __m256i bs = _mm256_loadu_si256((const __m256i *)(xr + k + k / 256 * 4 + 32 * i));
            for (int r = 0; r < nr; r++) {
                __m512i s = sumi[r][b];
                if (q6) {
                    const __m256i cl = _mm256_slli_epi32(_mm256_madd_epi16(bs, _mm512_castsi512_si256(smb[r][b])), 5);
                    s = _mm512_sub_epi32(s, _mm512_zextsi256_si512(cl));
                } else {
                    const __m256i mins16 = _mm512_castsi512_si256(_mm512_permutexvar_epi16(midx, smb[r][b]));
                    const __m256 ml = _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, mins16));
                    macc[r][b] = _mm256_fmadd_ps(_mm256_set1_ps(-(dmw[r] * dx)), ml, macc[r][b]);
                }
                acc[r][b] = _mm512_fmadd_ps(_mm512_set1_ps(dw[r] * dx), _mm512_cvtepi32_ps(s), acc[r][b]);
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int b = 0; b < nbt; b++) {
            const float v = tree16(acc[r][b]);
            y[b * ys + r] = q6 ? v : v + tree8(macc[r][b]);
        }
}

// ---- activation quantization ------------------------------------------------------------------
// The values of quant_q8.c's portable loop: the same amax, d = amax / 127, id = 1 / d, and x * id
// rounded to nearest even (vcvtps2dq in the default rounding mode, as lrintf).

INL __m128i quantize16(const float *x, __m512 id) {   // id: one factor per lane
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), id));
    q = _mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
    return _mm512_cvtepi32_epi8(q);
}

INL float amax_of(const float *x, int n) {
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    return _mm512_reduce_max_ps(m);
}

// Sixteen values in groups of 8 (the blocks of 32's activation groups): each lane gets its
// group's scale amax / 127 in d and 1 / that (0 for an all-zero group) in id, as quant_q8.c.
INL void group8_scales(__m512 v, __m512 *d, __m512 *id) {
    __m512 m = _mm512_abs_ps(v);
    m = _mm512_max_ps(m, _mm512_permute_ps(m, 0xB1));        // swap neighbours
    m = _mm512_max_ps(m, _mm512_permute_ps(m, 0x4E));        // swap pairs
    m = _mm512_max_ps(m, _mm512_shuffle_f32x4(m, m, 0xB1));  // swap the 128-bit quarters of each half
    *d = _mm512_div_ps(m, _mm512_set1_ps(127.0f));
    *id = _mm512_maskz_div_ps(_mm512_cmpneq_ps_mask(*d, _mm512_setzero_ps()), _mm512_set1_ps(1.0f), *d);
}

TGT void ps__quantize_act_avx512(int type, const float *x, int64_t x_stride, int64_t nb, int64_t k, void *out) {
    const int64_t rb = ps_act_row_bytes(type, k);
    const int off = type == PS_TYPE_Q4_0 ? 8 : type == PS_TYPE_Q5_0 ? 16 : 128;
    const __m128i ones8 = _mm_set1_epi8(1), ones16 = _mm_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++) {
        const float *xr = x + b * x_stride;
        uint8_t *row = (uint8_t *)out + b * rb;
        int8_t *qs = (int8_t *)row;
        if (ps__act_kind(type) == PS_ACT_Q8_32) {
            int32_t *corr = (int32_t *)(row + k);
            float *d = (float *)(row + 2 * k);
            for (int64_t j = 0; j < k; j += 16) {
                const __m512 v = _mm512_loadu_ps(xr + j);
                __m512 dv, id;
                group8_scales(v, &dv, &id);
                d[j / 8] = _mm512_cvtss_f32(dv);
                d[j / 8 + 1] = _mm512_cvtss_f32(_mm512_shuffle_f32x4(dv, dv, 0xEE));   // lane 8
                const __m128i q = quantize16(xr + j, id);
                _mm_storeu_si128((__m128i *)(qs + j), q);
                const __m128i s4 = _mm_madd_epi16(_mm_maddubs_epi16(ones8, q), ones16);   // sums of 4
                _mm_storeu_si128((__m128i *)(corr + j / 4), _mm_mullo_epi32(s4, _mm_set1_epi32(-off)));
            }
            continue;
        }
        float *d = (float *)(row + k);
        uint8_t *sh = row + k + k / 256 * 4 + k / 16 * 2;
        for (int64_t i = 0; i < k / 256; i++) {
            const float amax = amax_of(xr + 256 * i, 256);
            const float di = amax / 127.0f;
            const float id = di != 0.0f ? 1.0f / di : 0.0f;
            d[i] = di * (1.0f / (1 << PS_ACT_SHIFT_MAX));
            for (int s = 0; s < 8; s++) {
                const int e = ps__act_exponent(amax_of(xr + 256 * i + 32 * s, 32), amax);
                sh[8 * i + s] = (uint8_t)(PS_ACT_SHIFT_MAX - e);
                const __m512 ide = _mm512_set1_ps(id * (float)(1 << e));
                for (int j = 32 * s; j < 32 * s + 32; j += 16) {
                    const __m128i q = quantize16(xr + 256 * i + j, ide);
                    _mm_storeu_si128((__m128i *)(qs + 256 * i + j), q);
                    const __m128i s4 = _mm_madd_epi16(_mm_maddubs_epi16(ones8, q), ones16);   // sums of 4
                    int16_t *bs = (int16_t *)(row + k + k / 256 * 4) + (256 * i + j) / 16;
                    const __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
                    *bs = (int16_t)_mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1)));
                }
            }
        }
    }
}

// ---- instantiation and driver -----------------------------------------------------------------

typedef void (*tile_fn)(int, int, const uint8_t *const[TR], int64_t, const uint8_t *, int64_t, float *, int64_t,
                        int64_t);

// Decode shapes (up to NR x BT) for every type; prefill shapes (NR32 x up to BT32) for the 32-blocks.
#define CASE(KIND, TYPE, R, B) \
    case (R) * 64 + (B): KIND(TYPE, R, B, rows, k, xq, rb, y, ys, pf); return;
#define DECODE_CASES(KIND, TYPE) \
    CASE(KIND, TYPE, 1, 1) CASE(KIND, TYPE, 1, 2) CASE(KIND, TYPE, 1, 3) CASE(KIND, TYPE, 1, 4) \
    CASE(KIND, TYPE, 2, 1) CASE(KIND, TYPE, 2, 2) CASE(KIND, TYPE, 2, 3) CASE(KIND, TYPE, 2, 4) \
    CASE(KIND, TYPE, 3, 1) CASE(KIND, TYPE, 3, 2) CASE(KIND, TYPE, 3, 3) CASE(KIND, TYPE, 3, 4) \
    CASE(KIND, TYPE, 4, 1) CASE(KIND, TYPE, 4, 2) CASE(KIND, TYPE, 4, 3) CASE(KIND, TYPE, 4, 4)
#define PREFILL32_CASES(TYPE) \
    CASE(tile32, TYPE, 1, 5) CASE(tile32, TYPE, 1, 6) CASE(tile32, TYPE, 1, 7) CASE(tile32, TYPE, 1, 8) \
    CASE(tile32, TYPE, 2, 5) CASE(tile32, TYPE, 2, 6) CASE(tile32, TYPE, 2, 7) CASE(tile32, TYPE, 2, 8)
#define TILES(NAME, KIND, TYPE, MORE)                                                               \
    TGT static void NAME(int nr, int nbt, const uint8_t *const rows[TR], int64_t k, const uint8_t *xq, \
                         int64_t rb, float *y, int64_t ys, int64_t pf) {                            \
        switch (nr * 64 + nbt) {                                                                    \
            DECODE_CASES(KIND, TYPE)                                                                \
            MORE                                                                                    \
        default: return;                                                                            \
        }                                                                                           \
    }
TILES(tiles_q4_0, tile32, PS_TYPE_Q4_0, PREFILL32_CASES(PS_TYPE_Q4_0))
TILES(tiles_q5_0, tile32, PS_TYPE_Q5_0, PREFILL32_CASES(PS_TYPE_Q5_0))
TILES(tiles_q8_0, tile32, PS_TYPE_Q8_0, PREFILL32_CASES(PS_TYPE_Q8_0))
TILES(tiles_q4_k, tile256, PS_TYPE_Q4_K, )
TILES(tiles_q5_k, tile256, PS_TYPE_Q5_K, )
TILES(tiles_q6_k, tile256, PS_TYPE_Q6_K, )

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

void ps__matmul_q8_avx512(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                          int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const tile_fn tf = tiles_for(type);
    if (!tf) return;
    const int64_t rb = ps_act_row_bytes(type, k);
    const int64_t pf_rows = ps__prefetch_rows(nb <= BT, ps__act_kind(type) == PS_ACT_Q8_256, w_row_bytes);
    const int64_t pf = pf_rows * (int64_t)w_row_bytes;
    const int wide = nb > BT && ps__act_kind(type) == PS_ACT_Q8_32;
    const int mins = nb > BT && (type == PS_TYPE_Q4_K || type == PS_TYPE_Q5_K);
    const int nrs = wide ? NR32 : mins ? NRK : NR, bts = wide ? BT32 : mins ? BTK : BT;
    {   // the first rows of the range, which the rows before them did not prefetch
        const char *p0 = (const char *)w + (size_t)r0 * w_row_bytes;
        const int64_t warm = (r1 - r0 < pf_rows ? r1 - r0 : pf_rows) * (int64_t)w_row_bytes;
        for (int64_t off = 0; off < warm; off += 64) _mm_prefetch(p0 + off, PF_HINT);
    }
    for (int64_t bs = 0; bs < nb; bs += NBS) {
        const int64_t nbs = nb - bs < NBS ? nb - bs : NBS;
        for (int64_t r = r0; r < r1; r += nrs) {
            const int nr = r1 - r < nrs ? (int)(r1 - r) : nrs;
            const uint8_t *rows[TR] = {0};
            for (int i = 0; i < nr; i++) rows[i] = (const uint8_t *)w + (size_t)(r + i) * w_row_bytes;
            for (int64_t b = 0; b < nbs; b += bts) {
                const int nbt = nbs - b < bts ? (int)(nbs - b) : bts;
                // The first activation tile of a row group prefetches for the rows ahead; the
                // others find the group's rows in L1.
                tf(nr, nbt, rows, k, (const uint8_t *)xq + (bs + b) * rb, rb, y + (bs + b) * y_stride + r, y_stride,
                   b == 0 ? pf : 0);
            }
        }
    }
}

#endif
