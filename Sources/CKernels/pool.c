// Persistent worker threads sharing chunks of work through an atomic counter. The caller takes
// chunks too, so when a worker is descheduled (a busy or oversubscribed machine) the caller simply
// does more of the work instead of waiting a scheduler quantum for it. Which thread computes a
// chunk never changes its result: each chunk writes its own outputs with a fixed reduction order.
// Workers spin briefly on the generation counter (ps_pool_set_idle_spin), then sleep on a
// condition variable.
//
// A run's description (fn, ctx, n_chunks, next) is rewritten by the next run, so no worker may
// still be about to read it then. The generation is odd while a run is open and even once it is
// closed. A worker joins an open run by counting itself active and then checking that the
// generation is still the one it woke for; the caller, once every chunk is handed out, closes the
// run and then waits until no worker is active. Both sides use sequentially consistent operations
// (a store-load handshake: the worker writes active then reads generation, the caller writes
// generation then reads active), so either the caller sees the worker and waits for it, or the
// worker sees the run closed and stays out. Without the close, a worker that woke late (its run
// already finished by the others) could pass its check while the caller was writing the next run,
// and compute a chunk of the new run with the old chunk count: rows computed twice or never, an
// in-place job applied twice, or a chunk lost and the caller waiting forever.
#define _GNU_SOURCE
#include "ps_ops.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <errno.h>

struct ps_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t generation;  // odd: a run is open; even: none is (see above)
    _Atomic int next;     // next chunk to take
    _Atomic int active;   // workers that joined the open run (or are checking whether to)
    _Atomic int stop;
    _Atomic int idle_spin;  // pause iterations a worker spins before sleeping
    int n_chunks;
    ps_task_fn fn;
    void *ctx;
    int *cpus;
};

typedef struct { ps_pool *pool; int index; } worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

int ps_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void take_chunks(ps_pool *pool) {
    const int n = pool->n_chunks;
    for (;;) {
        int i = atomic_fetch_add_explicit(&pool->next, 1, memory_order_acq_rel);
        if (i >= n) return;
        pool->fn(pool->ctx, i, n);
    }
}

// A run this worker has not yet seen is open.
static inline int run_open(uint64_t g, uint64_t seen) { return (g & 1) && g != seen; }

static void *worker_main(void *p) {
    worker_arg a = *(worker_arg *)p;
    free(p);
    ps_pool *pool = a.pool;
    if (pool->cpus) ps_pin_current_thread(pool->cpus[a.index]);
    uint64_t seen = 0;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while (!run_open(g = atomic_load_explicit(&pool->generation, memory_order_acquire), seen)) {
            if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
            if (++spins < atomic_load_explicit(&pool->idle_spin, memory_order_relaxed)) { cpu_relax(); continue; }
            pthread_mutex_lock(&pool->mu);
            while (!run_open(atomic_load(&pool->generation), seen) && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        seen = g;
        // Count in, then check the run is still open: the caller closes it before it waits for
        // active == 0, so a run it has closed is never joined (see the top of the file).
        atomic_fetch_add_explicit(&pool->active, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&pool->generation, memory_order_seq_cst) == g) take_chunks(pool);
        atomic_fetch_sub_explicit(&pool->active, 1, memory_order_release);
    }
}

ps_pool *ps_pool_create(int n_threads, const int *cpus) {
    if (n_threads < 1) n_threads = 1;
    ps_pool *pool = calloc(1, sizeof(ps_pool));
    if (!pool) return NULL;
    pool->n = n_threads;
    atomic_store(&pool->idle_spin, PS_POOL_DEFAULT_IDLE_SPIN);
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    if (cpus) {
        pool->cpus = malloc(sizeof(int) * n_threads);
        for (int i = 0; i < n_threads; i++) pool->cpus[i] = cpus[i];
        ps_pin_current_thread(cpus[0]);
    }
    pool->threads = calloc(n_threads, sizeof(pthread_t));
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof(worker_arg));
        a->pool = pool;
        a->index = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            pool->n = i;  // run with the threads we got
            break;
        }
    }
    return pool;
}

int ps_pool_size(const ps_pool *pool) { return pool ? pool->n : 1; }

void ps_pool_set_idle_spin(ps_pool *pool, int spins) {
    if (pool) atomic_store(&pool->idle_spin, spins < 0 ? 0 : spins);
}

void ps_pool_run(ps_pool *pool, ps_task_fn fn, void *ctx, int n_chunks) {
    if (n_chunks <= 0) return;
    if (!pool || pool->n == 1 || n_chunks == 1) {
        for (int i = 0; i < n_chunks; i++) fn(ctx, i, n_chunks);
        return;
    }
    // No worker is active here (the last run waited for that after closing), so none reads
    // these while they change.
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_chunks = n_chunks;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    pthread_mutex_lock(&pool->mu);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);   // open (odd)
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    take_chunks(pool);
    // Every chunk is handed out. Close the run, then wait for the workers in it: each chunk a
    // worker took is finished when it leaves, and its writes are visible once active reads 0.
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_seq_cst);   // closed (even)
    // Spin as long as an idle worker would; then yield, so that on shared CPUs a worker that was
    // descheduled (or another stage's thread pinned to this CPU) gets the core instead of
    // waiting for this thread's time slice to end.
    const int patience = atomic_load_explicit(&pool->idle_spin, memory_order_relaxed);
    int spins = 0;
    while (atomic_load_explicit(&pool->active, memory_order_seq_cst) > 0) {
        if (++spins < patience) cpu_relax(); else sched_yield();
    }
}

void ps_pool_destroy(ps_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool->threads);
    free(pool->cpus);
    free(pool);
}
