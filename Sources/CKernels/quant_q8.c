// quant_q8.c — 8-bit activations: their row layout, their quantization, the activation-mode
// switch, the portable integer matmul (the reference every SIMD path reproduces bit for bit)
// and the dispatch of ps_matmul_q8. Layouts and the arithmetic are described in ps_quant.h.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

// ---- layout -----------------------------------------------------------------------------------

int ps__act_kind(int type) {
    switch (type) {
    case PS_TYPE_Q4_0: case PS_TYPE_Q5_0: case PS_TYPE_Q8_0: return PS_ACT_Q8_32;
    case PS_TYPE_Q4_K: case PS_TYPE_Q5_K: case PS_TYPE_Q6_K: return PS_ACT_Q8_256;
    default: return 0;
    }
}

static int64_t round64(int64_t n) { return (n + 63) & ~(int64_t)63; }

int64_t ps_act_row_bytes(int type, int64_t k) {
    switch (ps__act_kind(type)) {
    case PS_ACT_Q8_32:
        if (k <= 0 || k % 32) return 0;
        return round64(k + k + k / 2);                  // qs | corr (k/4 int32) | d (k/8 f32)
    case PS_ACT_Q8_256:
        if (k <= 0 || k % 256) return 0;
        return round64(k + k / 256 * 4 + k / 16 * 2 + k / 32);  // qs | d | bsums | sh
    default: return 0;
    }
}

// The offset the unsigned form of a weight carries (w = u - offset), used by corr.
static int act_offset(int type) {
    return type == PS_TYPE_Q4_0 ? 8 : type == PS_TYPE_Q5_0 ? 16 : 128;
}

// ---- quantization -----------------------------------------------------------------------------

// Quantizes n values to q = nearest(x * 127 / amax) (ties to even); returns the scale amax/127.
static float quantize_block(const float *x, int8_t *q, int n) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < n; i++) {
        long v = lrintf(x[i] * id);
        v = v > 127 ? 127 : v < -127 ? -127 : v;
        q[i] = (int8_t)v;
    }
    return d;
}

float ps__amax(const float *x, int n) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float a = fabsf(x[i]);
        amax = a > amax ? a : amax;
    }
    return amax;
}

int ps__act_exponent(float sub_amax, float amax) {
    // The largest e <= PS_ACT_SHIFT_MAX with sub_amax * 2^e <= amax, from the exponent and
    // mantissa bits of two normal numbers (sub_amax <= amax); anything else by the definition.
    uint32_t s, a;
    memcpy(&s, &sub_amax, 4);
    memcpy(&a, &amax, 4);
    const int es = (int)(s >> 23) & 0xFF, ea = (int)(a >> 23) & 0xFF;
    if (es > 0 && es < 255 && ea < 255 && (s >> 31) == 0 && (a >> 31) == 0 && sub_amax <= amax) {
        const int e = ea - es - ((s & 0x7FFFFF) > (a & 0x7FFFFF));
        return e < PS_ACT_SHIFT_MAX ? e : PS_ACT_SHIFT_MAX;
    }
    int e = 0;
    while (e < PS_ACT_SHIFT_MAX && ldexpf(sub_amax, e + 1) <= amax) e++;
    return e;
}

// One K-type super-block of 256 (layout in ps_quant.h): qs, the stored scale, 8 shifts; bsums
// are left to the caller.
static float quantize_block256(const float *x, int8_t *q, uint8_t sh[8]) {
    const float amax = ps__amax(x, 256);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int s = 0; s < 8; s++) {
        const int e = ps__act_exponent(ps__amax(x + 32 * s, 32), amax);
        const float ide = id * (float)(1 << e);   // exact: a power of two
        sh[s] = (uint8_t)(PS_ACT_SHIFT_MAX - e);
        for (int i = 32 * s; i < 32 * s + 32; i++) {
            long v = lrintf(x[i] * ide);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            q[i] = (int8_t)v;
        }
    }
    return d * (1.0f / (1 << PS_ACT_SHIFT_MAX));
}

void ps_quantize_activations(int type, const float *x, int64_t x_stride, int64_t nb, int64_t k,
                             void *out) {
    const int64_t rb = ps_act_row_bytes(type, k);
    if (rb == 0 || nb <= 0 || !x || !out) return;
#if defined(__x86_64__)
    if (ps_isa_current() == PS_ISA_AVX512) {
        ps__quantize_act_avx512(type, x, x_stride, nb, k, out);
        return;
    }
#endif
    for (int64_t b = 0; b < nb; b++) {
        const float *xr = x + b * x_stride;
        uint8_t *row = (uint8_t *)out + b * rb;
        int8_t *qs = (int8_t *)row;
        if (ps__act_kind(type) == PS_ACT_Q8_32) {
            int32_t *corr = (int32_t *)(row + k);
            float *d = (float *)(row + 2 * k);
            const int off = act_offset(type);
            for (int64_t g = 0; g < k / 8; g++) d[g] = quantize_block(xr + 8 * g, qs + 8 * g, 8);
            for (int64_t j = 0; j < k / 4; j++) {
                const int8_t *q = qs + 4 * j;
                corr[j] = -off * (q[0] + q[1] + q[2] + q[3]);
            }
        } else {
            float *d = (float *)(row + k);
            int16_t *bs = (int16_t *)(row + k + k / 256 * 4);
            uint8_t *sh = row + k + k / 256 * 4 + k / 16 * 2;
            for (int64_t i = 0; i < k / 256; i++) {
                d[i] = quantize_block256(xr + 256 * i, qs + 256 * i, sh + 8 * i);
                for (int j = 0; j < 16; j++) {
                    int s = 0;
                    for (int l = 0; l < 16; l++) s += qs[256 * i + 16 * j + l];
                    bs[16 * i + j] = (int16_t)s;
                }
            }
        }
    }
}

// ---- activation mode --------------------------------------------------------------------------

static _Atomic int ps_act_process = -1;
static _Thread_local int ps_act_thread = -1;

static int act_process_mode(void) {
    int m = atomic_load_explicit(&ps_act_process, memory_order_relaxed);
    if (m < 0) {
        m = PS_ACTIVATIONS_Q8;
        const char *env = getenv("PIPESERVE_ACTIVATIONS");
        if (env && strcmp(env, "f32") == 0) m = PS_ACTIVATIONS_F32;
        atomic_store_explicit(&ps_act_process, m, memory_order_relaxed);
    }
    return m;
}

int ps_activations_current(void) {
    return ps_act_thread >= 0 ? ps_act_thread : act_process_mode();
}

int ps_activations_set(int mode) {
    ps_act_thread = mode == PS_ACTIVATIONS_F32 ? PS_ACTIVATIONS_F32 : PS_ACTIVATIONS_Q8;
    return ps_act_thread;
}

int ps_activations_for(int type) {
    return ps_activations_current() == PS_ACTIVATIONS_Q8 && ps__act_kind(type) != 0;
}

// ---- portable matmul (the reference arithmetic) -----------------------------------------------

float ps__tree8(const float v[8]) {
    float t[4], u[2];
    for (int j = 0; j < 4; j++) t[j] = v[j] + v[j + 4];
    for (int j = 0; j < 2; j++) u[j] = t[j] + t[j + 2];
    return u[0] + u[1];
}

float ps__tree16(const float v[16]) {
    float h[8];
    for (int j = 0; j < 8; j++) h[j] = v[j] + v[j + 8];
    return ps__tree8(h);
}

// One block of 32 weights of a "_0" type as signed integers, in element order.
static void weights32(int type, const uint8_t *b, int8_t w[32]) {
    if (type == PS_TYPE_Q8_0) {
        memcpy(w, b + 2, 32);
    } else if (type == PS_TYPE_Q4_0) {
        for (int j = 0; j < 16; j++) {
            w[j] = (int8_t)((b[2 + j] & 0xF) - 8);
            w[j + 16] = (int8_t)((b[2 + j] >> 4) - 8);
        }
    } else {
        const uint32_t qh = (uint32_t)b[2] | ((uint32_t)b[3] << 8) | ((uint32_t)b[4] << 16) |
                            ((uint32_t)b[5] << 24);
        for (int j = 0; j < 16; j++) {
            w[j] = (int8_t)(((b[6 + j] & 0xF) | (((qh >> j) & 1) << 4)) - 16);
            w[j + 16] = (int8_t)(((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
    }
}

static float dot32(int type, const uint8_t *w, size_t bb, int64_t nblk, const uint8_t *xr, int64_t k) {
    const int8_t *xq = (const int8_t *)xr;
    const float *xd = (const float *)(xr + 2 * k);
    float acc[2][8] = {{0}};
    for (int64_t i = 0; i < nblk; i++, w += bb) {
        int8_t q[32];
        weights32(type, w, q);
        const float dw = ps_f16_to_f32(ps__rd16(w));
        for (int j = 0; j < 8; j++) {
            int p = 0;
            for (int t = 0; t < 4; t++) p += q[4 * j + t] * xq[32 * i + 4 * j + t];
            acc[i & 1][j] = fmaf(dw * xd[4 * i + j / 2], (float)p, acc[i & 1][j]);
        }
    }
    float v[8];
    for (int j = 0; j < 8; j++) v[j] = acc[0][j] + acc[1][j];
    return ps__tree8(v);
}

// One K-quant super-block as unsigned quants u[256] with per-element integer scales sc[256]
// (w = d * sc * u - dmin * min for Q4_K/Q5_K; w = d * sc * (u - 32) for Q6_K).
static void weights256(int type, const uint8_t *b, uint8_t u[256], int16_t sc[256], int16_t mins[8]) {
    if (type == PS_TYPE_Q6_K) {
        const int8_t *s = (const int8_t *)(b + 192);
        ps__q6_unsigned(b, u);
        for (int e = 0; e < 256; e++) sc[e] = s[e / 16];
        return;
    }
    const uint8_t *qs = b + (type == PS_TYPE_Q4_K ? 16 : 48);
    const uint8_t *qh = b + 16;
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            u[64 * c + l] = qs[32 * c + l] & 0xF;
            u[64 * c + 32 + l] = qs[32 * c + l] >> 4;
            if (type == PS_TYPE_Q5_K) {
                u[64 * c + l] |= (uint8_t)(((qh[l] >> (2 * c)) & 1) << 4);
                u[64 * c + 32 + l] |= (uint8_t)(((qh[l] >> (2 * c + 1)) & 1) << 4);
            }
        }
    }
    for (int s = 0; s < 8; s++) {
        uint8_t a, m;
        ps__scale_min_k4(s, b + 4, &a, &m);
        for (int l = 0; l < 32; l++) sc[32 * s + l] = a;
        mins[s] = m;
    }
}

static float dot256(int type, const uint8_t *w, size_t bb, int64_t nblk, const uint8_t *xr, int64_t k) {
    const int8_t *xq = (const int8_t *)xr;
    const float *xd = (const float *)(xr + k);
    const int16_t *bs = (const int16_t *)(xr + k + k / 256 * 4);
    const uint8_t *sh = xr + k + k / 256 * 4 + k / 16 * 2;
    float acc[16] = {0}, macc[8] = {0};
    for (int64_t i = 0; i < nblk; i++, w += bb, xq += 256, bs += 16, sh += 8) {
        uint8_t u[256];
        int16_t sc[256], mins[8];
        weights256(type, w, u, sc, mins);
        int32_t sumi[16] = {0};
        for (int c = 0; c < 4; c++)
            for (int L = 0; L < 16; L++)
                for (int t = 0; t < 4; t++) {
                    const int e = 64 * c + 4 * L + t;
                    sumi[L] += sc[e] * (1 << sh[e / 32]) * u[e] * xq[e];
                }
        const float d = ps_f16_to_f32(ps__rd16(type == PS_TYPE_Q6_K ? w + 208 : w));
        const float dd = d * xd[i];
        if (type == PS_TYPE_Q6_K) {
            const int8_t *s = (const int8_t *)(w + 192);
            for (int j = 0; j < 8; j++) {
                const int m = 1 << sh[j];
                sumi[j] -= 32 * (s[2 * j] * m * bs[2 * j] + s[2 * j + 1] * m * bs[2 * j + 1]);
            }
        } else {
            const float ndm = -(ps_f16_to_f32(ps__rd16(w + 2)) * xd[i]);
            for (int j = 0; j < 8; j++) {
                const int m = mins[j] * (1 << sh[j]);
                macc[j] = fmaf(ndm, (float)(m * bs[2 * j] + m * bs[2 * j + 1]), macc[j]);
            }
        }
        for (int L = 0; L < 16; L++) acc[L] = fmaf(dd, (float)sumi[L], acc[L]);
    }
    const float y = ps__tree16(acc);
    return type == PS_TYPE_Q6_K ? y : y + ps__tree8(macc);
}

void ps__matmul_q8_portable(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq,
                            int64_t nb, float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type);
    const int64_t rb = ps_act_row_bytes(type, k);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * w_row_bytes;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *xr = (const uint8_t *)xq + b * rb;
            y[b * y_stride + r] = be == 32 ? dot32(type, row, (size_t)bb, k / 32, xr, k)
                                           : dot256(type, row, (size_t)bb, k / 256, xr, k);
        }
    }
}

// ---- dispatch ---------------------------------------------------------------------------------

void ps_matmul_q8(int type, const void *w, size_t w_row_bytes, int64_t k, const void *xq, int64_t nb,
                  float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type);
    if (ps_act_row_bytes(type, k) == 0 || nb <= 0 || r1 <= r0 || r0 < 0) return;
    if (!w || !xq || !y) return;
    if ((int64_t)w_row_bytes < k / be * ps_type_block_bytes(type) && r1 - r0 > 1) return;
#if defined(__x86_64__)
    switch (ps_isa_current()) {
    case PS_ISA_AVX512:
        if (ps_isa_vnni()) {
            ps__matmul_q8_avx512(type, w, w_row_bytes, k, xq, nb, y, y_stride, r0, r1);
            return;
        }
        // fallthrough
    case PS_ISA_AVX2:
        ps__matmul_q8_avx2(type, w, w_row_bytes, k, xq, nb, y, y_stride, r0, r1);
        return;
    default: break;
    }
#endif
    ps__matmul_q8_portable(type, w, w_row_bytes, k, xq, nb, y, y_stride, r0, r1);
}
