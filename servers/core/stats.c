/* stats.c - the stats snapshot, written as one JSON line (fields: see stats.h and results/README.md).
 *
 * The line is a sum: the process's own blocks (sys_count, stats), plus every per-loop block and
 * every worker's resource usage when counters.h's blocks exist. A gauge is only ever written in
 * one block (stats_gauges), so adding up every block reads it exactly too.
 *
 * The line is formatted into one buffer and written with a single write() on an O_APPEND fd, so a
 * snapshot never interleaves with another and a reader never sees half a line. These writes are
 * measurement overhead, not the server's work, so they bypass the counting wrappers.
 */
#include "stats.h"

#include "counters.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct stats stats;
struct stats *stats_gauges = &stats;
_Thread_local struct stats *stats_local = &stats;

#define ONE(f) +1
_Static_assert(sizeof(struct stats) == (0 STATS_FIELDS(ONE)) * sizeof(_Atomic uint64_t),
	       "STATS_FIELDS must list every field of struct stats");
#undef ONE


static struct {
	const char *server, *variant;
	int fd;
	bool counters;
	uint64_t seq;
	pthread_mutex_t lock;
} out = {.fd = STDERR_FILENO, .lock = PTHREAD_MUTEX_INITIALIZER};

void stats_init(const char *server, const char *variant, const char *path, bool counters)
{
	out.server = server;
	out.variant = variant;
	out.counters = counters;
	atomic_store(&stats.threads, 1);
	if (path) {
		out.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (out.fd < 0) {
			fprintf(stderr, "echo-%s: --stats %s: %s\n", server, path, strerror(errno));
			exit(2);
		}
	}
}

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

struct line {
	char buf[8192]; /* the longest line, with 64 loops, is under 7 KiB */
	size_t len;
};

static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		l->len += (size_t)n < sizeof l->buf - l->len ? (size_t)n : sizeof l->buf - l->len - 1;
}

static uint64_t get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}


static uint64_t tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* The totals over every block this process can see (see the top of this file). */
static void sum(struct sys_counters *sys, struct stats *st, bool frozen)
{
	counters_add_sys(sys, &sys_count);
	counters_add_stats(st, &stats);
	if (stats_gauges != &stats)
		counters_add_stats(st, stats_gauges);
	const struct counters *c = counters_get();
	for (size_t i = 0; c && i < c->nloops; i++) {
		const struct loop_block *b = &c->loops[i];
		counters_add_sys(sys, frozen ? &b->frozen_sys : &b->sys);
		counters_add_stats(st, frozen ? &b->frozen_stats : &b->stats);
	}
}

/* This process's getrusage() plus every worker's last published one. maxrss is then the sum of
 * each process's peak: an upper bound on the server's peak, which is what a memory budget needs. */
static void usage(uint64_t u[5])
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		memset(&ru, 0, sizeof ru);
	u[0] = tv_us(ru.ru_utime);
	u[1] = tv_us(ru.ru_stime);
	u[2] = (uint64_t)ru.ru_nvcsw;
	u[3] = (uint64_t)ru.ru_nivcsw;
	u[4] = (uint64_t)ru.ru_maxrss;
	const struct counters *c = counters_get();
	for (size_t i = 0; c && i < c->nworkers; i++) {
		const struct worker_usage *w = &c->workers[i];
		u[0] += get(&w->user_us);
		u[1] += get(&w->sys_us);
		u[2] += get(&w->nvcsw);
		u[3] += get(&w->nivcsw);
		u[4] += get(&w->maxrss_kb);
	}
}

/* "loops": each loop's requests and connections, so their balance across loops is visible. */
static void put_loops(struct line *l, bool frozen)
{
	const struct counters *c = counters_get();
	if (!c)
		return;
	put(l, ",\"loops\":[");
	for (size_t i = 0; i < c->nloops; i++) {
		const struct stats *s = frozen ? &c->loops[i].frozen_stats : &c->loops[i].stats;
		uint64_t acc = get(&s->loop_accepted), closed = get(&s->loop_closed);
		put(l, "%s{\"requests\":%llu,\"accepted\":%llu,\"conns\":%llu}", i ? "," : "",
		    (unsigned long long)get(&s->requests), (unsigned long long)acc,
		    (unsigned long long)(acc - closed));
	}
	put(l, "]");
}

void stats_write(const char *type)
{
	struct timespec now;
	struct line l = {.len = 0};
	struct sys_counters sys_sum = {0};
	struct stats st = {0};
	uint64_t ru[5];

	/* A snapshot of several loops sums the copies each froze when it answered (loops.h). */
	bool frozen = counters_get() && strcmp(type, "snapshot") == 0;

	pthread_mutex_lock(&out.lock);
	sum(&sys_sum, &st, frozen);
	usage(ru);
	clock_gettime(CLOCK_MONOTONIC, &now);
	put(&l, "{\"type\":\"%s\",\"seq\":%llu,\"server\":\"%s\",\"variant\":\"%s\",\"pid\":%ld,", type,
	    (unsigned long long)++out.seq, out.server, out.variant, (long)getpid());
	put(&l, "\"time_ns\":%llu,\"counters\":\"%s\",\"syscalls\":",
	    (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec,
	    out.counters ? "in-process" : "none");
	if (out.counters) {
		uint64_t total = 0;
		for (int k = 0; k < SYS__COUNT; k++)
			total += get(&sys_sum.calls[k]);
		put(&l, "{\"total\":%llu", (unsigned long long)total);
		for (int k = 0; k < SYS__COUNT; k++)
			put(&l, ",\"%s\":%llu", sys_names[k], (unsigned long long)get(&sys_sum.calls[k]));
		put(&l, "},\"read_eagain\":%llu,\"write_eagain\":%llu,\"uring_ops\":",
		    (unsigned long long)get(&sys_sum.read_eagain),
		    (unsigned long long)get(&sys_sum.write_eagain));
		total = 0;
		for (int k = 0; k < OP__COUNT; k++)
			total += get(&sys_sum.ops[k]);
		put(&l, "{\"total\":%llu", (unsigned long long)total);
		for (int k = 0; k < OP__COUNT; k++)
			put(&l, ",\"%s\":%llu", sys_op_names[k], (unsigned long long)get(&sys_sum.ops[k]));
		put(&l, "},");
	} else {
		put(&l, "null,\"read_eagain\":null,\"write_eagain\":null,\"uring_ops\":null,");
	}
#define F(name) put(&l, "\"" #name "\":%llu,", (unsigned long long)get(&st.name))
	F(requests); F(bytes_in); F(bytes_out); F(accepted); F(closed); F(conns); F(peak_conns);
	F(loop_passes); F(wakeups); F(events); F(rejected_fd_setsize); F(rejected_max_conns);
	F(accept_emfile); F(accept_errors); F(resets); F(threads);
#undef F
	put(&l, "\"user_us\":%llu,\"sys_us\":%llu,\"nvcsw\":%llu,\"nivcsw\":%llu,\"maxrss_kb\":%llu",
	    (unsigned long long)ru[0], (unsigned long long)ru[1], (unsigned long long)ru[2],
	    (unsigned long long)ru[3], (unsigned long long)ru[4]);
	put_loops(&l, frozen);
	put(&l, "}\n");

	const char *p = l.buf;
	size_t left = l.len;
	while (left > 0) {
		ssize_t n = write(out.fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* nowhere left to report to: stats are best effort, serving is not */
		p += n;
		left -= (size_t)n;
	}
	pthread_mutex_unlock(&out.lock);
}
