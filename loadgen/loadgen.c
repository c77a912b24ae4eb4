/* loadgen.c - the load generator: N connections, M of them active, closed loop or a fixed rate.
 *
 * The loadgen is half of every measurement: if it is slow it measures itself, if it waits for
 * replies it hides stalls, if it does not check what comes back it cannot tell an echo server from
 * a broken one. So:
 *  - threads like wrk: each runs its own epoll loop over its share of the connections (worker.c);
 *    counters and histograms are per thread and merged after join;
 *  - the M active connections are spread evenly over the N: active a is connection a*N/M; the
 *    others stay connected and idle for the whole run;
 *  - at a fixed rate, latency counts from each request's scheduled time (no coordinated omission);
 *    the uncorrected figure is reported beside it;
 *  - every response is checked byte for byte (conn.c);
 *  - it never hangs: each phase has a deadline, a request has --timeout, and a server that never
 *    answers leaves "starved" active connections and a non-zero exit;
 *  - nothing sent goes unaccounted: the requests in flight when the window ends are waited for
 *    (at most --timeout), so a response that never comes is a timeout even late in the run.
 * The main thread is the clock, and main() reads as the run's phases: deal the connections over
 * the threads, connect, measure (warm up, then the window, bracketed for the server and perf by
 * window.c, then the drain), merge the threads' counts and histograms into the report.
 */
#include "loadgen.h"
#include "report.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

_Atomic int run_phase = PHASE_CONNECT;
_Atomic uint64_t window_responses;
_Atomic unsigned workers_connected;
_Atomic unsigned workers_drained;

/* The threads and the connections they were dealt. */
struct run {
	const struct config *cfg;
	struct worker *ws;	/* [threads] */
	struct lconn *conns;	/* [N]: each worker's share contiguous, its actives first */
	struct lconn **actives; /* [M]: each worker's actives contiguous */
};

/* The M active connections are spread evenly over the N (active a is connection a*N/M); then the
 * actives are dealt round-robin over the threads, so that every thread gets its share of the load,
 * and the idle ones the same way. */
static void deal(struct run *run, const struct config *cfg)
{
	*run = (struct run){.cfg = cfg, .ws = calloc(cfg->threads, sizeof *run->ws),
			    .conns = calloc(cfg->connections, sizeof *run->conns),
			    .actives = calloc(cfg->active, sizeof *run->actives)};
	struct lconn *all = calloc(cfg->connections, sizeof *all);
	if (!run->ws || !run->conns || !run->actives || !all)
		fatal_errno("calloc");
	for (uint64_t i = 0; i < cfg->connections; i++)
		all[i] = (struct lconn){.fd = -1, .id = (uint32_t)i};
	for (uint64_t a = 0; a < cfg->active; a++)
		all[a * cfg->connections / cfg->active].active = true;
	size_t pos = 0, apos = 0;
	for (unsigned t = 0; t < cfg->threads; t++) {
		struct worker *w = &run->ws[t];
		*w = (struct worker){.cfg = cfg, .ep = -1, .conns = &run->conns[pos]};
		hist_init(&w->lat);
		hist_init(&w->lat_uncorrected);
		for (int idle = 0; idle < 2; idle++) {
			uint64_t k = 0;
			for (uint64_t i = 0; i < cfg->connections; i++)
				if (all[i].active == !idle && k++ % cfg->threads == t)
					run->conns[pos++] = all[i];
			if (!idle)
				w->nactive = (size_t)(&run->conns[pos] - w->conns);
		}
		w->nconns = (size_t)(&run->conns[pos] - w->conns);
		w->actives = &run->actives[apos];
		for (size_t i = 0; i < w->nactive; i++)
			run->actives[apos++] = &w->conns[i];
	}
	free(all);
}

static void run_free(struct run *run)
{
	free(run->ws);
	free(run->conns);
	free(run->actives);
}

static void join_all(struct run *run)
{
	for (unsigned t = 0; t < run->cfg->threads; t++) {
		int err = pthread_join(run->ws[t].thread, NULL);
		if (err) {
			errno = err;
			fatal_errno("pthread_join");
		}
	}
}

/* Start the workers; each makes its connections and sees every one served once (connect.c).
 * Returns false, with the workers joined and the cause on stderr, when one fails or the deadline
 * passes. */
static bool connect_phase(struct run *run, struct result *r)
{
	const struct config *cfg = run->cfg;
	r->t_connect = now_ns();
	uint64_t deadline = r->t_connect + 30000000000ull + cfg->timeout_ns +
			    (cfg->connect_rate ? cfg->connections * 1000000000ull / cfg->connect_rate : 0);
	for (unsigned t = 0; t < cfg->threads; t++) {
		int err = pthread_create(&run->ws[t].thread, NULL, worker_main, &run->ws[t]);
		if (err) {
			errno = err;
			fatal_errno("pthread_create");
		}
	}
	int failed_errno = 0;
	while (atomic_load(&workers_connected) < cfg->threads) {
		for (unsigned t = 0; t < cfg->threads && !failed_errno; t++)
			failed_errno = run->ws[t].connect_errno;
		if (failed_errno || now_ns() > deadline)
			break;
		sleep_ns(1000000);
	}
	if (atomic_load(&workers_connected) == cfg->threads) {
		r->t_connected = now_ns();
		return true;
	}
	atomic_store(&run_phase, PHASE_EXIT);
	join_all(run);
	uint64_t connected = 0;
	for (unsigned t = 0; t < cfg->threads; t++)
		connected += run->ws[t].connected;
	if (failed_errno)
		explain_connect_failure(cfg, failed_errno, connected);
	else
		fprintf(stderr, "loadgen: connecting %llu connections took longer than %.0f s\n",
			(unsigned long long)cfg->connections, (double)(deadline - r->t_connect) / 1e9);
	return false;
}

static void usage_now(struct rusage *ru)
{
	if (getrusage(RUSAGE_SELF, ru) != 0)
		fatal_errno("getrusage");
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		fatal_errno("clock_gettime CLOCK_REALTIME");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --start-at: loadgens on several hosts, each told the same instant on its own wall clock (the
 * harness has measured how far those clocks are apart), start their warm-ups together and so
 * measure one window. The wait is on the monotonic clock, converted once: a step of the wall
 * clock while waiting must not move the start. Past the instant already (connecting took longer
 * than the harness allowed): false, said on stderr, since this host's window would not be the
 * others'. */
static bool wait_for_start(const struct config *cfg)
{
	if (!cfg->start_at_ns)
		return true;
	uint64_t real = realtime_ns(), mono = now_ns();
	if (real > cfg->start_at_ns) {
		fprintf(stderr, "loadgen: --start-at passed %.3f s before the connections were open\n",
			(double)(real - cfg->start_at_ns) / 1e9);
		return false;
	}
	sleep_until_ns(mono + (cfg->start_at_ns - real));
	return true;
}

/* Warm up, then the measured window (the workers count only inside it), then the drain: each
 * request in flight is answered or times out (worker.c). The loadgen's own CPU time is taken over
 * the window alone. */
static void measure(struct run *run, const struct perf_ctl *perf, struct result *r)
{
	const struct config *cfg = run->cfg;
	r->t_warm = now_ns();
	r->real_warm = realtime_ns();
	for (unsigned t = 0; cfg->rate && t < cfg->threads; t++) {
		struct worker *w = &run->ws[t];
		/* this thread's share: R * M_t / M requests per second, staggered between threads */
		w->rate_num = 1000000000ull * cfg->active;
		w->rate_den = cfg->rate * (w->nactive ? w->nactive : 1);
		w->rate_start_ns = r->t_warm + t * 1000000000ull / cfg->rate / cfg->threads;
	}
	atomic_store(&run_phase, PHASE_WARMUP);
	sleep_until_ns(r->t_warm + cfg->warmup_ns);

	struct rusage ru0, ru1;
	mark_window(cfg, perf, true);
	usage_now(&ru0);
	r->t0 = now_ns();
	r->real_t0 = realtime_ns();
	atomic_store(&run_phase, PHASE_MEASURE);
	uint64_t end = r->t0 + cfg->duration_ns;
	int phase;
	while ((phase = atomic_load(&run_phase)) == PHASE_MEASURE && now_ns() < end)
		sleep_until_ns(cfg->requests ? now_ns() + 1000000 : end); /* --requests: look every 1 ms */
	atomic_store(&run_phase, PHASE_DONE);
	r->t1 = now_ns();
	usage_now(&ru1);
	mark_window(cfg, perf, false);
	r->requests_reached = cfg->requests && phase == PHASE_DONE;
	uint64_t user = timeval_us(ru1.ru_utime) - timeval_us(ru0.ru_utime);
	r->cpu_us = (double)user + (double)(timeval_us(ru1.ru_stime) - timeval_us(ru0.ru_stime));
	r->user_us = (double)user;

	while (atomic_load(&workers_drained) < cfg->threads)
		sleep_ns(1000000);
	/* --linger: when someone else marks the window (bench/run's remote.Marker, for several
	 * loadgens), its end snapshot comes from another clock a little after ours; connections closed
	 * before it would be missing from the server's count of what it held in the window. */
	if (cfg->linger_ns)
		sleep_ns(cfg->linger_ns);
	atomic_store(&run_phase, PHASE_EXIT); /* now the workers may close their connections */
}

/* Per-thread counts and histograms into one result, after the threads are gone. */
static void merge(struct run *run, struct result *r)
{
	const struct config *cfg = run->cfg;
	join_all(run);
	hist_init(&r->lat);
	hist_init(&r->lat_uncorrected);
	for (unsigned t = 0; t < cfg->threads; t++) {
		const struct worker *w = &run->ws[t];
		hist_merge(&r->lat, &w->lat);
		/* in closed loop a request is sent when scheduled: the two figures are one */
		hist_merge(&r->lat_uncorrected, cfg->rate ? &w->lat_uncorrected : &w->lat);
		r->responses += w->responses;
		r->bytes_in += w->bytes_in;
		r->bytes_out += w->bytes_out;
		for (int k = 0; k < ERR__COUNT; k++)
			r->errors[k] += w->errors[k];
		for (size_t i = 0; i < w->nactive; i++)
			r->starved += !w->conns[i].responded;
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	config_parse(&cfg, argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal_errno("signal SIGPIPE");
	config_preflight(&cfg);
	payload_init(cfg.seed, cfg.size);
	struct perf_ctl perf;
	perf_open(&perf, cfg.perf_ctl);

	struct run run;
	deal(&run, &cfg);
	struct result r = {.cfg = &cfg};
	int status = 1;
	if (connect_phase(&run, &r)) {
		if (wait_for_start(&cfg)) {
			measure(&run, &perf, &r);
			perf_close(&perf);
			merge(&run, &r);
			status = report(&r);
		} else { /* connected, but too late: the workers close their connections and go */
			atomic_store(&run_phase, PHASE_EXIT);
			join_all(&run);
		}
	}
	perf_close(&perf);
	run_free(&run);
	free(cfg.source_addrs);
	payload_free();
	return status;
}
