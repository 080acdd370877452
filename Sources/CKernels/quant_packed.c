// quant_packed.c — the packed (16-row interleaved) layout of Q5_0, Q8_0 and Q4_K weights: packing
// at load, unpacking (tests, the portable path), the portable matmul over it (each row unpacked
// and run through quant_q8.c's portable kernel) and the dispatch. Layout in ps_quant.h.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

#if defined(__linux__)
#include <sys/mman.h>
#endif

enum { HUGE_PAGE = 2 << 20 };

static size_t huge_round(size_t n) { return (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1); }

void *ps_packed_alloc(size_t n) {
    if (n == 0) return NULL;
#if defined(__linux__)
    // Over-allocate by one huge page, trim to a 2 MiB-aligned range, then ask for huge pages.
    const size_t m = huge_round(n);
    uint8_t *raw = mmap(NULL, m + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    if (p + m < raw + m + HUGE_PAGE) munmap(p + m, (size_t)(raw + m + HUGE_PAGE - (p + m)));
    madvise(p, m, MADV_HUGEPAGE);
    // Fault the pages in now, in one call: left to first touch, huge-page faults took 0.05-0.35 s
    // for 178 MB here, against 0.02 s populated (Linux >= 5.14; older kernels ignore it).
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
    madvise(p, m, MADV_POPULATE_WRITE);
    return p;
#else
    return aligned_alloc(64, (n + 63) & ~(size_t)63);
#endif
}

void ps_packed_free(void *p, size_t n) {
    if (!p) return;
#if defined(__linux__)
    munmap(p, huge_round(n));
#else
    free(p);
#endif
}

static int packable(int type) {
    return type == PS_TYPE_Q5_0 || type == PS_TYPE_Q8_0 || type == PS_TYPE_Q4_K || type == PS_TYPE_Q6_K;
}
static int64_t group_block_bytes(int type) {
    return type == PS_TYPE_Q8_0 ? 544 : type == PS_TYPE_Q4_K ? 2368 : type == PS_TYPE_Q6_K ? 3360 : 352;
}

int64_t ps_packed_bytes(int type, int64_t rows, int64_t k) {
    if (!packable(type) || rows <= 0 || rows % 16 || k <= 0 || k % ps_type_block_elems(type)) return 0;
    return rows / 16 * (k / ps_type_block_elems(type)) * group_block_bytes(type);
}

static _Thread_local int packed_thread = -1;

int ps_packed_set(int mode) {
    packed_thread = mode < 0 ? -1 : mode > 0 ? 1 : 0;
    return packed_thread;
}

int ps_arena_preferred(void) {
    if (packed_thread == 0) return 0;
    const char *env = getenv("PIPESERVE_PACK");
    return !(env && strcmp(env, "off") == 0);
}

int ps_packed_preferred(int type, int64_t k) {
    // Q5_0 and Q4_K: unpacking made their row-major kernels compute-bound (Q5_0 1.75-1.92x
    // packed; Q4_K read 17-18 GB/s in decode, its 6-bit scales decoded per row and super-block).
    // Q8_0 with short rows: there the row-major kernel's per-row work makes it compute-bound (Gemma's
    // 262k x 640 head: 26-29 GB/s from L2/L3, 0.91-0.94x of a plain read from memory); packed it
    // reads 57 GB/s from cache and 1.03x a plain read from memory (k = 1024: 0.97-1.08x against
    // 0.89-0.95x). From k = 2048 the two tie (TinyLlama's shape, in decode too), and a packed
    // copy of every Q8_0 matrix would double a Q8_0 model's memory for nothing.
    // Q6_K: the row-major kernel read 67-80 % of a plain read in a decode step with any prefetch
    // distance, packed 98-104 % (scripts/bench-kernels, Gemma's 640 x 2048 ffn_down).
    if (type == PS_TYPE_Q8_0 && k > 1024) return 0;
    if (!packable(type) || !ps_arena_preferred()) return 0;
#if defined(__x86_64__)
    // The process level (a thread's ps_isa_set does not decide how a model is loaded).
    return ps_isa_vnni() && ps__isa_process_level() == PS_ISA_AVX512;
#else
    return 0;
#endif
}

int ps_packed_batch_preferred(int type, int64_t k, int64_t nb) {
    if (nb <= 1) return 1;
    // Batches unpack each group once (quant_packed_avx512.c). Measured against the row-major
    // tiles on random weights of Gemma's shapes, one thread, best of 5 (GMAC/s ratio packed /
    // row-major; scripts/bench/batch_matmul.c, nb = 2, 4, 8, 16, 64, 512), since the K types'
    // activations carry sub-block shifts (issue 20; the row-major tiles then shift a scale vector
    // per activation row and chunk, the packed kernel once per super-block and row): Q5_0 1.51-1.55
    // at 512, Q8_0 1.42; Q4_K 640 x 2048 1.13 1.51 1.32 1.50 1.60 1.50; Q6_K 640 x 2048 1.33 1.05
    // 1.52 1.45 1.54 1.32 (before the shifts Q6_K's row-major tiles had been faster: 0.67-0.98).
    (void)k;
    switch (type) {
    case PS_TYPE_Q5_0: case PS_TYPE_Q8_0: case PS_TYPE_Q4_K: case PS_TYPE_Q6_K: return 1;
    default: return 0;
    }
}

// Unsigned 5-bit quants u[32] of a Q5_0 block (u = q + 16), element order.
static void q5_unsigned(const uint8_t *b, uint8_t u[32]) {
    const uint32_t qh = (uint32_t)b[2] | ((uint32_t)b[3] << 8) | ((uint32_t)b[4] << 16) | ((uint32_t)b[5] << 24);
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((b[6 + j] & 0xF) | (((qh >> j) & 1) << 4));
        u[j + 16] = (uint8_t)((b[6 + j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
}

// Q4_K super-block i of rows 16g..16g+15 (b[r] its bytes in row r) as one group-block.
static void pack_q4_k(const uint8_t *const b[16], uint8_t *out) {
    for (int r = 0; r < 16; r++) {
        memcpy(out + 2 * r, b[r], 2);
        memcpy(out + 32 + 2 * r, b[r] + 2, 2);
        for (int j = 0; j < 8; j++) ps__scale_min_k4(j, b[r] + 4, out + 64 + 16 * j + r, out + 192 + 16 * j + r);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 8; l++) memcpy(out + 320 + 256 * l + 64 * c + 4 * r, b[r] + 16 + 32 * c + 4 * l, 4);
    }
}

// Q6_K super-block i of rows 16g..16g+15 (b[r] its bytes in row r) as one group-block.
static void pack_q6_k(const uint8_t *const b[16], uint8_t *out) {
    for (int r = 0; r < 16; r++) {
        memcpy(out + 2 * r, b[r] + 208, 2);
        for (int j = 0; j < 8; j++) memcpy(out + 32 + 32 * j + 2 * r, b[r] + 192 + 2 * j, 2);
        uint8_t u[256];
        ps__q6_unsigned(b[r], u);
        for (int l = 0; l < 8; l++) {
            uint8_t *n = out + 288 + 384 * l;
            for (int t = 0; t < 4; t++) {
                uint8_t h0 = 0, h1 = 0;
                for (int c = 0; c < 4; c++) {
                    const uint8_t lo = u[64 * c + 4 * l + t], hi = u[64 * c + 32 + 4 * l + t];
                    n[128 + 64 * c + 4 * r + t] = (uint8_t)((lo & 0xF) | (hi & 0xF) << 4);
                    h0 |= (uint8_t)((lo >> 4) << (2 * c));
                    h1 |= (uint8_t)((hi >> 4) << (2 * c));
                }
                n[4 * r + t] = h0;
                n[64 + 4 * r + t] = h1;
            }
        }
    }
}

int ps_pack_rows(int type, const void *w, size_t w_row_bytes, int64_t k, int64_t rows, void *dst) {
    if (ps_packed_bytes(type, rows, k) == 0 || !w || !dst) return -1;
    const int64_t bb = ps_type_block_bytes(type), nblk = k / ps_type_block_elems(type), gb = group_block_bytes(type);
    if ((int64_t)w_row_bytes < nblk * bb) return -1;
    uint8_t *out = dst;
    for (int64_t g = 0; g < rows / 16; g++)
        for (int64_t i = 0; i < nblk; i++, out += gb) {
            if (type == PS_TYPE_Q4_K || type == PS_TYPE_Q6_K) {
                const uint8_t *b[16];
                for (int r = 0; r < 16; r++) b[r] = (const uint8_t *)w + (size_t)(16 * g + r) * w_row_bytes + i * bb;
                if (type == PS_TYPE_Q4_K) pack_q4_k(b, out);
                else pack_q6_k(b, out);
                continue;
            }
            uint64_t h[8] = {0};
            for (int r = 0; r < 16; r++) {
                const uint8_t *b = (const uint8_t *)w + (size_t)(16 * g + r) * w_row_bytes + i * bb;
                memcpy(out + 2 * r, b, 2);
                if (type == PS_TYPE_Q8_0) {
                    for (int j = 0; j < 8; j++) {
                        uint32_t c;
                        memcpy(&c, b + 2 + 4 * j, 4);
                        c ^= 0x80808080u;
                        memcpy(out + 32 + 64 * j + 4 * r, &c, 4);
                    }
                } else {
                    uint8_t u[32];
                    q5_unsigned(b, u);
                    for (int j = 0; j < 8; j++) {
                        const uint8_t *v = u + 4 * j;
                        for (int t = 0; t < 4; t++) {   // chunk j: low nibbles of n[j], or high ones of n[j - 4]
                            uint8_t *n = out + 32 + 64 * (j % 4) + 4 * r + t;
                            *n = j < 4 ? (uint8_t)(v[t] & 0xF) : (uint8_t)(*n | (v[t] & 0xF) << 4);
                        }
                        const uint64_t bits = (uint64_t)(v[0] >> 4 | (v[1] >> 4) << 1 | (v[2] >> 4) << 2 | (v[3] >> 4) << 3);
                        h[j] |= bits << (4 * r);
                    }
                }
            }
            if (type == PS_TYPE_Q5_0) memcpy(out + 288, h, sizeof h);   // little-endian: bit 4r+t is byte (4r+t)/8
        }
    return 0;
}

// Block i of row r (r < 16 within its group `g`) in the GGUF layout.
static void unpack_block(int type, const uint8_t *gblk, int r, uint8_t *b) {
    if (type == PS_TYPE_Q6_K) {
        memcpy(b + 208, gblk + 2 * r, 2);
        for (int j = 0; j < 8; j++) memcpy(b + 192 + 2 * j, gblk + 32 + 32 * j + 2 * r, 2);
        uint8_t u[256];
        for (int l = 0; l < 8; l++) {
            const uint8_t *n = gblk + 288 + 384 * l;
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 4; c++) {
                    const uint8_t v = n[128 + 64 * c + 4 * r + t];
                    u[64 * c + 4 * l + t] = (uint8_t)((v & 0xF) | ((n[4 * r + t] >> (2 * c)) & 3) << 4);
                    u[64 * c + 32 + 4 * l + t] = (uint8_t)((v >> 4) | ((n[64 + 4 * r + t] >> (2 * c)) & 3) << 4);
                }
        }
        // ps__q6_unsigned's bit for bit inverse: every bit of ql and qh is one quant's.
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                const uint8_t *q = u + 128 * h + l;
                b[64 * h + l] = (uint8_t)((q[0] & 0xF) | (q[64] & 0xF) << 4);
                b[64 * h + l + 32] = (uint8_t)((q[32] & 0xF) | (q[96] & 0xF) << 4);
                b[128 + 32 * h + l] = (uint8_t)((q[0] >> 4) | (q[32] >> 4) << 2 | (q[64] >> 4) << 4 | (q[96] >> 4) << 6);
            }
        return;
    }
    if (type == PS_TYPE_Q4_K) {
        memcpy(b, gblk + 2 * r, 2);
        memcpy(b + 2, gblk + 32 + 2 * r, 2);
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = gblk[64 + 16 * j + r];
            mn[j] = gblk[192 + 16 * j + r];
        }
        // The 12 scale bytes are a bijection of the eight 6-bit scales and mins (ps__scale_min_k4).
        for (int j = 0; j < 4; j++) {
            b[4 + j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
            b[8 + j] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
            b[12 + j] = (uint8_t)((sc[j + 4] & 0xF) | (mn[j + 4] & 0xF) << 4);
        }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 8; l++) memcpy(b + 16 + 32 * c + 4 * l, gblk + 320 + 256 * l + 64 * c + 4 * r, 4);
        return;
    }
    memcpy(b, gblk + 2 * r, 2);
    if (type == PS_TYPE_Q8_0) {
        for (int e = 0; e < 32; e++) b[2 + e] = gblk[32 + 64 * (e / 4) + 4 * r + e % 4] ^ 0x80;
        return;
    }
    uint8_t u[32];
    for (int e = 0; e < 32; e++) {
        const int j = e / 4, t = e % 4;
        const uint8_t lo = (uint8_t)((gblk[32 + 64 * (j % 4) + 4 * r + t] >> (j < 4 ? 0 : 4)) & 0xF);
        const uint8_t hi = (uint8_t)((gblk[288 + 8 * j + (4 * r + t) / 8] >> ((4 * r + t) % 8)) & 1);
        u[e] = (uint8_t)(lo | hi << 4);
    }
    uint32_t qh = 0;
    for (int e = 0; e < 32; e++) qh |= (uint32_t)(u[e] >> 4) << e;
    b[2] = (uint8_t)qh; b[3] = (uint8_t)(qh >> 8); b[4] = (uint8_t)(qh >> 16); b[5] = (uint8_t)(qh >> 24);
    for (int j = 0; j < 16; j++) b[6 + j] = (uint8_t)((u[j] & 0xF) | (u[j + 16] & 0xF) << 4);
}

int ps_unpack_row(int type, const void *packed, int64_t k, int64_t r, void *dst) {
    if (!packable(type) || k <= 0 || k % ps_type_block_elems(type) || r < 0 || !packed || !dst) return -1;
    const int64_t nblk = k / ps_type_block_elems(type), gb = group_block_bytes(type), bb = ps_type_block_bytes(type);
    const uint8_t *g = (const uint8_t *)packed + (size_t)(r / 16) * (size_t)(nblk * gb);
    for (int64_t i = 0; i < nblk; i++) unpack_block(type, g + i * gb, (int)(r % 16), (uint8_t *)dst + i * bb);
    return 0;
}

// The reference: each row unpacked to the GGUF layout and run through ps_matmul_q8's portable
// kernel (the same arithmetic by construction). Only the per-thread lower ISA levels reach this.
void ps__matmul_q8_packed_portable(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                                   float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t row_bytes = k / ps_type_block_elems(type) * ps_type_block_bytes(type);
    uint8_t row[row_bytes];
    for (int64_t r = r0; r < r1; r++) {
        ps_unpack_row(type, packed, k, r, row);
        ps__matmul_q8_portable(type, row, (size_t)row_bytes, k, xq, nb, y + r, y_stride, 0, 1);
    }
}

void ps_matmul_q8_packed(int type, const void *packed, int64_t k, const void *xq, int64_t nb,
                         float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    if (!packable(type) || k <= 0 || k % ps_type_block_elems(type) || nb <= 0 || r0 < 0 || r1 <= r0 || r0 % 16 || r1 % 16)
        return;
    if (!packed || !xq || !y) return;
#if defined(__x86_64__)
    if (ps_isa_current() == PS_ISA_AVX512 && ps_isa_vnni()) {
        ps__matmul_q8_packed_avx512(type, packed, k, xq, nb, y, y_stride, r0, r1);
        return;
    }
#endif
    ps__matmul_q8_packed_portable(type, packed, k, xq, nb, y, y_stride, r0, r1);
}
