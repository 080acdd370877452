// decode_step.c — one decode step's weight matmuls on pipeserve's own kernels (Sources/CKernels),
// for kernel work: every matrix of a model shape in the order a decode step reads it, packed where
// the runtime packs it (ps_packed_preferred), in one huge-page arena, against one activation row.
// Each repetition runs the step and then a plain AVX-512 read of as many bytes (the memory's
// speed right then), so each figure is a ratio to a baseline measured beside it on this shared
// machine. Prints per weight type the median GB/s and the median ratio to the plain read, and
// "tok/s-equiv" (steps per second, head included; no attention, norms or sampling).
//
// Built by scripts/bench-kernels with the flags Package.swift gives the C kernels: a harness built
// with -O2 -march=native (session 6) ranked kernel variants the opposite way to the package's
// -O3 build — software prefetch for Q5_0 1.25x there and 0.95x in decode, per-block integer sums
// 1.3x there and 0.82x in decode — while this program's -O3 build agreed with decode both times.
//
//   decode_step [gemma3-270m|tinyllama-q8_0] [reps]
// Weights are random bytes with block scales set to 1.0 (speed does not depend on the values).
#define _GNU_SOURCE
#include "ps_quant.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_MATRICES = 256, TYPES = 32 };

typedef struct {
    int type, packed;
    int64_t rows, k, row_bytes;
    size_t bytes;
    const void *w;
    void *xq;
    float *y;
} matrix;

typedef struct { int type; int64_t rows, k; } shape;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f"))) static float plain_read(const float *p, size_t n) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 64 <= n; i += 64) {
        a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// The offset of a block's f16 scale (d), and for Q4_K/Q5_K of its dmin.
static void set_scales(int type, uint8_t *w, size_t n) {
    const int64_t bb = ps_type_block_bytes(type);
    const int d = type == PS_TYPE_Q6_K ? 208 : 0;
    for (size_t b = 0; b + (size_t)bb <= n; b += (size_t)bb) {
        w[b + d] = 0x00; w[b + d + 1] = 0x3c;
        if (type == PS_TYPE_Q4_K || type == PS_TYPE_Q5_K) { w[b + 2] = 0x00; w[b + 3] = 0x3c; }
    }
}

// Gemma 3 270M Q4_K_M as in the demo file (per layer in the order a decode step reads them, the
// tied Q8_0 head last; layers 0 1 4 7 10 13 15 16 17 have attn_v Q8_0 and ffn_down Q6_K, the
// others Q5_0 and Q4_K) and the synthetic TinyLlama-shaped Q8_0 model of the benches.
static int model_shapes(const char *name, int layer, shape *s) {
    if (strcmp(name, "gemma3-270m") == 0) {
        if (layer >= 18) return 0;
        const int more = layer < 2 || layer == 4 || layer == 7 || layer == 10 || layer == 13 || layer >= 15;
        const shape l[] = {{PS_TYPE_Q5_0, 1024, 640}, {PS_TYPE_Q5_0, 256, 640}, {more ? PS_TYPE_Q8_0 : PS_TYPE_Q5_0, 256, 640},
                           {PS_TYPE_Q4_K, 640, 1024}, {PS_TYPE_Q5_0, 2048, 640}, {PS_TYPE_Q5_0, 2048, 640},
                           {more ? PS_TYPE_Q6_K : PS_TYPE_Q4_K, 640, 2048}};
        const shape head = {PS_TYPE_Q8_0, 262144, 640};
        memcpy(s, l, sizeof l);
        s[7] = head;
        return 7;
    }
    if (strcmp(name, "tinyllama-q8_0") == 0) {
        if (layer >= 22) return 0;
        const shape l[] = {{PS_TYPE_Q8_0, 2048, 2048}, {PS_TYPE_Q8_0, 256, 2048}, {PS_TYPE_Q8_0, 256, 2048},
                           {PS_TYPE_Q8_0, 2048, 2048}, {PS_TYPE_Q8_0, 5632, 2048}, {PS_TYPE_Q8_0, 5632, 2048},
                           {PS_TYPE_Q8_0, 2048, 5632}, {PS_TYPE_Q8_0, 32000, 2048}};
        memcpy(s, l, sizeof l);
        return 7;
    }
    return 0;
}

static int setup(matrix *m, shape s, uint8_t *arena, size_t *off, size_t cap) {
    m->type = s.type; m->rows = s.rows; m->k = s.k;
    m->row_bytes = s.k / ps_type_block_elems(s.type) * ps_type_block_bytes(s.type);
    const size_t n = (size_t)(m->rows * m->row_bytes);
    uint8_t *w = malloc(n);
    if (!w) return 0;
    for (size_t i = 0; i < n; i++) w[i] = (uint8_t)rand();
    set_scales(s.type, w, n);
    m->packed = ps_packed_preferred(s.type, s.k) && ps_packed_bytes(s.type, s.rows, s.k) > 0;
    m->bytes = m->packed ? (size_t)ps_packed_bytes(s.type, s.rows, s.k) : n;
    if (*off + m->bytes > cap) { free(w); return 0; }
    uint8_t *dst = arena + *off;
    if (m->packed) ps_pack_rows(s.type, w, (size_t)m->row_bytes, s.k, s.rows, dst);
    else memcpy(dst, w, n);
    m->w = dst;
    *off += (m->bytes + 63) / 64 * 64;   // back to back, as WeightArena lays out a decode step
    free(w);
    float *x = malloc((size_t)s.k * sizeof(float));
    m->xq = aligned_alloc(64, (size_t)ps_act_row_bytes(s.type, s.k) + 64);
    m->y = malloc((size_t)s.rows * sizeof(float));
    if (!x || !m->xq || !m->y) return 0;
    for (int64_t i = 0; i < s.k; i++) x[i] = (float)(rand() % 1000 - 500) / 100.0f;
    ps_quantize_activations(s.type, x, s.k, 1, s.k, m->xq);
    free(x);
    return 1;
}

static void run(const matrix *m) {
    if (m->packed) ps_matmul_q8_packed(m->type, m->w, m->k, m->xq, 1, m->y, m->rows, 0, m->rows);
    else ps_matmul_q8(m->type, m->w, (size_t)m->row_bytes, m->k, m->xq, 1, m->y, m->rows, 0, m->rows);
}

static const char *type_name(int t) {
    switch (t) {
    case PS_TYPE_Q4_0: return "Q4_0";
    case PS_TYPE_Q5_0: return "Q5_0";
    case PS_TYPE_Q8_0: return "Q8_0";
    case PS_TYPE_Q4_K: return "Q4_K";
    case PS_TYPE_Q5_K: return "Q5_K";
    case PS_TYPE_Q6_K: return "Q6_K";
    default: return "?";
    }
}

static int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "gemma3-270m";
    const int reps = argc > 2 ? atoi(argv[2]) : 20;
    shape layer[8];
    if (model_shapes(model, 0, layer) == 0 || reps < 1 || reps > 10000) {
        fprintf(stderr, "usage: decode_step [gemma3-270m|tinyllama-q8_0] [reps 1..10000]\n");
        return 2;
    }
    const size_t cap = (size_t)1 << 31;
    uint8_t *arena = ps_packed_alloc(cap);
    if (!arena) { fprintf(stderr, "decode_step: cannot allocate the weight arena\n"); return 1; }
    static matrix m[MAX_MATRICES];
    int count = 0;
    size_t off = 0;
    int per_layer = 0;
    for (int l = 0; (per_layer = model_shapes(model, l, layer)) > 0; l++)
        for (int j = 0; j < per_layer; j++)
            if (!setup(&m[count++], layer[j], arena, &off, cap)) { fprintf(stderr, "decode_step: out of memory\n"); return 1; }
    model_shapes(model, 0, layer);
    if (!setup(&m[count++], layer[7], arena, &off, cap)) { fprintf(stderr, "decode_step: out of memory\n"); return 1; }
    const size_t total = off;
    const size_t fn = total / sizeof(float) / 64 * 64;
    float *plain = ps_packed_alloc(fn * sizeof(float));
    if (!plain) { fprintf(stderr, "decode_step: out of memory\n"); return 1; }
    for (size_t i = 0; i < fn; i++) plain[i] = (float)(i & 1023);

    double type_bytes[TYPES] = {0};
    int packed_kind[TYPES] = {0};
    for (int i = 0; i < count; i++) { type_bytes[m[i].type] += (double)m[i].bytes; packed_kind[m[i].type] |= 1 << m[i].packed; }
    double *type_s = calloc((size_t)reps * TYPES, sizeof(double));
    double *step = calloc((size_t)reps, sizeof(double)), *read_gbs = calloc((size_t)reps, sizeof(double));
    double *ratio = calloc((size_t)reps, sizeof(double)), *scratch = calloc((size_t)reps, sizeof(double));
    if (!type_s || !step || !read_gbs || !ratio || !scratch) return 1;
    float sink = 0;
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        for (int i = 0; i < count; i++) {
            const double a = now();
            run(&m[i]);
            type_s[r * TYPES + m[i].type] += now() - a;
        }
        const double t1 = now();
        sink += plain_read(plain, fn);
        const double t2 = now();
        step[r] = t1 - t0;
        read_gbs[r] = (double)fn * sizeof(float) / (t2 - t1) / 1e9;
        ratio[r] = (double)total / step[r] / 1e9 / read_gbs[r];
    }
    printf("decode_step %s: %d matrices, %.1f MB per step, %d repetitions\n", model, count, total / 1e6, reps);
    printf("%-6s %-10s %9s %9s %14s\n", "type", "layout", "MB", "GB/s", "of plain read");
    for (int t = 0; t < TYPES; t++) {
        if (type_bytes[t] == 0) continue;
        double gbs[reps], rel[reps];
        for (int r = 0; r < reps; r++) {
            gbs[r] = type_bytes[t] / type_s[r * TYPES + t] / 1e9;
            rel[r] = gbs[r] / read_gbs[r];
        }
        const char *layout = packed_kind[t] == 3 ? "both" : packed_kind[t] == 2 ? "packed" : "row-major";
        printf("%-6s %-10s %9.1f %9.2f %13.0f%%\n", type_name(t), layout, type_bytes[t] / 1e6, median(gbs, reps),
               100 * median(rel, reps));
    }
    for (int r = 0; r < reps; r++) scratch[r] = 1.0 / step[r];
    const double tok = median(scratch, reps);
    printf("plain read %.2f GB/s; step %.2f GB/s = %.0f%% of the plain read beside it; tok/s-equiv %.1f (checksum %g)\n",
           median(read_gbs, reps), total / 1e9 * tok, 100 * median(ratio, reps), tok, (double)sink + m[0].y[0]);
    return 0;
}
