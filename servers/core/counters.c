/* counters.c - where every count is stored, and how a snapshot adds them up (see counters.h).
 *
 * The sum is: the process's own blocks (sys_count, stats), the workers' shared gauges when they
 * exist, every loop block, and every worker's published resource usage. A gauge is only ever
 * written in one block (stats_gauges), so adding up every block reads it exactly too.
 */
#include "counters.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define NAME(e, name) [SYS_##e] = #name,
#define OP_NAME(e, name) [OP_##e] = #name,
const char *const sys_names[SYS__COUNT] = {SYS_CALLS(NAME)};
const char *const sys_op_names[OP__COUNT] = {SYS_OPS(OP_NAME)};
#undef NAME
#undef OP_NAME

/* The main thread counts itself among the threads from the start. */
struct stats stats = {.threads = 1};
struct sys_counters sys_count;
_Thread_local struct sys_counters *sys_local = &sys_count;
_Thread_local struct stats *stats_local = &stats;
struct stats *stats_gauges = &stats;

static struct counters registered;

#define ONE(...) +1
_Static_assert(sizeof(struct stats) == (0 STATS_FIELDS(ONE)) * sizeof(_Atomic uint64_t),
	       "struct stats holds exactly the counters STATS_FIELDS lists");
#undef ONE

void stats_conn_opened(void)
{
	STAT_ADD(accepted, 1);
	STAT_ADD(loop_accepted, 1);
	uint64_t now = STAT_ADD(conns, 1) + 1;
	uint64_t peak = STAT_GAUGE(peak_conns);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&stats_gauges->peak_conns, &peak, now,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void stats_conn_closed(void)
{
	STAT_ADD(closed, 1);
	STAT_ADD(loop_closed, 1);
	STAT_SUB(conns, 1);
}

/* Where the workers' shared gauges go: its own cache line, ahead of the loop blocks. */
struct shared_gauges {
	_Alignas(64) struct stats stats;
};

const struct counters *counters_create(size_t nloops, size_t nworkers)
{
	size_t size = sizeof(struct shared_gauges) + nworkers * sizeof(struct worker_usage) +
		      nloops * sizeof(struct loop_block);
	/* MAP_SHARED even for threads alone: one kind of memory for both cases. Anonymous shared
	 * memory is zero-filled, and every counter starts at zero. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal_errno("mmap %zu bytes of counters", size);
	struct shared_gauges *g = p;
	registered.workers = nworkers ? (struct worker_usage *)(g + 1) : NULL;
	registered.nworkers = nworkers;
	registered.loops = (struct loop_block *)((char *)(g + 1) + nworkers * sizeof(struct worker_usage));
	registered.nloops = nloops;
	if (nworkers) {
		/* Whatever the gauges hold so far (the supervisor's own thread) stays in `stats`,
		 * which the sum adds in too; from now on every process counts connections here. */
		stats_gauges = &g->stats;
	}
	return &registered;
}

const struct counters *counters_create_live(size_t nloops)
{
	counters_create(nloops, 0);
	registered.live = true;
	return &registered;
}

const struct counters *counters_get(void)
{
	return registered.loops ? &registered : NULL;
}

void counters_attach(struct loop_block *b)
{
	sys_local = &b->sys;
	stats_local = &b->stats;
}

/* to := from (add false) or to += from (add true), counter by counter, each a relaxed load and
 * store: the two things a freeze and a sum do, written once for each kind of block. */
static void fold(_Atomic uint64_t *to, const _Atomic uint64_t *from, bool add)
{
	atomic_store_explicit(to, (add ? counter_get(to) : 0) + counter_get(from),
			      memory_order_relaxed);
}

static void fold_sys(struct sys_counters *to, const struct sys_counters *from, bool add)
{
	for (int k = 0; k < SYS__COUNT; k++)
		fold(&to->calls[k], &from->calls[k], add);
	fold(&to->read_eagain, &from->read_eagain, add);
	fold(&to->write_eagain, &from->write_eagain, add);
	for (int k = 0; k < OP__COUNT; k++)
		fold(&to->ops[k], &from->ops[k], add);
}

static void fold_stats(struct stats *to, const struct stats *from, bool add)
{
#define FOLD(name, scope, shown) fold(&to->name, &from->name, add);
	STATS_FIELDS(FOLD)
#undef FOLD
}

void counters_freeze(struct loop_block *b)
{
	fold_sys(&b->frozen_sys, &b->sys, false);
	fold_stats(&b->frozen_stats, &b->stats, false);
	/* Not through sys.c: like the process's getrusage below, the figures' own cost is not one
	 * of the server's syscalls. A failure leaves the last figure (the stats line says 0 if none). */
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru) == 0)
		atomic_store_explicit(&b->frozen_cpu_us, timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime),
				      memory_order_relaxed);
}

static struct usage usage_of(const struct rusage *ru)
{
	return (struct usage){.user_us = timeval_us(ru->ru_utime),
			      .sys_us = timeval_us(ru->ru_stime),
			      .nvcsw = (uint64_t)ru->ru_nvcsw,
			      .nivcsw = (uint64_t)ru->ru_nivcsw,
			      .maxrss_kb = (uint64_t)ru->ru_maxrss};
}

void counters_record_usage(struct worker_usage *u, const struct rusage *ru)
{
	struct usage now = usage_of(ru);
#define STORE(name) atomic_store_explicit(&u->name, now.name, memory_order_relaxed);
	USAGE_FIELDS(STORE)
#undef STORE
}

/* This process's getrusage() plus every worker's last published one. maxrss is then the sum of
 * each process's peak: an upper bound on the server's peak, which is what a memory budget needs. */
static void sum_usage(struct usage *u)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		memset(&ru, 0, sizeof ru);
	*u = usage_of(&ru);
	for (size_t i = 0; i < registered.nworkers; i++) {
#define ADD(name) u->name += counter_get(&registered.workers[i].name);
		USAGE_FIELDS(ADD)
#undef ADD
	}
}

void counters_snapshot(struct counters_snapshot *s, bool frozen)
{
	*s = (struct counters_snapshot){0};
	fold_sys(&s->sys, &sys_count, true);
	fold_stats(&s->stats, &stats, true);
	if (stats_gauges != &stats)
		fold_stats(&s->stats, stats_gauges, true);
	s->nloops = registered.nloops;
	s->loops_cpu_known = !registered.live;
	frozen = frozen && !registered.live; /* nobody froze a live block: its counts are the live ones */
	for (size_t i = 0; i < registered.nloops; i++) {
		const struct loop_block *b = &registered.loops[i];
		const struct stats *st = frozen ? &b->frozen_stats : &b->stats;
		fold_sys(&s->sys, frozen ? &b->frozen_sys : &b->sys, true);
		fold_stats(&s->stats, st, true);
		uint64_t acc = counter_get(&st->loop_accepted);
		s->loops[i].requests = counter_get(&st->requests);
		s->loops[i].accepted = acc;
		s->loops[i].conns = acc - counter_get(&st->loop_closed);
		s->loops[i].cpu_us = counter_get(&b->frozen_cpu_us);
	}
	sum_usage(&s->usage);
}
