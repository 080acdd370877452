// Float32 layer operations. Plain C with fixed-order loops: the compiler may vectorise the
// element-wise ones (no reassociation of reductions without -ffast-math, so sums are in order).
#include "ps_ops.h"
#include <math.h>

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

void ps_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const double *inv_freq, double pos, int neox) {
    int64_t half = n_rot / 2;
    float cs[512], sn[512];
    if (half > 512) half = 512;
    for (int64_t i = 0; i < half; i++) {
        double a = pos * inv_freq[i];
        cs[i] = (float)cos(a);
        sn[i] = (float)sin(a);
    }
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

void ps_gelu_tanh_mul(float *g, const float *u, int64_t n) {
    const float c = 0.7978845608028654f;  // sqrt(2/pi)
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        g[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * u[i];
    }
}

void ps_silu_mul(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float x = g[i];
        g[i] = x / (1.0f + expf(-x)) * u[i];
    }
}

void ps_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void ps_scale(float *y, const float *x, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    for (; i < n; i++) acc[i & 15] += a[i] * b[i];
    float s = 0;
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

void ps_attention_query(const float *q, const float *k, const float *v, int64_t kv_stride, int64_t lo, int64_t hi,
                        int64_t n_head, int64_t n_kv_head, int64_t hd, float scale, float softcap,
                        int64_t head_lo, int64_t head_hi, float *scratch, float *out) {
    int64_t group = n_head / (n_kv_head > 0 ? n_kv_head : 1);
    if (group < 1) group = 1;
    int64_t n = hi - lo;
    for (int64_t h = head_lo; h < head_hi; h++) {
        const float *qh = q + h * hd;
        int64_t g = h / group;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            float s = scale * dot_f32(qh, k + (lo + j) * kv_stride + g * hd, hd);
            if (softcap > 0) s = softcap * tanhf(s / softcap);
            scratch[j] = s;
            if (s > mx) mx = s;
        }
        double sum = 0;
        for (int64_t j = 0; j < n; j++) {
            float e = expf(scratch[j] - mx);
            scratch[j] = e;
            sum += e;
        }
        float inv = n > 0 ? (float)(1.0 / sum) : 0.0f;
        float *oh = out + h * hd;
        for (int64_t d = 0; d < hd; d++) oh[d] = 0;
        for (int64_t j = 0; j < n; j++) {
            const float *vj = v + (lo + j) * kv_stride + g * hd;
            float p = scratch[j] * inv;
            for (int64_t d = 0; d < hd; d++) oh[d] += p * vj[d];
        }
    }
}

int64_t ps_argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}
