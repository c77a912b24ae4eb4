/* measure.c - calibration, repetitions and the summary (measure.h). */
#include "measure.h"

#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <stdlib.h>
#include <sys/epoll.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void summarize(double *v, int n, struct summary *out)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	out->reps = n;
	out->min = v[0];
	out->max = v[n - 1];
	out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* calls back-to-back calls; the count check costs one predictable branch per call. */
static int64_t batch(const struct mech *m, void *st, struct fdset *s, long calls)
{
	uint64_t t0 = now_ns();
	for (long c = 0; c < calls; c++) {
		int got = m->call(st, NULL);
		if (got != s->k)
			fatal("%s: a call reported %d ready fds, the set has %d (N %d, %s): not timing a broken set",
			     m->name, got, s->k, s->n, sock_kind_name(s->kind));
	}
	int64_t t = now_ns() - t0;
	if (m->consumes)
		s->consumed += (size_t)calls;
	return t > 0 ? t : 1;
}

/* Calls a consuming mechanism may still make, keeping one byte on each ready fd so it stays
 * ready for the mechanisms measured after it. */
static long bytes_left(const struct fdset *s)
{
	return (long)PRELOAD - (long)s->consumed - 1;
}

void measure(const struct mech *m, struct fdset *s, int reps, int64_t rep_ns, struct summary *out)
{
	void *st = m->open(s);
	long cap = m->consumes ? bytes_left(s) / 4 : 100000000L; /* calibration's share of the bytes */
	long c = 1;
	int64_t t = batch(m, st, s, c);
	while (t < rep_ns / 8 && c * 2 <= cap / 2) { /* doubling: the calls so far total < 2c */
		c *= 2;
		t = batch(m, st, s, c);
	}
	double scaled = (double)c * (double)rep_ns / (double)t;
	c = scaled < 1 ? 1 : scaled > 1e8 ? 100000000L : (long)scaled;
	if (m->consumes && c > bytes_left(s) / (WARMUP + reps))
		c = bytes_left(s) / (WARMUP + reps); /* shorter repetitions, said in calls_per_rep */
	if (c < 1)
		fatal("%s: %d repetitions need more than the %d bytes preloaded per ready fd", m->name, reps, PRELOAD);

	double *v = malloc((size_t)reps * sizeof *v);
	if (!v)
		fatal_errno("malloc");
	for (int r = -WARMUP; r < reps; r++) {
		t = batch(m, st, s, c);
		if (r >= 0)
			v[r] = (double)t / (double)c;
	}
	m->close(st);
	summarize(v, reps, out);
	out->calls = c;
	free(v);
}

static void ctl_all(int ep, int op, const struct fdset *s)
{
	/* MOD changes the mask without changing readiness: EPOLLRDHUP never fires here. */
	uint32_t events = op == EPOLL_CTL_MOD ? EPOLLIN | EPOLLRDHUP : EPOLLIN;
	for (int i = 0; i < s->n; i++) {
		struct epoll_event e = {.events = events, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, op, s->fd[i], &e) < 0)
			fatal_errno("epoll_ctl op %d on fd %d", op, s->fd[i]);
	}
}

void measure_epoll_ctl(const struct fdset *s, int reps, struct summary out[3])
{
	double *v = malloc(3 * (size_t)reps * sizeof *v);
	if (!v)
		fatal_errno("malloc");
	static const int ops[3] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
	for (int r = -WARMUP; r < reps; r++) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		if (ep < 0)
			fatal_errno("epoll_create1");
		for (int o = 0; o < 3; o++) {
			uint64_t t0 = now_ns();
			ctl_all(ep, ops[o], s);
			if (r >= 0)
				v[o * reps + r] = (double)(now_ns() - t0) / s->n;
		}
		xclose(ep);
	}
	for (int o = 0; o < 3; o++) {
		summarize(v + o * reps, reps, &out[o]);
		out[o].calls = s->n;
	}
	free(v);
}
