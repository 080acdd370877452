// batch_matmul.c — one batched matmul (prefill) per Gemma 3 270M weight shape on pipeserve's own
// kernels: ps_matmul_q8 on the GGUF rows (the row-major tiles) against ps_matmul_q8_packed (the
// packed batch kernel, each 16-row group unpacked once), with nb activation rows; prints GMAC/s of
// either, best of 5, their ratio, and whether the two outputs are bitwise equal (they must be).
// One thread; weights are random bytes with small block scales. This is what
// ps_packed_batch_preferred's per-type choice was measured with.
//
//   clang -O3 -fno-math-errno -fPIC -fno-omit-frame-pointer -ISources/CKernels/include \
//       -o /tmp/batch_matmul scripts/bench/batch_matmul.c Sources/CKernels/*.c -lpthread -lm
//   /tmp/batch_matmul [nb]      (default 512)
#include "ps_quant.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    int nb = argc > 1 ? atoi(argv[1]) : 512;
    struct { int type, rows, k; const char *name; } sh[] = {
        {PS_TYPE_Q5_0, 1024, 640, "Q5_0 1024x640"}, {PS_TYPE_Q5_0, 2048, 640, "Q5_0 2048x640"},
        {PS_TYPE_Q4_K, 640, 1024, "Q4_K 640x1024"}, {PS_TYPE_Q4_K, 640, 2048, "Q4_K 640x2048"},
        {PS_TYPE_Q6_K, 640, 2048, "Q6_K 640x2048"}, {PS_TYPE_Q8_0, 256, 640, "Q8_0 256x640"}};
    srand(1);
    for (unsigned s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int type = sh[s].type, rows = sh[s].rows, k = sh[s].k;
        int64_t be = ps_type_block_elems(type), bb = ps_type_block_bytes(type), rb = k / be * bb;
        uint8_t *w = malloc(rows * rb);
        for (int64_t i = 0; i < rows * rb; i++) w[i] = rand();
        for (int64_t r = 0; r < rows; r++)
            for (int64_t b = 0; b < k / be; b++) {
                uint8_t *p = w + r * rb + b * bb;
                uint16_t one = 0x2C00;
                if (type == PS_TYPE_Q6_K) memcpy(p + 208, &one, 2);
                else { memcpy(p, &one, 2); if (type == PS_TYPE_Q4_K) memcpy(p + 2, &one, 2); }
            }
        void *pk = ps_packed_alloc(ps_packed_bytes(type, rows, k));
        ps_pack_rows(type, w, rb, k, rows, pk);
        float *x = malloc(sizeof(float) * nb * k);
        for (int64_t i = 0; i < (int64_t)nb * k; i++) x[i] = (rand() / (float)RAND_MAX) - 0.5f;
        int64_t arb = ps_act_row_bytes(type, k);
        void *xq = aligned_alloc(64, nb * arb);
        ps_quantize_activations(type, x, k, nb, k, xq);
        float *y = malloc(sizeof(float) * nb * rows), *y2 = malloc(sizeof(float) * nb * rows);
        double best[2] = {1e9, 1e9};
        for (int rep = 0; rep < 5; rep++) {
            double t0 = now();
            ps_matmul_q8(type, w, rb, k, xq, nb, y, rows, 0, rows);
            double t1 = now();
            ps_matmul_q8_packed(type, pk, k, xq, nb, y2, rows, 0, rows);
            double t2 = now();
            if (t1 - t0 < best[0]) best[0] = t1 - t0;
            if (t2 - t1 < best[1]) best[1] = t2 - t1;
        }
        double macs = (double)rows * k * nb;
        printf("%-16s nb %4d  row-major %6.1f GMAC/s  packed %6.1f GMAC/s  (%.2fx)  equal %d\n", sh[s].name, nb,
               macs / best[0] / 1e9, macs / best[1] / 1e9, best[0] / best[1], memcmp(y, y2, sizeof(float) * nb * rows) == 0);
    }
    return 0;
}
