/* counters.c - the per-loop counter blocks (see counters.h). */
#include "counters.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

static struct counters registered;

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
	if (p == MAP_FAILED) {
		fprintf(stderr, "muxbench: mmap %zu bytes of counters: %s\n", size, strerror(errno));
		exit(1);
	}
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

const struct counters *counters_get(void)
{
	return registered.loops ? &registered : NULL;
}

void counters_attach(struct loop_block *b)
{
	sys_local = &b->sys;
	stats_local = &b->stats;
}

static uint64_t get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void set(_Atomic uint64_t *v, uint64_t x)
{
	atomic_store_explicit(v, x, memory_order_relaxed);
}

void counters_add_sys(struct sys_counters *to, const struct sys_counters *from)
{
	for (int k = 0; k < SYS__COUNT; k++)
		set(&to->calls[k], get(&to->calls[k]) + get(&from->calls[k]));
	set(&to->read_eagain, get(&to->read_eagain) + get(&from->read_eagain));
	set(&to->write_eagain, get(&to->write_eagain) + get(&from->write_eagain));
	for (int k = 0; k < OP__COUNT; k++)
		set(&to->ops[k], get(&to->ops[k]) + get(&from->ops[k]));
}

void counters_add_stats(struct stats *to, const struct stats *from)
{
#define ADD(f) set(&to->f, get(&to->f) + get(&from->f));
	STATS_FIELDS(ADD)
#undef ADD
}

void counters_freeze(struct loop_block *b)
{
	for (int k = 0; k < SYS__COUNT; k++)
		set(&b->frozen_sys.calls[k], get(&b->sys.calls[k]));
	set(&b->frozen_sys.read_eagain, get(&b->sys.read_eagain));
	set(&b->frozen_sys.write_eagain, get(&b->sys.write_eagain));
	for (int k = 0; k < OP__COUNT; k++)
		set(&b->frozen_sys.ops[k], get(&b->sys.ops[k]));
#define COPY(f) set(&b->frozen_stats.f, get(&b->stats.f));
	STATS_FIELDS(COPY)
#undef COPY
}

static uint64_t tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void counters_record_usage(struct worker_usage *u, const struct rusage *ru)
{
	atomic_store_explicit(&u->user_us, tv_us(ru->ru_utime), memory_order_relaxed);
	atomic_store_explicit(&u->sys_us, tv_us(ru->ru_stime), memory_order_relaxed);
	atomic_store_explicit(&u->nvcsw, (uint64_t)ru->ru_nvcsw, memory_order_relaxed);
	atomic_store_explicit(&u->nivcsw, (uint64_t)ru->ru_nivcsw, memory_order_relaxed);
	atomic_store_explicit(&u->maxrss_kb, (uint64_t)ru->ru_maxrss, memory_order_relaxed);
}
