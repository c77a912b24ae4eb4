/* counters.h - one block of counters per event loop, in memory that worker processes share.
 *
 * A loop that runs beside others (echo-epoll --threads, --workers) counts into a block of its own:
 * its syscalls (sys.h) and its per-request stats (stats.h). counters_attach() points the calling
 * thread's sys_local and stats_local at it; the call sites (sys_counted, STAT_ADD) do not change.
 * Each block starts on its own cache line, so two loops on two cores never write the same line.
 *
 * All blocks sit in one MAP_SHARED anonymous mapping made before any loop thread or worker process
 * starts: a worker's writes land in the very memory the supervisor reads, so a snapshot of the
 * whole server is one sum, taken in one process. With workers the per-connection gauges move there
 * too (stats_gauges), so --max-conns and peak_conns cover every worker. Each worker also publishes
 * its getrusage() there when it answers a snapshot (loops.c), because the supervisor's own
 * getrusage() sees only itself: RUSAGE_CHILDREN counts children only once they have exited.
 *
 * Servers that never call counters_create() count into the process's own blocks, as before.
 */
#ifndef MUXBENCH_COUNTERS_H
#define MUXBENCH_COUNTERS_H

#include "stats.h"
#include "sys.h"

#include <stddef.h>
#include <stdint.h>

struct loop_block {
	_Alignas(64) struct sys_counters sys;
	struct stats stats;
	/* What the loop counted when it answered its last snapshot: a snapshot line sums these, so
	 * each loop is seen as of one instant between two of its requests, as a single loop sees
	 * itself. Written by the loop, read by the control side once snapshot_gen says so. */
	struct sys_counters frozen_sys;
	struct stats frozen_stats;
	_Atomic uint64_t snapshot_gen; /* the last snapshot this loop has answered (loops.c) */
};

/* A worker process's resource usage, as getrusage(RUSAGE_SELF) last reported it. */
struct worker_usage {
	_Alignas(64) _Atomic uint64_t user_us;
	_Atomic uint64_t sys_us, nvcsw, nivcsw, maxrss_kb;
};

struct counters {
	struct loop_block *loops;
	size_t nloops;
	struct worker_usage *workers; /* NULL without --workers */
	size_t nworkers;
};

/* Maps nloops blocks (and, with nworkers > 0, the shared gauges and one usage slot per worker),
 * zeroed, and has every later stats_write() add them in. Exits 1 if the mapping fails. */
const struct counters *counters_create(size_t nloops, size_t nworkers);
/* The blocks stats_write() adds in: NULL until counters_create(). */
const struct counters *counters_get(void);
/* From now on this thread counts into b. */
void counters_attach(struct loop_block *b);
/* b's frozen copy := its live counters (by the loop that owns b). */
void counters_freeze(struct loop_block *b);
/* to += from, counter by counter, each a relaxed load and store: the snapshot's sums. */
void counters_add_sys(struct sys_counters *to, const struct sys_counters *from);
void counters_add_stats(struct stats *to, const struct stats *from);
/* Record a worker's resource usage in its slot: its own getrusage() when it answers a snapshot,
 * or what wait4() reported once it exited. */
struct rusage;
void counters_record_usage(struct worker_usage *u, const struct rusage *ru);

#endif
