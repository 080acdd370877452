// quant_types.c — type table, f16/bf16 conversion, ISA selection and the public entry points
// of ps_quant.h. The per-ISA work lives in quant_portable.c, quant_avx2.c, quant_avx512.c.
#define PS_QUANT_INTERNAL 1
#include "ps_quant.h"

#include <string.h>
#include <stdlib.h>
#include <stdatomic.h>

#pragma clang fp contract(off)

int ps_type_supported(int type) {
    return ps_type_block_elems(type) != 0;
}

int64_t ps_type_block_elems(int type) {
    switch (type) {
    case PS_TYPE_F32: case PS_TYPE_F16: case PS_TYPE_BF16: return 1;
    case PS_TYPE_Q4_0: case PS_TYPE_Q5_0: case PS_TYPE_Q8_0: return 32;
    case PS_TYPE_Q4_K: case PS_TYPE_Q5_K: case PS_TYPE_Q6_K: return 256;
    default: return 0;
    }
}

int64_t ps_type_block_bytes(int type) {
    switch (type) {
    case PS_TYPE_F32: return 4;
    case PS_TYPE_F16: case PS_TYPE_BF16: return 2;
    case PS_TYPE_Q4_0: return 18;
    case PS_TYPE_Q5_0: return 22;
    case PS_TYPE_Q8_0: return 34;
    case PS_TYPE_Q4_K: return 144;
    case PS_TYPE_Q5_K: return 176;
    case PS_TYPE_Q6_K: return 210;
    default: return 0;
    }
}

// ---- f16 / bf16 -------------------------------------------------------------------------------

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float ps_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1F;
    const uint32_t mant = h & 0x3FF;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in f32
        float v = (float)mant * 0x1p-24f;
        return bits_f32(f32_bits(v) | sign);
    }
    if (exp == 31) return bits_f32(sign | 0x7F800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t ps_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) {                       // NaN: keep the top payload bits, force quiet
        return (uint16_t)(sign | 0x7E00 | ((a >> 13) & 0x3FF));
    }
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);    // >= 65520 rounds to inf
    if (a < 0x38800000u) {                       // below 2^-14: f16 subnormal (or zero)
        // Adding 0.5 puts the value's 2^-24 quantum in the last mantissa bit; the FPU rounds
        // to nearest even.
        float t = bits_f32(a) + 0.5f;
        return (uint16_t)(sign | (f32_bits(t) - 0x3F000000u));
    }
    const uint32_t odd = (a >> 13) & 1;
    a += 0xC8000FFFu + odd;                      // rebias exponent (-112 << 23) and round
    return (uint16_t)(sign | (a >> 13));
}

float ps_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t ps_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);   // quiet NaN
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}

// ---- ISA selection ----------------------------------------------------------------------------

// The process-wide level is the detected one, lowered by the PIPESERVE_ISA environment variable
// (portable | avx2 | avx512) so a binary can be checked on its slower paths. ps_isa_set overrides
// it for the calling thread only: tests that switch levels cannot disturb kernels running on
// other threads (swift test runs all suites in one process).
static _Atomic int ps_isa_level = -1;
static _Thread_local int ps_isa_thread_level = -1;

int ps_isa_detected(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                     __builtin_cpu_supports("f16c");
    if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")) return PS_ISA_AVX512;
    if (avx2) return PS_ISA_AVX2;
#endif
    return PS_ISA_PORTABLE;
}

int ps_isa_vnni(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return ps_isa_detected() == PS_ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
#else
    return 0;
#endif
}

int ps__isa_process_level(void) {
    int l = atomic_load_explicit(&ps_isa_level, memory_order_relaxed);
    if (l < 0) {
        l = ps_isa_detected();
        const char *env = getenv("PIPESERVE_ISA");
        if (env) {
            int want = l;
            if (strcmp(env, "portable") == 0) want = PS_ISA_PORTABLE;
            else if (strcmp(env, "avx2") == 0) want = PS_ISA_AVX2;
            else if (strcmp(env, "avx512") == 0) want = PS_ISA_AVX512;
            if (want < l) l = want;
        }
        atomic_store_explicit(&ps_isa_level, l, memory_order_relaxed);
    }
    return l;
}

int ps_isa_current(void) {
    return ps_isa_thread_level >= 0 ? ps_isa_thread_level : ps__isa_process_level();
}

int ps_isa_set(int level) {
    const int det = ps_isa_detected();
    int l = level < 0 ? 0 : level;
    if (l > det) l = det;
    ps_isa_thread_level = l;
    return l;
}

// ---- entry points -----------------------------------------------------------------------------

static ps_dequant_blocks_fn dequant_for(int type) {
#if defined(__x86_64__)
    switch (ps_isa_current()) {
    case PS_ISA_AVX512: return ps__dequant_avx512(type);
    case PS_ISA_AVX2: return ps__dequant_avx2(type);
    default: break;
    }
#endif
    return ps__dequant_portable(type);
}

void ps_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const int64_t be = ps_type_block_elems(type);
    if (be == 0 || n <= 0 || n % be != 0 || !src || !dst) return;
    ps_dequant_blocks_fn fn = dequant_for(type);
    if (fn) fn(src, dst, n / be);
}

void ps_matmul(int type, const void *w, size_t w_row_bytes, int64_t k,
               const float *x, int64_t x_stride, int64_t nb,
               float *y, int64_t y_stride, int64_t r0, int64_t r1) {
    const int64_t be = ps_type_block_elems(type);
    if (be == 0 || k <= 0 || k % be != 0 || nb <= 0 || r1 <= r0 || r0 < 0) return;
    if (!w || !x || !y) return;
    if ((int64_t)w_row_bytes < k / be * ps_type_block_bytes(type) && r1 - r0 > 1) return;
#if defined(__x86_64__)
    switch (ps_isa_current()) {
    case PS_ISA_AVX512:
        ps__matmul_avx512(type, w, w_row_bytes, k, x, x_stride, nb, y, y_stride, r0, r1);
        return;
    case PS_ISA_AVX2:
        ps__matmul_avx2(type, w, w_row_bytes, k, x, x_stride, nb, y, y_stride, r0, r1);
        return;
    default: break;
    }
#endif
    ps__matmul_portable(type, w, w_row_bytes, k, x, x_stride, nb, y, y_stride, r0, r1);
}
