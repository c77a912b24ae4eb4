/* stats.c - one counters snapshot, formatted as the stats line (fields: results/README.md).
 *
 * The line is formatted into one buffer and written with a single write() on an O_APPEND fd, so a
 * line never interleaves with another and a reader never sees half a line. These writes are
 * measurement overhead, not the server's work, so they bypass the counting wrappers.
 */
#include "stats.h"

#include "sqthread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	const char *server, *variant;
	int fd;
	bool counters;
	enum checks_model checks;
	uint64_t seq;
	pthread_mutex_t lock;
} out = {.fd = STDERR_FILENO, .lock = PTHREAD_MUTEX_INITIALIZER};

void stats_init(const char *server, const char *variant, const char *path, bool counters,
		enum checks_model checks)
{
	out.server = server;
	out.variant = variant;
	out.counters = counters;
	out.checks = checks;
	if (path) {
		out.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (out.fd < 0) {
			fprintf(stderr, "echo-%s: --stats %s: %s\n", server, path, strerror(errno));
			exit(2);
		}
	}
}

struct line {
	char buf[12288]; /* the longest line, with 64 loops of 20-digit figures, is under 10 KiB */
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

/* {"total":T,"name":n,...} for one array of counts. */
static void put_kinds(struct line *l, const _Atomic uint64_t *v, const char *const *names, int n)
{
	uint64_t total = 0;
	for (int k = 0; k < n; k++)
		total += counter_get(&v[k]);
	put(l, "{\"total\":%llu", (unsigned long long)total);
	for (int k = 0; k < n; k++)
		put(l, ",\"%s\":%llu", names[k], (unsigned long long)counter_get(&v[k]));
	put(l, "}");
}

static void put_syscalls(struct line *l, const struct sys_counters *sys)
{
	if (!out.counters) {
		put(l, "null,\"read_eagain\":null,\"write_eagain\":null,\"uring_ops\":null,");
		return;
	}
	put_kinds(l, sys->calls, sys_names, SYS__COUNT);
	put(l, ",\"read_eagain\":%llu,\"write_eagain\":%llu,\"uring_ops\":",
	    (unsigned long long)counter_get(&sys->read_eagain),
	    (unsigned long long)counter_get(&sys->write_eagain));
	put_kinds(l, sys->ops, sys_op_names, OP__COUNT);
	put(l, ",");
}

/* "loops": each loop's requests, connections and CPU time, so their balance across loops is
 * visible (CPU null where no one thread is the loop: counters.h, live). */
static void put_loops(struct line *l, const struct counters_snapshot *s)
{
	if (!s->nloops)
		return;
	put(l, ",\"loops\":[");
	for (size_t i = 0; i < s->nloops; i++) {
		put(l, "%s{\"requests\":%llu,\"accepted\":%llu,\"conns\":%llu,\"cpu_us\":", i ? "," : "",
		    (unsigned long long)s->loops[i].requests, (unsigned long long)s->loops[i].accepted,
		    (unsigned long long)s->loops[i].conns);
		if (s->loops_cpu_known)
			put(l, "%llu}", (unsigned long long)s->loops[i].cpu_us);
		else
			put(l, "null}");
	}
	put(l, "]");
}

/* The readiness fields a model does not count itself are another count under a second name
 * (counters.h, enum checks_model): epoll_wait()'s events and io_uring's completions are exactly
 * the checks, the entries the kernel walked and those the loop iterated; only select walks more
 * than it checks. Filled in here, once per line, so that the loop pays nothing for them. */
static void fill_checks(struct stats *st)
{
	uint64_t events = counter_get(&st->events), checks = counter_get(&st->checks);
	switch (out.checks) {
	case CHECKS_EVENTS:
	case CHECKS_COMPLETIONS:
		atomic_store_explicit(&st->checks, events, memory_order_relaxed);
		atomic_store_explicit(&st->walked, events, memory_order_relaxed);
		atomic_store_explicit(&st->scanned, events, memory_order_relaxed);
		break;
	case CHECKS_READS:
	case CHECKS_NFDS:
		atomic_store_explicit(&st->walked, checks, memory_order_relaxed);
		break;
	case CHECKS_SET_FDS: /* all three counted by the loop */
	case CHECKS_NONE:    /* written as null */
		break;
	}
}

static void format(struct line *l, const char *type, struct counters_snapshot *s,
		   const struct timespec *now)
{
	put(l, "{\"type\":\"%s\",\"seq\":%llu,\"server\":\"%s\",\"variant\":\"%s\",\"pid\":%ld,", type,
	    (unsigned long long)++out.seq, out.server, out.variant, (long)getpid());
	put(l, "\"time_ns\":%llu,\"counters\":\"%s\",\"syscalls\":",
	    (unsigned long long)now->tv_sec * 1000000000ull + (unsigned long long)now->tv_nsec,
	    out.counters ? "in-process" : "none");
	put_syscalls(l, &s->sys);
	fill_checks(&s->stats);
#define FIELD(name, scope, shown)                                                                  \
	if (shown == STATS_CHECK && out.checks == CHECKS_NONE)                                     \
		put(l, "\"" #name "\":null,");                                                        \
	else if (shown)                                                                            \
		put(l, "\"" #name "\":%llu,", (unsigned long long)counter_get(&s->stats.name));
	STATS_FIELDS(FIELD)
#undef FIELD
	const struct usage *u = &s->usage;
	put(l, "\"user_us\":%llu,\"sys_us\":%llu,\"nvcsw\":%llu,\"nivcsw\":%llu,\"maxrss_kb\":%llu",
	    (unsigned long long)u->user_us, (unsigned long long)u->sys_us,
	    (unsigned long long)u->nvcsw, (unsigned long long)u->nivcsw,
	    (unsigned long long)u->maxrss_kb);
	l->len += sqthread_format(l->buf + l->len, sizeof l->buf - l->len);
	put_loops(l, s);
	put(l, "}\n");
}

void stats_write(const char *type)
{
	static struct line l; /* under out.lock: 8 KiB off the loop threads' small stacks */
	static struct counters_snapshot s;
	struct timespec now;

	pthread_mutex_lock(&out.lock);
	counters_snapshot(&s, strcmp(type, "snapshot") == 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	l.len = 0;
	format(&l, type, &s, &now);

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
