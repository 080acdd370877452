// Linux process and placement calls that Swift cannot reach through Glibc: Glibc is imported
// without _GNU_SOURCE (sched_setaffinity, CPU_SET are invisible) and prctl is variadic.
// NUMA through libnuma; on a machine without NUMA support the numa calls report "unavailable".
#pragma once
#include <stdint.h>

// Unblocks every signal of the calling thread (a spawned child inherits its spawner's mask, and
// threads of the Swift runtime block many). Returns 0 or errno.
int ps_sys_unblock_all_signals(void);
// prctl(PR_SET_PDEATHSIG, sig). Returns 0 or errno.
int ps_sys_set_parent_death_signal(int sig);
// Pins the calling thread (tid 0 = caller) or the whole process to the given CPUs. Returns 0 or errno.
int ps_sys_set_thread_affinity(const int *cpus, int count);
// The calling thread's allowed CPUs; returns how many were written (≤ max), or -errno.
int ps_sys_get_thread_affinity(int *cpus, int max);
// Returns freed heap memory to the system (glibc malloc_trim(0)); 1 if some was released.
int ps_sys_trim_heap(void);
// Number of CPUs configured on the machine.
int ps_sys_cpu_count(void);
// The calling thread's kernel id (what ps -L and /proc/PID/task show).
int ps_sys_thread_id(void);

// 1 when libnuma works on this machine, else 0.
int ps_sys_numa_available(void);
// Highest node number (0 on a one-node machine), -1 when NUMA is unavailable.
int ps_sys_numa_max_node(void);
// CPUs of a node; returns how many were written (≤ max), or -1.
int ps_sys_numa_node_cpus(int node, int *cpus, int max);
// Binds the calling thread's memory allocations to a node (MPOL_BIND). Returns 0 or errno.
int ps_sys_numa_bind_memory(int node);
// The calling thread's memory policy mode (MPOL_*) and the first word of its node mask.
int ps_sys_get_mempolicy(int *mode, unsigned long *nodemask);
