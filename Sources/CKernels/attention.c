// Causal attention over a KV cache (ps_attention_query, ps_ops.h): tiled keys, an online softmax,
// blocks of consecutive queries and heads of one kv group sharing every cached row they read.
#define PS_QUANT_INTERNAL 1
#include "ps_ops.h"
#include "ps_quant.h"
#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)

// Attention's dot products and value sums have AVX-512 forms (chosen when the ISA level is
// AVX-512) and AVX2 forms (AVX2) that do exactly the plain loops' operations -- 16 lanes, a fused
// multiply-add per product (fmaf: one rounding, as the vector FMAs), the same final order -- so
// the results are bitwise the same on every level. Fused rather than a multiply then an add: half
// the floating-point operations (Gemma 3 270M prefill of 2,048 tokens 1.03x; at 512 within noise)
// and one rounding fewer per product.
#if defined(__x86_64__)
#define TGT512 __attribute__((target("avx512f")))
TGT512 static float dot_f32_avx512(const float *a, const float *b, int64_t n) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    float t[16];
    _mm512_storeu_ps(t, acc);
    for (; i < n; i++) t[i & 15] = fmaf(a[i], b[i], t[i & 15]);
    float s = 0;
    for (int j = 0; j < 16; j++) s += t[j];
    return s;
}

// Four dot products of a with b0..b3: four independent chains (one would wait on the adds'
// latency), each with dot_f32_avx512's operations.
TGT512 static void dot4_f32_avx512(const float *a, const float *const b[4], int64_t n, float out[4]) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 av = _mm512_loadu_ps(a + i);
        for (int t = 0; t < 4; t++) acc[t] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b[t] + i), acc[t]);
    }
    for (int t = 0; t < 4; t++) {
        float v[16];
        _mm512_storeu_ps(v, acc[t]);
        for (int64_t m = i; m < n; m++) v[m & 15] = fmaf(a[m], b[t][m], v[m & 15]);
        float s = 0;
        for (int j = 0; j < 16; j++) s += v[j];
        out[t] = s;
    }
}

// y += p[0] * x0; y += p[1] * x1; ... for four rows, element by element in that order (as four
// axpy_avx512 calls), with y held in registers across the four.
TGT512 static void axpy4_avx512(float *y, const float p[4], const float *const x[4], int64_t n) {
    const __m512 p0 = _mm512_set1_ps(p[0]), p1 = _mm512_set1_ps(p[1]), p2 = _mm512_set1_ps(p[2]), p3 = _mm512_set1_ps(p[3]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(y + i);
        a = _mm512_fmadd_ps(p0, _mm512_loadu_ps(x[0] + i), a);
        a = _mm512_fmadd_ps(p1, _mm512_loadu_ps(x[1] + i), a);
        a = _mm512_fmadd_ps(p2, _mm512_loadu_ps(x[2] + i), a);
        a = _mm512_fmadd_ps(p3, _mm512_loadu_ps(x[3] + i), a);
        _mm512_storeu_ps(y + i, a);
    }
    for (; i < n; i++) {
        y[i] = fmaf(p[0], x[0][i], y[i]);
        y[i] = fmaf(p[1], x[1][i], y[i]);
        y[i] = fmaf(p[2], x[2][i], y[i]);
        y[i] = fmaf(p[3], x[3][i], y[i]);
    }
}

#define INL512 static inline __attribute__((always_inline, target("avx512f")))
// r[m] lane j -> r[j] lane m.
INL512 void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {   // per 128-bit lane L: rows 2i, 2i+1 interleaved
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {   // r[4i + c], 128-bit lane L: rows 4i..4i+3 of element 4L + c
        const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    __m512 o[16];
    for (int c = 0; c < 4; c++) {   // 128-bit lanes: a 4 x 4 transpose of r[c], r[4+c], r[8+c], r[12+c]
        const __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xEE);
        const __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44), u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xEE);
        o[c] = _mm512_shuffle_f32x4(u0, u2, 0x88);
        o[4 + c] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
        o[8 + c] = _mm512_shuffle_f32x4(u1, u3, 0x88);
        o[12 + c] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
    }
    for (int j = 0; j < 16; j++) r[j] = o[j];
}

// Four heads of one kv group against four keys (hd a multiple of 16): sixteen dot_f32_avx512
// chains sharing each loaded q and k vector (dot4 loads five vectors per four products, this
// eight per sixteen). out[h][t] = q_h . k_t, reduced exactly as dot_f32_avx512 does.
// next[t] and vnext[t] (or NULL): a key row ahead and the value row of key t, prefetched line by
// line into L2 alongside (the cache's rows come from memory: decode streams every weight between
// two uses of a layer's cache). Measured on Gemma's shape (4 heads, one kv head, 256 dims, 18
// layers' caches evicted between tokens): keys 4 rows ahead into L1 and values 4 rows ahead in
// the value pass read 8 GB/s; keys 8 ahead into L2 and values during the score pass 11-12 GB/s
// (16 ahead the same, 32 ahead worse, no prefetch 6-8).
// Also for two heads (nh = 2: a thread's share of a group when two threads split its heads).
INL512 void dot_hk4(const int nh, const float *const q[4], const float *const k[4], int64_t hd, float out[4][4],
                    const float *const next[4], const float *const vnext[4]) {
    __m512 acc[4][4];
    for (int h = 0; h < nh; h++)
        for (int t = 0; t < 4; t++) acc[h][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < hd; i += 16) {
        for (int t = 0; t < 4; t++) {
            if (next[t]) _mm_prefetch((const char *)(next[t] + i), _MM_HINT_T1);
            if (vnext[t]) _mm_prefetch((const char *)(vnext[t] + i), _MM_HINT_T1);
        }
        __m512 kv[4];
        for (int t = 0; t < 4; t++) kv[t] = _mm512_loadu_ps(k[t] + i);
        for (int h = 0; h < nh; h++) {
            const __m512 qv = _mm512_loadu_ps(q[h] + i);
            for (int t = 0; t < 4; t++) acc[h][t] = _mm512_fmadd_ps(qv, kv[t], acc[h][t]);
        }
    }
    // out[h][t] = ((0 + a[0]) + a[1]) + ... + a[15] for a = acc[h][t], as dot_f32_avx512 sums
    // its lanes: the sixteen vectors transposed, lane 4h + t of sixteen vector adds (the same adds
    // in the same order as sixteen scalar loops, which had cost as much as the products).
    __m512 r[16];
    for (int h = 0; h < 4; h++)
        for (int t = 0; t < 4; t++) r[4 * h + t] = h < nh ? acc[h][t] : _mm512_setzero_ps();
    transpose16(r);
    __m512 sum = _mm512_setzero_ps();
    for (int j = 0; j < 16; j++) sum = _mm512_add_ps(sum, r[j]);
    float v[16];
    _mm512_storeu_ps(v, sum);
    for (int h = 0; h < nh; h++)
        for (int t = 0; t < 4; t++) out[h][t] = v[4 * h + t];
}
TGT512 static void dot_h4k4_avx512(const float *const q[4], const float *const k[4], int64_t hd, float out[4][4],
                                   const float *const next[4], const float *const vnext[4]) {
    dot_hk4(4, q, k, hd, out, next, vnext);
}
TGT512 static void dot_h2k4_avx512(const float *const q[4], const float *const k[4], int64_t hd, float out[4][4],
                                   const float *const next[4], const float *const vnext[4]) {
    dot_hk4(2, q, k, hd, out, next, vnext);
}

// out_h += p[h][j] * x[j] for j < n in order, four heads sharing the value rows x (hd a multiple
// of 64): each 64-float slice of the four outputs stays in registers for the whole tile, so a
// value vector is loaded once for four heads and each output once per tile (axpy4 reloads and
// stores the output every four rows). Per element the same operations in the same order.
INL512 void axpy_h(const int nh, float *const y[4], const float *const p[4], const float *const *x, int64_t n, int64_t hd) {
    for (int64_t d = 0; d < hd; d += 64) {
        __m512 acc[4][4];
        for (int h = 0; h < nh; h++)
            for (int c = 0; c < 4; c++) acc[h][c] = _mm512_loadu_ps(y[h] + d + 16 * c);
        for (int64_t j = 0; j < n; j++) {   // the rows are in L2: dot_hk4 prefetched them
            __m512 v[4];
            for (int c = 0; c < 4; c++) v[c] = _mm512_loadu_ps(x[j] + d + 16 * c);
            for (int h = 0; h < nh; h++) {
                const __m512 pv = _mm512_set1_ps(p[h][j]);
                for (int c = 0; c < 4; c++) acc[h][c] = _mm512_fmadd_ps(pv, v[c], acc[h][c]);
            }
        }
        for (int h = 0; h < nh; h++)
            for (int c = 0; c < 4; c++) _mm512_storeu_ps(y[h] + d + 16 * c, acc[h][c]);
    }
}
TGT512 static void axpy_h4_avx512(float *const y[4], const float *const p[4], const float *const *x, int64_t n, int64_t hd) {
    axpy_h(4, y, p, x, n, hd);
}
TGT512 static void axpy_h2_avx512(float *const y[4], const float *const p[4], const float *const *x, int64_t n, int64_t hd) {
    axpy_h(2, y, p, x, n, hd);
}

TGT512 static void axpy_avx512(float *y, float p, const float *x, int64_t n) {
    const __m512 pv = _mm512_set1_ps(p);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(pv, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(p, x[i], y[i]);
}

// dot_f32 and the plain axpy with AVX2 and FMA: the sixteen partial sums as two 8-lane vectors.
#define TGT256 __attribute__((target("avx2,fma")))
TGT256 static float dot_f32_avx2(const float *a, const float *b, int64_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), hi);
    }
    float t[16];
    _mm256_storeu_ps(t, lo);
    _mm256_storeu_ps(t + 8, hi);
    for (; i < n; i++) t[i & 15] = fmaf(a[i], b[i], t[i & 15]);
    float s = 0;
    for (int j = 0; j < 16; j++) s += t[j];
    return s;
}

TGT256 static void axpy_avx2(float *y, float p, const float *x, int64_t n) {
    const __m256 pv = _mm256_set1_ps(p);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] = fmaf(p, x[i], y[i]);
}
#endif

static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] = fmaf(a[i + j], b[i + j], acc[j]);
    for (; i < n; i++) acc[i & 15] = fmaf(a[i], b[i], acc[i & 15]);
    float s = 0;
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

// Scores of heads [h0, h1) against one tile of n key rows: sc[(h - h0) * PS_ATTENTION_TILE + j] =
// softcap(scale * q_h . krow[j] (kv head h / group)). Rows are taken four at a time on AVX-512
// (dot4 = four dot_f32_avx512), so every score is the same value on either path.
static void tile_scores(const float *q, const float *const *krow, const float *const *vrow, int64_t n, int64_t h0,
                        int64_t h1, int64_t group, int64_t hd, float scale, float softcap, int isa, float *sc) {
    int64_t j0 = 0;
#if defined(__x86_64__)
    const int wide = isa >= PS_ISA_AVX512, mid = isa == PS_ISA_AVX2;
    if (wide)
        for (; j0 + 4 <= n; j0 += 4)
            for (int64_t h = h0; h < h1; h++) {
                // Four heads of one kv head, else two: each key vector loaded once for all of them.
                const int nh = hd % 16 == 0 && h + 4 <= h1 && h / group == (h + 3) / group   ? 4
                               : hd % 16 == 0 && h + 2 <= h1 && h / group == (h + 1) / group ? 2 : 1;
                if (nh > 1) {
                    const float *qh[4] = {0}, *kr[4], *nx[4], *vn[4];
                    for (int t = 0; t < 4; t++) {
                        if (t < nh) qh[t] = q + (h + t) * hd;
                        kr[t] = krow[j0 + t] + (h / group) * hd;
                        nx[t] = j0 + 8 + t < n ? krow[j0 + 8 + t] + (h / group) * hd : NULL;
                        vn[t] = vrow[j0 + t] + (h / group) * hd;   // for tile_values
                    }
                    float d16[4][4];
                    if (nh == 4) dot_h4k4_avx512(qh, kr, hd, d16, nx, vn);
                    else dot_h2k4_avx512(qh, kr, hd, d16, nx, vn);
                    for (int a = 0; a < nh; a++)
                        for (int t = 0; t < 4; t++) {
                            float s = scale * d16[a][t];
                            if (softcap > 0) s = softcap * tanhf(s / softcap);
                            sc[(h + a - h0) * PS_ATTENTION_TILE + j0 + t] = s;
                        }
                    h += nh - 1;
                    continue;
                }
                const float *kr[4];
                for (int t = 0; t < 4; t++) kr[t] = krow[j0 + t] + (h / group) * hd;
                float d4[4];
                dot4_f32_avx512(q + h * hd, kr, hd, d4);
                for (int t = 0; t < 4; t++) {
                    float s = scale * d4[t];
                    if (softcap > 0) s = softcap * tanhf(s / softcap);
                    sc[(h - h0) * PS_ATTENTION_TILE + j0 + t] = s;
                }
            }
#endif
    for (int64_t j = j0; j < n; j++)
        for (int64_t h = h0; h < h1; h++) {
            const float *qh = q + h * hd, *kh = krow[j] + (h / group) * hd;
#if defined(__x86_64__)
            float s = scale * (wide ? dot_f32_avx512(qh, kh, hd) : mid ? dot_f32_avx2(qh, kh, hd) : dot_f32(qh, kh, hd));
#else
            float s = scale * dot_f32(qh, kh, hd);
#endif
            if (softcap > 0) s = softcap * tanhf(s / softcap);
            sc[(h - h0) * PS_ATTENTION_TILE + j] = s;
        }
}

// out_h += p[j] * vrow[j] (kv head h / group) for the tile's rows in order, p = sc's weights.
static void tile_values(const float *const *vrow, int64_t n, int64_t h0, int64_t h1, int64_t group, int64_t hd,
                        int isa, const float *sc, float *out) {
    int64_t j0 = 0;
#if defined(__x86_64__)
    const int wide = isa >= PS_ISA_AVX512, mid = isa == PS_ISA_AVX2;
    // Blocks of four (else two) heads of one kv group take the whole tile at once; other heads go
    // four rows at a time as below. Each output element sees the same adds in the same order
    // either way.
    int done[PS_ATTENTION_HEADS] = {0};
    if (wide && hd % 64 == 0)
        for (int64_t h = h0; h + 2 <= h1; h++) {
            const int nh = h + 4 <= h1 && h / group == (h + 3) / group ? 4 : h / group == (h + 1) / group ? 2 : 0;
            if (!nh) continue;
            float *yh[4] = {0};
            const float *ph[4] = {0};
            for (int t = 0; t < nh; t++) {
                yh[t] = out + (h + t) * hd;
                ph[t] = sc + (h + t - h0) * PS_ATTENTION_TILE;
                done[h + t - h0] = 1;
            }
            const float *xs[PS_ATTENTION_TILE];
            for (int64_t j = 0; j < n; j++) xs[j] = vrow[j] + (h / group) * hd;
            if (nh == 4) axpy_h4_avx512(yh, ph, xs, n, hd);
            else axpy_h2_avx512(yh, ph, xs, n, hd);
            h += nh - 1;
        }
    if (wide)
        for (; j0 + 4 <= n; j0 += 4)
            for (int64_t h = h0; h < h1; h++) {
                if (done[h - h0]) continue;
                const float *vr[4];
                float p4[4];
                for (int t = 0; t < 4; t++) {
                    vr[t] = vrow[j0 + t] + (h / group) * hd;
                    p4[t] = sc[(h - h0) * PS_ATTENTION_TILE + j0 + t];
                }
                axpy4_avx512(out + h * hd, p4, vr, hd);
            }
#endif
    for (int64_t j = j0; j < n; j++)
        for (int64_t h = h0; h < h1; h++) {
            const float *vh = vrow[j] + (h / group) * hd;
            float *oh = out + h * hd;
            float p = sc[(h - h0) * PS_ATTENTION_TILE + j];
#if defined(__x86_64__)
            if (done[h - h0]) continue;
            if (wide) {
                axpy_avx512(oh, p, vh, hd);
                continue;
            }
            if (mid) {
                axpy_avx2(oh, p, vh, hd);
                continue;
            }
#endif
            for (int64_t d = 0; d < hd; d++) oh[d] = fmaf(p, vh[d], oh[d]);
        }
}

static int64_t first_key(int64_t p, int64_t window) { return window > 0 && p - window + 1 > 0 ? p - window + 1 : 0; }

void ps_attention_query(const float *q, int64_t q_stride, int64_t n_q, int64_t pos, int64_t window, const float *k,
                        const float *v, int64_t kv_stride, int64_t ring, int64_t n_head, int64_t n_kv_head, int64_t hd,
                        float scale, float softcap, int64_t head_lo, int64_t head_hi, float *out, int64_t out_stride) {
    int64_t group = n_head / (n_kv_head > 0 ? n_kv_head : 1);
    if (group < 1) group = 1;
    if (ring < 1) ring = 1;
    if (n_q > PS_ATTENTION_QUERIES) n_q = PS_ATTENTION_QUERIES;
    const int isa = ps_isa_current();   // one level for every tile of the call
    float sc[PS_ATTENTION_HEADS * PS_ATTENTION_TILE];
    const float *krow[PS_ATTENTION_TILE], *vrow[PS_ATTENTION_TILE];
    const int64_t lo_all = first_key(pos, window), hi_all = pos + n_q;
    // Up to PS_ATTENTION_HEADS heads at a time walk the keys and values together, a tile of rows
    // at a time, so each cached row is read once for all of them (heads of one kv group share
    // it) and, while the tile is in cache, for every query of the block. Tiles are aligned to
    // absolute positions (multiples of PS_ATTENTION_TILE, cut to each query's range), so per
    // query and head the operations and their order are those of that query and head alone.
    for (int64_t h0 = head_lo; h0 < head_hi; h0 += PS_ATTENTION_HEADS) {
        const int64_t h1 = head_hi - h0 < PS_ATTENTION_HEADS ? head_hi : h0 + PS_ATTENTION_HEADS;
        float mx[PS_ATTENTION_QUERIES][PS_ATTENTION_HEADS];
        double sum[PS_ATTENTION_QUERIES][PS_ATTENTION_HEADS];
        for (int64_t i = 0; i < n_q; i++)
            for (int64_t h = h0; h < h1; h++) {
                mx[i][h - h0] = -INFINITY;
                sum[i][h - h0] = 0;
                for (int64_t d = 0; d < hd; d++) out[i * out_stride + h * hd + d] = 0;
            }
        for (int64_t t0 = lo_all / PS_ATTENTION_TILE * PS_ATTENTION_TILE; t0 < hi_all; t0 += PS_ATTENTION_TILE) {
            const int64_t a = lo_all > t0 ? lo_all : t0;
            const int64_t b = hi_all < t0 + PS_ATTENTION_TILE ? hi_all : t0 + PS_ATTENTION_TILE;
            int64_t row = a % ring;
            for (int64_t p = a; p < b; p++) {
                krow[p - t0] = k + row * kv_stride;
                vrow[p - t0] = v + row * kv_stride;
                if (++row == ring) row = 0;
            }
            for (int64_t i = 0; i < n_q; i++) {
                const int64_t fk = first_key(pos + i, window);
                const int64_t qa = fk > t0 ? fk : t0;
                const int64_t qb = pos + i + 1 < t0 + PS_ATTENTION_TILE ? pos + i + 1 : t0 + PS_ATTENTION_TILE;
                if (qa >= qb) continue;
                const int64_t n = qb - qa;
                float *oi = out + i * out_stride;
                tile_scores(q + i * q_stride, krow + (qa - t0), vrow + (qa - t0), n, h0, h1, group, hd, scale, softcap, isa, sc);
                // Online softmax: weights relative to the running maximum; earlier tiles' sums
                // and outputs are rescaled when the maximum grows.
                for (int64_t h = h0; h < h1; h++) {
                    float *s = sc + (h - h0) * PS_ATTENTION_TILE;
                    float m = mx[i][h - h0];
                    for (int64_t j = 0; j < n; j++)
                        if (s[j] > m) m = s[j];
                    if (m != mx[i][h - h0]) {
                        const float c = mx[i][h - h0] == -INFINITY ? 0.0f : ps__exp(mx[i][h - h0] - m);
                        sum[i][h - h0] *= c;
                        float *oh = oi + h * hd;
                        for (int64_t d = 0; d < hd; d++) oh[d] *= c;
                        mx[i][h - h0] = m;
                    }
                    ps__softmax_exp(s, n, m);
                    double ts = 0;
                    for (int64_t j = 0; j < n; j++) ts += s[j];
                    sum[i][h - h0] += ts;
                }
                tile_values(vrow + (qa - t0), n, h0, h1, group, hd, isa, sc, oi);
            }
        }
        for (int64_t i = 0; i < n_q; i++)
            for (int64_t h = h0; h < h1; h++) {
                const float inv = sum[i][h - h0] > 0 ? (float)(1.0 / sum[i][h - h0]) : 0.0f;
                float *oh = out + i * out_stride + h * hd;
                for (int64_t d = 0; d < hd; d++) oh[d] *= inv;
            }
    }
}
