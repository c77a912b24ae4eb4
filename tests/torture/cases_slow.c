/* cases_slow.c - slowloris: 1,000 connections each sending one byte at a time, slowly.
 *
 * The loadgen's 50 connections send at a fixed rate for 2 s and report their p99 latency while
 * this driver keeps 1,000 slow connections going (one byte each per period, a 1/period share of
 * them each millisecond; every echoed byte verified). A server that blocks on a slow peer, or
 * whose per-pass cost explodes with mostly-idle connections, makes the normal clients wait.
 * Judged: the normal clients' p99 with the slow ones within 10x of their p99 without them; every
 * loadgen run error-free; every slow byte echoed.
 *
 * The load is a share of the machine's capacity, measured first (a closed loop of 1-byte echoes
 * against the twin, 1 s): the slow bytes at most 20% of it (and at most a byte per 10 ms per
 * connection, 100,000/s), the normal clients at most 2% (and at most 2k req/s). Written with an
 * absolute rate of slow bytes, the case passed on the machine it was written on and failed on a
 * slower one of the same kind: more than a core of work there, so it measured the machine, not
 * the server. The result line names the capacity and the rates chosen.
 *
 * "Without them" keeps the machine's load the same. Even a fifth of capacity in one-byte echoes
 * is real work for any server; on a 2-core VM a baseline with no slow clients at all measured the
 * scheduler, not the server (every server's p99 rose many times over, the event-loop ones and the
 * thread-per-connection one alike, the slow traffic taking a third core that does not exist).
 * So:
 *  - the servers run on CPU 0, this driver and the loadgen on CPU 1 (bench/run's placement);
 *  - the baseline sends the slow clients to a twin (the same server, same arguments, another
 *    port, also on CPU 0), so each core carries the same work in both runs and the only change
 *    is whether the slow clients share the server with the normal ones;
 *  - twin and same alternate, 3 times each, and the medians are compared. The p99 with no slow
 *    clients at all is reported too.
 * What the servers measured with this is in results/README.md and results/sample/TORTURE.md. A
 * server that waits for a slow client (a deliberately broken echo-epoll that, after a short
 * read, polls that connection for up to 10 ms for the rest of a 64-byte message) fails, though
 * on the echo check rather than on p99: it cannot even echo the slow bytes in time.
 * TORTURE_DEBUG=1 prints each loadgen JSON, and the server's snapshot when a run fails.
 *
 * A server with an fd limit (select: FD_SETSIZE) takes fewer slow connections (900 for select):
 * with the loadgen's 50 and its own fds, 1,000 would pass the limit, which it refuses by design
 * (case crowd). A serial server (blocking-iterative) is n/a: 1,000 connections that never finish
 * hold it one after the other by design.
 */
#include "torture.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SLOW_N 1000
/* Below a server's fd limit, room for the loadgen's 50 and the server's own fds (select: 900). */
#define SLOW_FD_ROOM 124
#define SLOW_PERIOD_MIN_MS 10 /* each slow connection sends at most a byte per 10 ms */
#define SLOW_SHARE 0.2	      /* the slow bytes' total rate: at most this share of capacity */
#define LG_SHARE 0.02	      /* the normal clients' rate: at most this share of capacity */
#define LG_RATE_MAX 2000
#define SLOW_MAX_RATIO 10.0
#define SLOW_PAIRS 3

#define LG_CONNS 50

/* The load, chosen from the machine's capacity once per case. */
static int slow_period_ms = SLOW_PERIOD_MIN_MS; /* one byte per slow connection per period */
static char lg_rate[16] = STR(LG_RATE_MAX);

/* One loadgen run (50 connections to r's server) while the n slow connections (to r's server
 * when `same`, else to the twin) each send a byte every 10 ms; returns the loadgen's p99 in us. */
static double loadgen_p99(struct run *r, struct conn *slow, size_t n, bool same)
{
	char json[160];
	snprintf(json, sizeof json, "%s/loadgen.json", r->s.dir);
	const char *const lg_args[] = {"--rate", lg_rate, "--duration", "2s", "--warmup", "500ms",
				       NULL};
	pid_t lg = loadgen_start(r->s.port, STR(LG_CONNS), lg_args, json);
	/* The slow clients start once the server holds the loadgen's connections (its warmup is
	 * 500 ms), so that what is judged is the echoes, not how long a thread-per-connection
	 * server's accept thread waits for its turn among 1,000 busy ones: on one saturated core it
	 * gets 1/1,000 of it, and connections accepted after the slow traffic started waited
	 * more than 10 s (every request of the loadgen timed out, 1 run in 7). */
	uint64_t want = LG_CONNS + (same ? n : 0);
	if (server_wait_stat(&r->s, "conns", want, 10000) != want)
		FAIL("the server did not take the loadgen's %d connections within 10 s", LG_CONNS);
	struct pollfd *pfd = n > 0 ? xcalloc(n, sizeof *pfd) : NULL;
	int status;
	int64_t next = now_ms();
	int slice = 0;
	for (;;) {
		pid_t got = (pid_t)SYS(waitpid(lg, &status, WNOHANG));
		if (got == lg)
			break;
		/* A 1/period share of the slow connections each millisecond, so that each sends a
		 * byte every period without all 1,000 landing in one burst. */
		for (size_t i = (size_t)slice; i < n; i += (size_t)slow_period_ms)
			if (conn_pump_write(&slow[i], slow[i].tx + 1) != 1)
				FAIL("slow conn #%u: its 1-byte write did not go out", slow[i].id);
		slice = (slice + 1) % slow_period_ms;
		next += 1;
		/* Read the echoes until the next slice. */
		while (n > 0 && deadline_left(next) > 0) {
			for (size_t i = 0; i < n; i++)
				pfd[i] = (struct pollfd){.fd = slow[i].fd, .events = POLLIN};
			int rc = poll(pfd, (nfds_t)n, deadline_left(next));
			if (rc == -1 && errno == EINTR)
				continue;
			SYS(rc);
			for (size_t i = 0; i < n && rc > 0; i++)
				if (pfd[i].revents != 0) {
					conn_pump_read(&slow[i]);
					if (slow[i].eof)
						FAIL("slow conn #%u closed by the server", slow[i].id);
				}
		}
		if (n == 0)
			sleep_ms(SLOW_PERIOD_MIN_MS);
	}
	check_unregister_pid(lg);
	free(pfd);
	char *doc = slurp(json);
	if (getenv("TORTURE_DEBUG") != NULL)
		fprintf(stderr, "%s\n", doc);
	SYS(unlink(json));
	uint64_t errs = json_u64(doc, "errors");
	double p99 = json_latency_us(doc, "p99");
	free(doc);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || errs != 0) {
		if (getenv("TORTURE_DEBUG") != NULL) {
			char *snap = server_snapshot(&r->s);
			fprintf(stderr, "server at failure: %s\n", snap);
			free(snap);
		}
		FAIL("loadgen (%zu slow conns): wait status 0x%x, %llu errors", n, status,
		     (unsigned long long)errs);
	}
	return p99;
}

/* Open the n slow connections to `s`, drive them through one loadgen run against `r`'s server,
 * check every slow byte came back, and close them. Returns that run's p99. */
static double slow_phase(struct run *r, struct server *s, size_t n, uint32_t first_id,
			 uint64_t *slow_bytes)
{
	struct conn *slow = xcalloc(n, sizeof *slow);
	conn_open_many(slow, n, s->port, first_id, deadline_in(10000));
	/* Established is not accepted: wait until the server holds them all. */
	if (server_wait_stat(s, "conns", n, 10000) != n)
		FAIL("the server did not take the %zu slow connections within 10 s", n);
	double p99 = loadgen_p99(r, slow, n, s == &r->s);
	/* Every slow byte comes back (the last ones may still be on their way). */
	int64_t deadline = deadline_in(5000);
	for (size_t i = 0; i < n; i++)
		while (slow[i].rx < slow[i].tx) {
			if (deadline_left(deadline) == 0)
				FAIL("slow conn #%u: %llu of %llu bytes echoed", slow[i].id,
				     (unsigned long long)slow[i].rx, (unsigned long long)slow[i].tx);
			if (conn_pump_read(&slow[i]) == 0)
				sleep_ms(1);
		}
	echo_round(slow, n, 1, 0, deadline_in(10000));
	for (size_t i = 0; i < n; i++) {
		*slow_bytes += slow[i].rx;
		conn_close(&slow[i]);
	}
	free(slow);
	return p99;
}

/* Pin this process (and what it forks from now on) to one CPU. */
static void pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	SYS(sched_setaffinity(0, sizeof set, &set));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median3(double v[SLOW_PAIRS])
{
	qsort(v, SLOW_PAIRS, sizeof v[0], cmp_double);
	return v[SLOW_PAIRS / 2];
}

void case_slowloris(const struct target *t)
{
	if (t->caps.serial)
		NA("1,000 connections that never finish hold it one after another by design");
	size_t n = SLOW_N;
	if (t->caps.fd_limit > 0 && (size_t)t->caps.fd_limit < n + SLOW_FD_ROOM)
		n = (size_t)t->caps.fd_limit - SLOW_FD_ROOM;
	cpu_set_t all;
	SYS(sched_getaffinity(0, sizeof all, &all));
	if (CPU_COUNT(&all) < 2 || !CPU_ISSET(0, &all) || !CPU_ISSET(1, &all))
		NA("needs CPUs 0 and 1 (the servers on one, the clients on the other)");
	/* Servers on CPU 0 (they inherit this process's mask), clients on CPU 1. */
	struct run r;
	pin_self(0);
	run_start(&r, t, NULL);
	struct server twin;
	server_start(&twin, t, NULL);
	pin_self(1);
	/* The load is a share of what this machine does, not an absolute rate: 1,000 connections
	 * at a byte per 10 ms are 100,000 one-byte echoes a second, more than one core of work on a
	 * machine of this kind 5x slower than the one the case was written on, where busypoll, poll
	 * and libuv then failed on the machine, not on their code (p99 24-116x the twin's). */
	double cap = echo_capacity(twin.port, r.s.dir, LG_CONNS);
	double slow_rate = cap * SLOW_SHARE;
	slow_period_ms = (int)((double)n * 1000.0 / slow_rate + 0.999);
	if (slow_period_ms < SLOW_PERIOD_MIN_MS)
		slow_period_ms = SLOW_PERIOD_MIN_MS;
	double lg = cap * LG_SHARE < LG_RATE_MAX ? cap * LG_SHARE : LG_RATE_MAX;
	snprintf(lg_rate, sizeof lg_rate, "%d", lg > 100 ? (int)lg : 100);
	char load[160];
	snprintf(load, sizeof load,
		 "capacity %.0f echo/s; slow bytes %.0f/s (a byte per %d ms each), normal %s req/s", cap,
		 (double)n * 1000.0 / slow_period_ms, slow_period_ms, lg_rate);
	note("%s", load);
	double alone = loadgen_p99(&r, NULL, 0, false);
	uint64_t slow_bytes = 0;
	double base[SLOW_PAIRS], with[SLOW_PAIRS];
	char runs[128] = "";
	for (uint32_t i = 0; i < SLOW_PAIRS; i++) {
		base[i] = slow_phase(&r, &twin, n, 1 + 2 * i * (uint32_t)n, &slow_bytes);
		with[i] = slow_phase(&r, &r.s, n, 1 + (2 * i + 1) * (uint32_t)n, &slow_bytes);
		size_t len = strlen(runs);
		snprintf(runs + len, sizeof runs - len, "%s%.1f/%.1f", i ? ", " : "", with[i] / 1000,
			 base[i] / 1000);
	}
	server_assert_alive(&twin, "after the baselines");
	server_stop(&twin, 5000);
	double w = median3(with), b = median3(base);
	double ratio = w / (b > 0 ? b : 1);
	run_figure(&r,
		   "%s; p99 %.0fus with %zu slow vs %.0fus with them on a twin (medians of %d: %.1fx "
		   "<= %.0fx; pairs with/twin in ms: %s); %.0fus with none; %llu slow bytes echoed",
		   load, w, n, b, SLOW_PAIRS, ratio, SLOW_MAX_RATIO, runs, alone,
		   (unsigned long long)slow_bytes);
	if (ratio > SLOW_MAX_RATIO)
		FAIL("%s: p99 %.0f us with %zu slow clients, %.0f us with them on a twin server "
		     "(medians of %d; pairs with/twin in ms: %s): %.1fx > %.0fx",
		     load, w, n, b, SLOW_PAIRS, runs, ratio, SLOW_MAX_RATIO);
	run_finish(&r, "slowloris", t);
}
