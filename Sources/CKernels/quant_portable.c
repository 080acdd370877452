// quant_portable.c — portable C dequantization (ggml block layouts, see ps_quant.h) and the
// portable matmul. Runs on any CPU; the values it dequantizes are bitwise those of ggml's
// dequantize_row_* (same operations, no fused multiply-add).
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#include <string.h>

#pragma clang fp contract(off)

static void dq_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }

static void dq_f16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = ps_f16_to_f32(ps__rd16(p + 2 * i));
}

static void dq_bf16(const void *src, float *dst, int64_t n) {
    const uint8_t *p = src;
    for (int64_t i = 0; i < n; i++) dst[i] = ps_bf16_to_f32(ps__rd16(p + 2 * i));
}

static void dq_q4_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 18, dst += 32) {
        const float d = ps_f16_to_f32(ps__rd16(b));
        const uint8_t *qs = b + 2;
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((qs[j] & 0xF) - 8) * d;
            dst[j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q5_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 22, dst += 32) {
        const float d = ps_f16_to_f32(ps__rd16(b));
        const uint32_t qh = (uint32_t)b[2] | ((uint32_t)b[3] << 8) | ((uint32_t)b[4] << 16) |
                            ((uint32_t)b[5] << 24);
        const uint8_t *qs = b + 6;
        for (int j = 0; j < 16; j++) {
            const int lo = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            const int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            dst[j] = (float)(lo - 16) * d;
            dst[j + 16] = (float)(hi - 16) * d;
        }
    }
}

static void dq_q8_0(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 34, dst += 32) {
        const float d = ps_f16_to_f32(ps__rd16(b));
        const int8_t *qs = (const int8_t *)(b + 2);
        for (int j = 0; j < 32; j++) dst[j] = (float)qs[j] * d;
    }
}

static void dq_q4_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 144) {
        const float d = ps_f16_to_f32(ps__rd16(b));
        const float dmin = ps_f16_to_f32(ps__rd16(b + 2));
        const uint8_t *scales = b + 4;
        const uint8_t *q = b + 16;
        for (int c = 0; c < 4; c++, q += 32) {
            uint8_t sc, m;
            ps__scale_min_k4(2 * c, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ps__scale_min_k4(2 * c + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *dst++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void dq_q5_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 176) {
        const float d = ps_f16_to_f32(ps__rd16(b));
        const float dmin = ps_f16_to_f32(ps__rd16(b + 2));
        const uint8_t *scales = b + 4;
        const uint8_t *qh = b + 16;
        const uint8_t *ql = b + 48;
        for (int c = 0; c < 4; c++, ql += 32) {
            uint8_t sc, m;
            ps__scale_min_k4(2 * c, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            ps__scale_min_k4(2 * c + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *dst++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
        }
    }
}

static void dq_q6_k(const void *src, float *dst, int64_t nblocks) {
    const uint8_t *b = src;
    for (int64_t i = 0; i < nblocks; i++, b += 210) {
        const uint8_t *ql = b;
        const uint8_t *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        const float d = ps_f16_to_f32(ps__rd16(b + 208));
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, dst += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (float)sc[is + 0] * (float)q1;
                dst[l + 32] = d * (float)sc[is + 2] * (float)q2;
                dst[l + 64] = d * (float)sc[is + 4] * (float)q3;
                dst[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

ps_dequant_blocks_fn ps__dequant_portable(int type) {
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
// Each (row, activation) dot product keeps 16 partial sums; element i goes to sum i % 16 in
// increasing i, and the sums are added pairwise at the end. Rows are dequantized in chunks of
// KC elements into a stack buffer once and used for every activation row.

enum { KC = 2048, NBS = 64, LANES = 16 };

static inline void dot_lanes(float acc[LANES], const float *w, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += w[i + l] * x[i + l];
    for (int l = 0; i + l < n; l++) acc[l] += w[i + l] * x[i + l];
}

static inline float reduce_lanes(const float acc[LANES]) {
    float t[LANES];
    memcpy(t, acc, sizeof(t));
    for (int width = LANES / 2; width >= 1; width /= 2)
        for (int l = 0; l < width; l++) t[l] = t[l] + t[l + width];
    return t[0];
}

void ps__matmul_portable(int type, const void *w, size_t w_row_bytes, int64_t k,
                         const float *x, int64_t x_stride, int64_t nb,
                         float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type);
    ps_dequant_blocks_fn dq = ps__dequant_portable(type);
    float wbuf[KC];
    float accbuf[NBS][LANES];
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * w_row_bytes;
        for (int64_t bs = 0; bs < nb; bs += NBS) {
            const int64_t nbs = nb - bs < NBS ? nb - bs : NBS;
            for (int64_t c0 = 0; c0 < k; c0 += KC) {
                const int64_t kc = k - c0 < KC ? k - c0 : KC;
                const float *wr;
                if (type == PS_TYPE_F32) {
                    wr = (const float *)row + c0;
                } else {
                    dq(row + c0 / be * bb, wbuf, kc / be);
                    wr = wbuf;
                }
                for (int64_t b = 0; b < nbs; b++) {
                    float *acc = accbuf[b];
                    if (c0 == 0) memset(acc, 0, sizeof(float) * LANES);
                    dot_lanes(acc, wr, x + (bs + b) * x_stride + c0, kc);
                    if (c0 + kc == k) y[(bs + b) * y_stride + r] = reduce_lanes(acc);
                }
            }
        }
    }
}
