// stream_read.c — read bandwidth of this machine, STREAM-style: each of T threads sums its share
// of a buffer much larger than the caches, repeatedly; prints the best GB/s over the repetitions
// (bytes read / seconds), as {"threads": T, "gb_per_s": X, "gb_per_s_plain": P, "gb_per_s_4k": Y}:
// X the best of every variant — the honest limit — P with the buffer on transparent huge pages
// (as pipeserve keeps its weights) read with plain loads, Y the same on 4 KiB pages (as a plain
// mmap of the model file; TLB misses cost 20-25 % on one thread). Variants with software prefetch
// 32 KiB ahead into L2 (as pipeserve's decode kernels do) are measured too, so that the limit is
// not one a prefetching reader could beat: pipeserve's Q8_0 head kernel had read 32-33 GB/s in a
// decode profile while this program's plain loads reported 30-31. On this machine the prefetch
// variants have so far read within the noise of plain loads (one series 34.7-36.3 against
// 30.9-32.5 GB/s, not reproduced by the next three).
// Used by scripts/bench-vs-llamacpp to put decode speed against the memory-bandwidth limit
// (weights read per token × tok/s / GB/s).
// With "sustained" it reads only the huge-page plain variant and also prints its mean over all the
// passes (bytes / time): beside a decode run of about a second, 30 passes of 1 GiB span as long,
// where the best of 3 short passes catches the quietest tenth of a second.
//   gcc -O2 -march=native -pthread stream_read.c -o stream_read && ./stream_read THREADS [MiB] [reps] [sustained]
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

enum { PREFETCH_BYTES = 32768 };
typedef struct { const float *p; size_t n; float sum; int prefetch; } share;

static void *run(void *arg) {
    share *s = arg;
#if defined(__AVX512F__)
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= s->n; i += 64) {
        if (s->prefetch) {   // this step's 256 bytes, PREFETCH_BYTES ahead (past the end is harmless)
            const char *a = (const char *)(s->p + i) + PREFETCH_BYTES;
            _mm_prefetch(a, _MM_HINT_T1); _mm_prefetch(a + 64, _MM_HINT_T1);
            _mm_prefetch(a + 128, _MM_HINT_T1); _mm_prefetch(a + 192, _MM_HINT_T1);
        }
        a0 = _mm512_add_ps(a0, _mm512_load_ps(s->p + i));
        a1 = _mm512_add_ps(a1, _mm512_load_ps(s->p + i + 16));
        a2 = _mm512_add_ps(a2, _mm512_load_ps(s->p + i + 32));
        a3 = _mm512_add_ps(a3, _mm512_load_ps(s->p + i + 48));
    }
    s->sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#else
    float acc[8] = {0};
    for (size_t i = 0; i < s->n; i += 8) for (int k = 0; k < 8; k++) acc[k] += s->p[i + k];
    s->sum = acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
#endif
    return NULL;
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int reps = argc > 3 ? atoi(argv[3]) : 10;
    // "sustained": the huge-page plain variant only, and also its mean over all passes (bytes /
    // time), for comparison with a run that lasts as long as the passes together.
    const int sustained = argc > 4 && strcmp(argv[4], "sustained") == 0;
    if (threads < 1 || threads > 256 || mib < 64 || reps < 1 || (argc > 4 && !sustained)) {
        fprintf(stderr, "usage: stream_read THREADS [MiB>=64] [reps] [sustained]\n");
        return 2;
    }
    size_t n = mib * 1024 * 1024 / sizeof(float);
    n -= n % (64 * (size_t)threads);
    double best[2][2] = {{0, 0}, {0, 0}};   // [huge][prefetch]
    float total = 0;
    double pass_time = 0;
    for (int variant = sustained ? 2 : 0; variant < (sustained ? 3 : 4); variant++) {
        const int huge = variant >> 1, prefetch = variant & 1;
        float *buf = aligned_alloc(2 << 20, n * sizeof(float));
        if (!buf) { fprintf(stderr, "stream_read: out of memory\n"); return 1; }
        madvise(buf, n * sizeof(float), huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023);
        pthread_t tid[256];
        share sh[256];
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (int t = 0; t < threads; t++) {
                sh[t] = (share){ buf + n / threads * t, n / threads, 0, prefetch };
                pthread_create(&tid[t], NULL, run, &sh[t]);
            }
            for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); total += sh[t].sum; }
            const double dt = now() - t0;
            pass_time += dt;
            double gbs = n * sizeof(float) / dt / 1e9;
            if (gbs > best[huge][prefetch]) best[huge][prefetch] = gbs;
        }
        free(buf);
    }
    if (sustained) {
        printf("{\"threads\": %d, \"gb_per_s_plain\": %.2f, \"gb_per_s_mean\": %.2f, \"seconds\": %.2f, \"checksum\": %.0f}\n",
               threads, best[1][0], (double)reps * n * sizeof(float) / pass_time / 1e9, pass_time, (double)total);
        return 0;
    }
    double all = 0;
    for (int v = 0; v < 4; v++) all = best[v >> 1][v & 1] > all ? best[v >> 1][v & 1] : all;
    printf("{\"threads\": %d, \"gb_per_s\": %.2f, \"gb_per_s_plain\": %.2f, \"gb_per_s_4k\": %.2f, \"checksum\": %.0f}\n",
           threads, all, best[1][0], best[0][0], (double)total);
    return 0;
}
