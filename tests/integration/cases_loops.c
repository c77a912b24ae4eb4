/* cases_loops.c - loops that must keep going: exact sums over several event loops, more
 * connections than one process may have fds, and accepting after a refused connection.
 *
 * loops_stats shows that the stats of a server with several loops (echo-epoll --threads 2,
 * --workers 2) are one exact sum. Every request is one small message, echoed before the next is
 * sent, so the server makes exactly one data-returning read per request: a SIGUSR1 snapshot taken
 * in the middle must count exactly the requests made so far (the loops are asked to answer it
 * between two requests, not read while they work), the final line exactly all of them, and the
 * per-loop breakdown ("loops") must add up to the totals.
 *
 * hold_past_nofile shows what --workers is for: one server holding more connections than one
 * process may have fds. The server runs with RLIMIT_NOFILE 4096 (soft = hard, so it cannot raise
 * it), which the test checks in /proc for every server process, and 6,000 connections arrive,
 * each echoed once (every byte verified) and held while the stats are read: all accepted, none
 * shed, and each worker holds a share of them, under its limit. One process could not: echo-epoll
 * without --workers, under the same limit, sheds the connections past it and the echo fails.
 *
 * accept_alloc_fail (echo-libuv) shows that a connection the server has no memory for is refused
 * and that accepting goes on; see the case.
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct loop_figures {
	uint64_t requests, accepted, conns, cpu_us;
	bool cpu_known;
};

/* The "loops" array of a stats line (a fixed shape, written by servers/core/stats.c; the line was
 * already checked to be valid JSON). Returns how many loops it lists. */
static size_t loops_of(const char *line, struct loop_figures *out, size_t max)
{
	const char *p = strstr(line, "\"loops\":[");
	if (p == NULL)
		FAIL("stats line has no \"loops\" array: %s", line);
	p += strlen("\"loops\":[");
	size_t n = 0;
	while (*p == '{') {
		if (n == max)
			FAIL("more than %zu loops in: %s", max, line);
		int used = 0, cpu_used = 0;
		if (sscanf(p, "{\"requests\":%" SCNu64 ",\"accepted\":%" SCNu64 ",\"conns\":%" SCNu64
			   ",\"cpu_us\":%n", &out[n].requests, &out[n].accepted, &out[n].conns, &used) != 3 ||
		    used == 0)
			FAIL("cannot read loop %zu of: %s", n, line);
		p += used;
		/* null: no one thread is the loop (a thread per connection), so no CPU of its own */
		out[n].cpu_known = strncmp(p, "null}", 5) != 0;
		if (!out[n].cpu_known)
			cpu_used = 5;
		else if (sscanf(p, "%" SCNu64 "}%n", &out[n].cpu_us, &cpu_used) != 1 || cpu_used == 0)
			FAIL("cannot read loop %zu's cpu_us in: %s", n, line);
		p += cpu_used;
		n++;
		if (*p == ',')
			p++;
	}
	if (*p != ']')
		FAIL("\"loops\" array not closed in: %s", line);
	return n;
}

/* The line has one entry per loop (the table's loops column), and they add up to its totals.
 * thread_per_conn: the loops are acceptors whose connections run on threads of their own, so no
 * loop has a CPU time (null); otherwise every loop has one. */
static void check_loops_sum(const char *line, int loops, bool thread_per_conn)
{
	struct loop_figures f[64];
	size_t n = loops_of(line, f, 64);
	ASSERT_EQ(n, (size_t)loops);
	uint64_t req = 0, acc = 0, conns = 0;
	for (size_t i = 0; i < n; i++) {
		req += f[i].requests;
		acc += f[i].accepted;
		conns += f[i].conns;
		note("loop %zu: %" PRIu64 " requests, %" PRIu64 " accepted, %" PRIu64 " open", i,
		     f[i].requests, f[i].accepted, f[i].conns);
	}
	ASSERT_EQ(req, stats_u64(line, "requests"));
	ASSERT_EQ(acc, stats_u64(line, "accepted"));
	ASSERT_EQ(conns, stats_u64(line, "conns"));
	/* Each loop's own CPU time (RUSAGE_THREAD at its last snapshot): every loop ran, and together
	 * they ran no more than the whole server, whose figure is read after theirs (a worker's own
	 * getrusage just before its loop's: a millisecond each allowed for that). */
	uint64_t cpu = 0;
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(f[i].cpu_known, !thread_per_conn);
		if (thread_per_conn)
			continue;
		ASSERT_GT(f[i].cpu_us, 0);
		cpu += f[i].cpu_us;
	}
	note("loops' CPU %" PRIu64 " us of the server's %" PRIu64, cpu,
	     stats_u64(line, "user_us") + stats_u64(line, "sys_us"));
	ASSERT_LE(cpu, stats_u64(line, "user_us") + stats_u64(line, "sys_us") + 1000 * (uint64_t)n);
}

void case_loops_stats(const struct target *t)
{
	enum { N = 40, ROUNDS = 25, SIZE = 100 };
	struct server s;
	server_start(&s, t, NULL);
	struct conn c[N];
	conn_open_many(c, N, s.port, 1, deadline_in(10000));
	for (int r = 0; r < ROUNDS; r++)
		echo_round(c, N, SIZE, 0, deadline_in(10000));

	/* Every echo has come back: the snapshot must hold every one of them, no more. */
	char *snap = server_snapshot(&s);
	note("snapshot: %s", snap);
	ASSERT_EQ(stats_u64(snap, "requests"), N * ROUNDS);
	ASSERT_EQ(stats_u64(snap, "bytes_in"), N * ROUNDS * SIZE);
	ASSERT_EQ(stats_u64(snap, "bytes_out"), N * ROUNDS * SIZE);
	ASSERT_EQ(stats_u64(snap, "accepted"), N);
	ASSERT_EQ(stats_u64(snap, "conns"), N);
	/* --threads T: the main thread and T loops; --workers W: the supervisor and W workers of one
	 * thread each (the table's loops column is T or W); --acceptors K: K acceptors (the main
	 * thread one of them), the signal thread and a thread per connection. */
	bool per_conn = spec_applies("thread_per_conn", &t->caps);
	ASSERT_EQ(stats_u64(snap, "threads"), (uint64_t)t->caps.loops + 1 + (per_conn ? N : 0));
	check_loops_sum(snap, t->caps.loops, per_conn);
	free(snap);

	for (int r = 0; r < ROUNDS; r++)
		echo_round(c, N, SIZE, 0, deadline_in(10000));
	for (int i = 0; i < N; i++)
		conn_close(&c[i]);
	ASSERT_EQ(server_wait_stat(&s, "conns", 0, 5000), 0);

	server_terminate(&s, 5000);
	struct stats_lines l;
	stats_read(&s, &l);
	ASSERT_GE(l.n, 2);
	const char *fin = l.line[l.n - 1];
	note("final: %s", fin);
	ASSERT_EQ(stats_u64(fin, "requests"), 2 * N * ROUNDS);
	ASSERT_EQ(stats_u64(fin, "bytes_out"), 2 * N * ROUNDS * SIZE);
	ASSERT_EQ(stats_u64(fin, "accepted"), N);
	ASSERT_EQ(stats_u64(fin, "closed"), N);
	check_loops_sum(fin, t->caps.loops, per_conn);
	/* Every request is a read that returned data, and the loops' reads are all counted. */
	uint64_t rd = 0;
	if (json_get_u64_in(fin, "syscalls", "read", &rd) != JSON_OK)
		FAIL("final line has no syscalls.read: %s", fin);
	ASSERT_GE(rd, 2 * N * ROUNDS);
	stats_free(&l);
	server_cleanup(&s);
}

/* The soft RLIMIT_NOFILE of process pid ("Max open files" in /proc/PID/limits). */
static long proc_nofile(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		FAIL("fopen(%s): %s", path, strerror(errno));
	long soft = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Max open files %ld", &soft) == 1)
			break;
	fclose(f);
	if (soft < 0)
		FAIL("no \"Max open files\" line in %s", path);
	return soft;
}

enum { HOLD_NOFILE = 4096, HOLD_CONNS = 6000, HOLD_CHUNK = 1000, HOLD_SIZE = 64 };
_Static_assert(HOLD_CONNS > HOLD_NOFILE, "more connections than one process may have fds");
_Static_assert(HOLD_CONNS / 2 < HOLD_NOFILE - 500, "each of two (or more) workers' shares fits, with room");

void case_hold_past_nofile(const struct target *t)
{
	long limit = raise_nofile();
	if (limit < HOLD_CONNS + 64)
		SKIP("RLIMIT_NOFILE hard limit %ld is below the %d connections the client needs", limit,
		     HOLD_CONNS + 64);
	struct server_opts o = {.nofile = HOLD_NOFILE};
	struct server s;
	server_start(&s, t, &o);
	/* The premise: every process of the server runs under the limit, one per worker. */
	pid_t kids[16];
	size_t nkids = proc_children(s.pid, kids, 16);
	ASSERT_EQ(nkids, (size_t)t->caps.workers);
	ASSERT_EQ(proc_nofile(s.pid), HOLD_NOFILE);
	for (size_t k = 0; k < nkids; k++)
		ASSERT_EQ(proc_nofile(kids[k]), HOLD_NOFILE);

	/* From 127.0.0.2, so as not to use 127.0.0.1's ephemeral ports (bench/run counts those). */
	struct conn *c = xcalloc(HOLD_CONNS, sizeof *c);
	int64_t t0 = now_ms();
	conn_open_many_from(c, HOLD_CONNS, "127.0.0.2", s.port, 1, deadline_in(30000));
	int64_t t1 = now_ms();
	/* In chunks: echo_round polls every connection it still waits for on each pass. */
	for (size_t i = 0; i < HOLD_CONNS; i += HOLD_CHUNK)
		echo_round(c + i, HOLD_CHUNK, HOLD_SIZE, 0, deadline_in(20000));
	note("%d connections in %lld ms, each echoed %d bytes in %lld ms", HOLD_CONNS,
	     (long long)(t1 - t0), HOLD_SIZE, (long long)(now_ms() - t1));

	const uint64_t total = HOLD_CONNS;
	ASSERT_EQ(server_wait_stat(&s, "conns", total, 10000), total);
	char *snap = server_snapshot(&s);
	note("snapshot: %s", snap);
	ASSERT_EQ(stats_u64(snap, "accepted"), total);
	ASSERT_EQ(stats_u64(snap, "requests"), total); /* one 64-byte echo each */
	ASSERT_EQ(stats_u64(snap, "bytes_out"), total * HOLD_SIZE);
	ASSERT_EQ(stats_u64(snap, "accept_emfile"), 0); /* no worker ran out of fds */
	/* Each worker (one loop each) holds a share, each share under the limit, and the shares are
	 * all the connections; each worker's fds hold its share. */
	struct loop_figures f[16];
	size_t n = loops_of(snap, f, 16);
	ASSERT_EQ(n, (size_t)t->caps.workers);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		note("worker %zu holds %" PRIu64 " connections", i, f[i].conns);
		ASSERT_GT(f[i].conns, 0);
		ASSERT_LT(f[i].conns, HOLD_NOFILE);
		sum += f[i].conns;
	}
	ASSERT_EQ(sum, total);
	long fds = 0;
	for (size_t k = 0; k < nkids; k++)
		fds += proc_count_fds(kids[k]);
	ASSERT_GE(fds, (long)total);
	free(snap);
	server_assert_alive(&s, "holding every connection");

	/* Abortive closes: no TIME_WAIT left behind for the next test. */
	for (size_t i = 0; i < HOLD_CONNS; i++)
		conn_reset(&c[i]);
	free(c);
	ASSERT_EQ(server_wait_stat(&s, "conns", 0, 20000), 0);
	server_stop(&s, 10000);
}

/* accept_alloc_fail: a connection the server cannot allocate for is refused, and accepting goes
 * on. echo-libuv's test hook MUXBENCH_FAIL_ACCEPT_ALLOC=N makes its first N allocations fail.
 * The refusal must close the fd and count it, and the next readiness of the listener must still
 * be served. The server is stopped (SIGSTOP) while the N clients connect, so that all N are
 * accepted in one pass of its loop: several refusals in a row, then a connection that is kept.
 * Asserted: each of the N is closed by the server, a later client is
 * echoed, and the snapshot counts N accept_errors and only that client as accepted. */
void case_accept_alloc_fail(const struct target *t)
{
	enum { FAILS = 3 };
	char n[8];
	snprintf(n, sizeof n, "%d", FAILS);
	/* The server inherits the environment; nothing else in this process reads the variable. */
	SYS(setenv("MUXBENCH_FAIL_ACCEPT_ALLOC", n, 1));
	struct server s;
	server_start(&s, t, NULL);
	SYS(unsetenv("MUXBENCH_FAIL_ACCEPT_ALLOC"));

	struct conn c[FAILS];
	server_signal(&s, SIGSTOP);
	conn_open_many(c, FAILS, s.port, 1, deadline_in(10000)); /* completed in the backlog */
	server_signal(&s, SIGCONT);
	for (int i = 0; i < FAILS; i++) {
		size_t got = 0;
		enum closed_how how = conn_wait_closed(&c[i], deadline_in(10000), &got);
		if (how == CLOSED_NOT)
			FAIL("refused connection %d was not closed by the server (%zu bytes came)", i,
			     got);
		conn_close(&c[i]);
	}
	struct conn later;
	conn_open(&later, s.port, 100, deadline_in(10000));
	echo_round(&later, 1, 1000, 0, deadline_in(10000));

	char *snap = server_snapshot(&s);
	note("snapshot: %s", snap);
	ASSERT_EQ(stats_u64(snap, "accept_errors"), FAILS);
	ASSERT_EQ(stats_u64(snap, "accepted"), 1);
	ASSERT_EQ(stats_u64(snap, "conns"), 1);
	free(snap);
	conn_close(&later);
	server_stop(&s, 5000);
}
