/* stats.c - the stats snapshot, written as one JSON line (fields: see stats.h and results/README.md).
 *
 * The line is formatted into one buffer and written with a single write() on an O_APPEND fd, so a
 * snapshot never interleaves with another and a reader never sees half a line. These writes are
 * measurement overhead, not the server's work, so they bypass the counting wrappers.
 */
#include "stats.h"

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
	uint64_t now = STAT_ADD(conns, 1) + 1;
	uint64_t peak = atomic_load_explicit(&stats.peak_conns, memory_order_relaxed);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&stats.peak_conns, &peak, now, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

void stats_conn_closed(void)
{
	STAT_ADD(closed, 1);
	atomic_fetch_sub_explicit(&stats.conns, 1, memory_order_relaxed);
}

struct line {
	char buf[4096];
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

static uint64_t get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static uint64_t tv_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

void stats_write(const char *type)
{
	struct rusage ru;
	struct timespec now;
	struct line l = {.len = 0};

	pthread_mutex_lock(&out.lock);
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		memset(&ru, 0, sizeof ru);
	clock_gettime(CLOCK_MONOTONIC, &now);
	put(&l, "{\"type\":\"%s\",\"seq\":%llu,\"server\":\"%s\",\"variant\":\"%s\",\"pid\":%ld,", type,
	    (unsigned long long)++out.seq, out.server, out.variant, (long)getpid());
	put(&l, "\"time_ns\":%llu,\"counters\":\"%s\",\"syscalls\":",
	    (unsigned long long)now.tv_sec * 1000000000ull + (unsigned long long)now.tv_nsec,
	    out.counters ? "in-process" : "none");
	if (out.counters) {
		uint64_t total = 0;
		for (int k = 0; k < SYS__COUNT; k++)
			total += get(&sys_count.calls[k]);
		put(&l, "{\"total\":%llu", (unsigned long long)total);
		for (int k = 0; k < SYS__COUNT; k++)
			put(&l, ",\"%s\":%llu", sys_names[k], (unsigned long long)get(&sys_count.calls[k]));
		put(&l, "},\"read_eagain\":%llu,\"write_eagain\":%llu,\"uring_ops\":",
		    (unsigned long long)get(&sys_count.read_eagain),
		    (unsigned long long)get(&sys_count.write_eagain));
		total = 0;
		for (int k = 0; k < OP__COUNT; k++)
			total += get(&sys_count.ops[k]);
		put(&l, "{\"total\":%llu", (unsigned long long)total);
		for (int k = 0; k < OP__COUNT; k++)
			put(&l, ",\"%s\":%llu", sys_op_names[k], (unsigned long long)get(&sys_count.ops[k]));
		put(&l, "},");
	} else {
		put(&l, "null,\"read_eagain\":null,\"write_eagain\":null,\"uring_ops\":null,");
	}
#define F(name) put(&l, "\"" #name "\":%llu,", (unsigned long long)get(&stats.name))
	F(requests); F(bytes_in); F(bytes_out); F(accepted); F(closed); F(conns); F(peak_conns);
	F(loop_passes); F(wakeups); F(events); F(rejected_fd_setsize); F(rejected_max_conns);
	F(accept_emfile); F(accept_errors); F(resets); F(threads);
#undef F
	put(&l, "\"user_us\":%llu,\"sys_us\":%llu,\"nvcsw\":%ld,\"nivcsw\":%ld,\"maxrss_kb\":%ld}\n",
	    (unsigned long long)tv_us(ru.ru_utime), (unsigned long long)tv_us(ru.ru_stime), ru.ru_nvcsw,
	    ru.ru_nivcsw, ru.ru_maxrss);

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
