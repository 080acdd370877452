#define _GNU_SOURCE
#include "ps_system.h"
#include <errno.h>
#include <malloc.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

int ps_sys_unblock_all_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    return pthread_sigmask(SIG_SETMASK, &none, NULL);
}

int ps_sys_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) == 0 ? 0 : errno;
}

int ps_sys_set_thread_affinity(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int ps_sys_get_thread_affinity(int *cpus, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int rc = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
    if (rc != 0) return -rc;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set)) cpus[n++] = c;
    return n;
}

int ps_sys_cpu_count(void) { return (int)sysconf(_SC_NPROCESSORS_CONF); }

int ps_sys_numa_available(void) { return numa_available() >= 0 ? 1 : 0; }

int ps_sys_numa_max_node(void) { return numa_available() >= 0 ? numa_max_node() : -1; }

int ps_sys_numa_node_cpus(int node, int *cpus, int max) {
    if (numa_available() < 0) return -1;
    struct bitmask *bm = numa_allocate_cpumask();
    if (!bm) return -1;
    if (numa_node_to_cpus(node, bm) != 0) { numa_free_cpumask(bm); return -1; }
    int n = 0;
    for (unsigned i = 0; i < bm->size && n < max; i++)
        if (numa_bitmask_isbitset(bm, i)) cpus[n++] = (int)i;
    numa_free_cpumask(bm);
    return n;
}

int ps_sys_numa_bind_memory(int node) {
    if (numa_available() < 0) return ENOSYS;
    unsigned long mask = 1UL << node;
    if (node < 0 || node >= (int)(8 * sizeof(mask))) return EINVAL;
    return set_mempolicy(MPOL_BIND, &mask, 8 * sizeof(mask) + 1) == 0 ? 0 : errno;
}

int ps_sys_get_mempolicy(int *mode, unsigned long *nodemask) {
    unsigned long mask[16] = {0};
    int m = 0;
    if (get_mempolicy(&m, mask, 16 * 8 * sizeof(unsigned long), 0, 0) != 0) return errno;
    *mode = m;
    *nodemask = mask[0];
    return 0;
}

int ps_sys_trim_heap(void) { return malloc_trim(0); }

int ps_sys_thread_id(void) { return (int)gettid(); }
