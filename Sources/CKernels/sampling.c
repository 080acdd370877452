// The sampler's passes over the vocabulary (ModelRuntime/RankedCandidates): which tokens are
// kept is a coin flip on a flat distribution, so these loops must not branch on it — Swift's
// optimiser turned every mask written there back into a branch (2 ms a pass in mispredictions on
// 262k tokens); here __builtin_unpredictable asks for selects. Bucket sums add each table's
// tokens in index order and the tables in a fixed order: the same result on every machine.
#include "ps_ops.h"
#include <string.h>

#pragma clang fp contract(off)

static inline __attribute__((always_inline)) uint64_t key(float w, int64_t i) {
    uint32_t bits;
    memcpy(&bits, &w, sizeof bits);
    return ((uint64_t)bits << 32) | (uint64_t)(0xffffffffu - (uint32_t)i);
}

static inline __attribute__((always_inline)) int64_t bucket(float w, int64_t lowest_exponent, int64_t n_buckets) {
    uint32_t bits;
    memcpy(&bits, &w, sizeof bits);
    const int64_t b = (int64_t)(bits >> (23 - PS_SAMPLING_MANTISSA_BITS)) - (lowest_exponent << PS_SAMPLING_MANTISSA_BITS);
    return b < 0 ? 0 : b >= n_buckets ? n_buckets - 1 : b;
}

int64_t ps_sampling_bucket_sums(const float *w, int64_t n, uint64_t bound, int count, int64_t lowest_exponent,
                                double *sums, int64_t n_buckets) {
    // PS_SAMPLING_WAYS tables (token i into table i % ways), added up in a fixed order at the
    // end into the first: with one table, neighbouring tokens of the same bucket made a chain of
    // dependent read-modify-writes.
    const int64_t stride = n_buckets + 1;
    for (int64_t j = 0; j < PS_SAMPLING_WAYS * stride; j++) sums[j] = 0;
    int64_t lowest = n_buckets;
    for (int64_t i = 0; i < n; i++) {
        const int64_t b = __builtin_unpredictable(key(w[i], i) >= bound) ? bucket(w[i], lowest_exponent, n_buckets) : n_buckets;
        sums[(i % PS_SAMPLING_WAYS) * stride + b] += count ? 1.0 : (double)w[i];
        lowest = b < lowest ? b : lowest;
    }
    for (int64_t b = 0; b < stride; b++) {
        double t = sums[b];
        for (int64_t j = 1; j < PS_SAMPLING_WAYS; j++) t += sums[j * stride + b];
        sums[b] = t;
    }
    return lowest;
}

uint64_t ps_sampling_min_key(const float *w, int64_t n, uint64_t bound) {
    uint64_t lowest = UINT64_MAX;
    for (int64_t i = 0; i < n; i++) {
        const uint64_t k = key(w[i], i);
        lowest = __builtin_unpredictable(k >= bound && k < lowest) ? k : lowest;
    }
    return lowest;
}

int64_t ps_sampling_bucket_members(const float *w, int64_t n, uint64_t bound, int64_t lowest_exponent,
                                   int64_t n_buckets, int64_t target, int32_t *ids, int64_t capacity) {
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++) {
        if (bucket(w[i], lowest_exponent, n_buckets) == target && key(w[i], i) >= bound) {
            if (found < capacity) ids[found] = (int32_t)i;
            found++;
        }
    }
    return found;
}
