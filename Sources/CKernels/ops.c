// Float32 layer operations. Plain C with fixed-order loops: the compiler may vectorise the
// element-wise ones (no reassociation of reductions without -ffast-math, so sums are in order).
#define PS_QUANT_INTERNAL 1
#include "ps_ops.h"
#include "ps_quant.h"
#include <math.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)

void ps_rmsnorm_rows(const float *x, int64_t x_stride, const float *w, float *y, int64_t y_stride,
                     int64_t rows, int64_t n, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * x_stride;
        float *yr = y + r * y_stride;
        // 8 interleaved partial sums in double: fixed order, accurate, vectorisable.
        double acc[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; j++) acc[j] += (double)xr[i + j] * (double)xr[i + j];
        double sum = 0;
        for (int j = 0; j < 8; j++) sum += acc[j];
        for (; i < n; i++) sum += (double)xr[i] * (double)xr[i];
        float inv = (float)(1.0 / sqrt(sum / (double)n + (double)eps));
        for (i = 0; i < n; i++) yr[i] = xr[i] * inv * w[i];
    }
}

void ps_rope_table(const double *inv_freq, int64_t half, double pos, float *cs) {
    for (int64_t i = 0; i < half; i++) {
        const double a = pos * inv_freq[i];
        cs[i] = (float)cos(a);
        cs[half + i] = (float)sin(a);
    }
}

void ps_rope_apply(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox) {
    const int64_t half = n_rot / 2;
    const float *sn = cs + half;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
            float a = v[i0], b = v[i1];
            v[i0] = a * cs[i] - b * sn[i];
            v[i1] = b * cs[i] + a * sn[i];
        }
    }
}

// gelu_tanh(x) = x * (1 + tanh(y)) / 2 = x / (1 + exp(-2y)), y = sqrt(2/pi) (x + 0.044715 x^3);
// silu(x) = x / (1 + exp(-x)); sampling weights exp((x - max) / T); attention's softmax weights
// exp(s - m) in place (a NaN score stays NaN, so a broken row still shows; a libm expf per score
// had kept attention's running sum in memory across the calls). One loop body per function,
// instantiated for each ISA level.
#define GATE_LOOPS(SUFFIX, ATTR)                                                                  \
    ATTR static void gelu_mul_##SUFFIX(float *g, const float *u, int64_t n) {                     \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = g[i];                                                                 \
            const float y = 0.7978845608028654f * (x + 0.044715f * x * x * x);                    \
            g[i] = x / (1.0f + ps__exp(-2.0f * y)) * u[i];                                        \
        }                                                                                         \
    }                                                                                             \
    ATTR static void silu_mul_##SUFFIX(float *g, const float *u, int64_t n) {                     \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float x = g[i];                                                                 \
            g[i] = x / (1.0f + ps__exp(-x)) * u[i];                                               \
        }                                                                                         \
    }                                                                                             \
    ATTR static void weights_##SUFFIX(const float *x, int64_t n, float max, float inv_t, float *w) { \
        for (int64_t i = 0; i < n; i++) {                                                         \
            const float a = (x[i] - max) * inv_t;                                                 \
            w[i] = a == a ? ps__exp(a) : 0.0f;                                                    \
        }                                                                                         \
    }                                                                                             \
    ATTR static void softmax_exp_##SUFFIX(float *s, int64_t n, float m) {                        \
        for (int64_t j = 0; j < n; j++) {                                                         \
            const float a = s[j] - m;                                                             \
            s[j] = a == a ? ps__exp(a) : a;                                                       \
        }                                                                                         \
    }
GATE_LOOPS(portable, )
#if defined(__x86_64__)
GATE_LOOPS(avx2, __attribute__((target("avx2"))))
GATE_LOOPS(avx512, __attribute__((target("avx512f"))))
#endif

void ps__softmax_exp(float *s, int64_t n, float m) {
#if defined(__x86_64__)
    const int isa = ps_isa_current();
    if (isa >= PS_ISA_AVX512) { softmax_exp_avx512(s, n, m); return; }
    if (isa >= PS_ISA_AVX2) { softmax_exp_avx2(s, n, m); return; }
#endif
    softmax_exp_portable(s, n, m);
}

void ps_sampling_weights(const float *x, int64_t n, float max, float inv_t, float *w) {
#if defined(__x86_64__)
    const int isa = ps_isa_current();
    if (isa >= PS_ISA_AVX512) { weights_avx512(x, n, max, inv_t, w); return; }
    if (isa >= PS_ISA_AVX2) { weights_avx2(x, n, max, inv_t, w); return; }
#endif
    weights_portable(x, n, max, inv_t, w);
}

void ps_gelu_tanh_mul(float *g, const float *u, int64_t n) {
#if defined(__x86_64__)
    const int isa = ps_isa_current();
    if (isa >= PS_ISA_AVX512) { gelu_mul_avx512(g, u, n); return; }
    if (isa >= PS_ISA_AVX2) { gelu_mul_avx2(g, u, n); return; }
#endif
    gelu_mul_portable(g, u, n);
}

void ps_silu_mul(float *g, const float *u, int64_t n) {
#if defined(__x86_64__)
    const int isa = ps_isa_current();
    if (isa >= PS_ISA_AVX512) { silu_mul_avx512(g, u, n); return; }
    if (isa >= PS_ISA_AVX2) { silu_mul_avx2(g, u, n); return; }
#endif
    silu_mul_portable(g, u, n);
}

void ps_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void ps_scale(float *y, const float *x, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

static int64_t argmax_scalar(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

#if defined(__x86_64__)
#define TGT512 __attribute__((target("avx512f")))
// The scalar loop's answer: the first index of the largest value that is not NaN (NaNs never
// compare greater; a NaN at 0 is never replaced). One pass for the maximum over the ordered lanes,
// one for its first index (the 262k logits of a Gemma token are 1 MB, read from L2).
TGT512 static int64_t argmax_avx512(const float *x, int64_t n) {
    if (x[0] != x[0]) return 0;
    __m512 m = _mm512_set1_ps(x[0]);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        m = _mm512_mask_max_ps(m, _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), m, v);
    }
    float best = _mm512_reduce_max_ps(m);
    for (int64_t j = i; j < n; j++)
        if (x[j] > best) best = x[j];
    const __m512 b = _mm512_set1_ps(best);
    for (i = 0; i + 16 <= n; i += 16) {
        const __mmask16 e = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), b, _CMP_EQ_OQ);
        if (e) return i + __builtin_ctz(e);
    }
    for (; i < n; i++)
        if (x[i] == best) return i;
    return 0;
}
#endif

int64_t ps_argmax(const float *x, int64_t n) {
    if (n <= 0) return 0;
#if defined(__x86_64__)
    if (ps_isa_current() >= PS_ISA_AVX512) return argmax_avx512(x, n);
#endif
    return argmax_scalar(x, n);
}
