// Float32 operations of a transformer layer and a persistent thread pool.
// Every function reduces in a fixed order per output element, so results do not depend on
// batch composition or on how rows are split across threads (see DESIGN.md, "Determinism").
#pragma once
#include <stdint.h>
#include <stddef.h>

// y = x / sqrt(mean(x^2) + eps) * w for each of `rows` rows of n floats (y may alias x).
void ps_rmsnorm_rows(const float *x, int64_t x_stride, const float *w, float *y, int64_t y_stride,
                     int64_t rows, int64_t n, float eps);

// Rotary embedding in two steps, so one position's angles serve every head, q and k, and every
// layer with the same frequencies. ps_rope_table: cs[0..half) = cos, cs[half..2 half) = sin of
// pos * inv_freq[i], computed in double. ps_rope_apply rotates the first n_rot = 2 half dims of
// `n_heads` heads of `head_dim` floats each (head h at x + h*head_dim) with such a table; neox != 0
// pairs (i, i + half) (GPT-NeoX / Gemma / Qwen2), otherwise (2i, 2i+1) (Llama).
void ps_rope_table(const double *inv_freq, int64_t half, double pos, float *cs);
void ps_rope_apply(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox);

// g[i] = gelu_tanh(g[i]) * u[i];  g[i] = silu(g[i]) * u[i]. exp is a polynomial of plain IEEE
// operations (within 2 ulp of expf), so the results are the same bits at every ISA level.
void ps_gelu_tanh_mul(float *g, const float *u, int64_t n);
void ps_silu_mul(float *g, const float *u, int64_t n);
// Sampling weights: w[i] = exp((x[i] - max) * inv_t) with the same exp polynomial (arguments
// clamped to [-87, 88]; a NaN argument gives 0), the same bits at every ISA level.
void ps_sampling_weights(const float *x, int64_t n, float max, float inv_t, float *w);
// Passes of the sampler over weights w[0..n) (ModelRuntime/RankedCandidates): token i is kept
// when its key ((bits of w[i]) << 32 | (0xffffffff - i)) is at least `bound`; no branch on that.
// Bucket sums: sums[bucket] += w[i] (1 when `count`) over the kept, bucket = the exponent and
// top PS_SAMPLING_MANTISSA_BITS mantissa bits of w[i] minus lowest_exponent << those bits, clamped to [0, n_buckets), with sums[n_buckets] collecting the
// rest; `sums` has PS_SAMPLING_WAYS * (n_buckets + 1) entries of work space, the result is in the
// first n_buckets + 1. Returns the lowest bucket of a kept token (n_buckets if none). min_key: the smallest key >= bound (UINT64_MAX if none).
enum { PS_SAMPLING_WAYS = 4, PS_SAMPLING_MANTISSA_BITS = 5 };
int64_t ps_sampling_bucket_sums(const float *w, int64_t n, uint64_t bound, int count, int64_t lowest_exponent,
                                double *sums, int64_t n_buckets);
uint64_t ps_sampling_min_key(const float *w, int64_t n, uint64_t bound);
// The kept tokens of bucket `target`, in index order: stores the first `capacity` ids, returns
// how many there are.
int64_t ps_sampling_bucket_members(const float *w, int64_t n, uint64_t bound, int64_t lowest_exponent,
                                   int64_t n_buckets, int64_t target, int32_t *ids, int64_t capacity);
// y[i] += x[i]
void ps_add(float *y, const float *x, int64_t n);
// y[i] = x[i] * s
void ps_scale(float *y, const float *x, float s, int64_t n);

// Causal attention of n_q (<= PS_ATTENTION_QUERIES) consecutive query tokens of one sequence, all
// heads in [head_lo, head_hi): query i (q + i*q_stride, result at out + i*out_stride) is at
// position pos + i and reads the cached keys/values of positions [max(0, pos + i - window + 1),
// pos + i + 1) (window <= 0: from 0): out_h = softmax(scale * q_h . k_p) . v_p. The cache is a
// ring of `ring` rows, kv_stride floats apart: position p is row p % ring (ring > every position
// read is a plain array), kv head g at offset g*hd. Grouped heads: head h reads kv head
// h / (n_head/n_kv_head). Keys are taken in tiles of PS_ATTENTION_TILE positions aligned to
// multiples of it, with an online softmax (running max and sum per query and head), each tile
// read once for PS_ATTENTION_HEADS heads and all the queries; work memory is a fixed stack block
// whatever the context. Each query's result is bitwise the same whichever block it is in.
// softcap > 0 applies tanh soft-capping to the scores.
enum { PS_ATTENTION_HEADS = 8, PS_ATTENTION_TILE = 128, PS_ATTENTION_QUERIES = 8 };
void ps_attention_query(const float *q, int64_t q_stride, int64_t n_q, int64_t pos, int64_t window, const float *k,
                        const float *v, int64_t kv_stride, int64_t ring, int64_t n_head, int64_t n_kv_head, int64_t hd,
                        float scale, float softcap, int64_t head_lo, int64_t head_hi, float *out, int64_t out_stride);

// Index of the largest element (first on ties; NaNs are never the largest unless at index 0;
// 0 when n <= 0), the same on every ISA level.
int64_t ps_argmax(const float *x, int64_t n);

// A pool of worker threads sharing chunks of one operation; returns when all chunks are done.
typedef struct ps_pool ps_pool;
// Computes chunk `index` of `count`.
typedef void (*ps_task_fn)(void *ctx, int index, int count);
// cpus: optional list of n_threads CPU ids: the creating thread is pinned to cpus[0] and worker i
// to cpus[i]; pass NULL for no pinning.
ps_pool *ps_pool_create(int n_threads, const int *cpus);
void ps_pool_destroy(ps_pool *pool);
int ps_pool_size(const ps_pool *pool);
// Pause iterations an idle worker spins before it sleeps (default PS_POOL_DEFAULT_IDLE_SPIN, about
// a millisecond: the next operation of a forward pass finds it awake). Lower it when the pool's
// CPUs are shared with another stage, whose work an idle spin would slow.
#define PS_POOL_DEFAULT_IDLE_SPIN 20000
void ps_pool_set_idle_spin(ps_pool *pool, int spins);
// Runs fn(ctx, i, n_chunks) for every i in 0..<n_chunks on whichever threads take them (the caller
// takes chunks too); returns when all are done. Not reentrant.
void ps_pool_run(ps_pool *pool, ps_task_fn fn, void *ctx, int n_chunks);
// Pins the calling thread to one CPU; returns 0 on success, errno otherwise.
int ps_pin_current_thread(int cpu);
