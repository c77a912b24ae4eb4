/* cases_loops.c - servers that run several event loops: exact sums, and more fds than a process.
 *
 * loops_stats shows that the stats of a server with several loops (echo-epoll --threads 2,
 * --workers 2) are one exact sum. Every request is one small message, echoed before the next is
 * sent, so the server makes exactly one data-returning read per request: a SIGUSR1 snapshot taken
 * in the middle must count exactly the requests made so far (the loops are asked to answer it
 * between two requests, not read while they work), the final line exactly all of them, and the
 * per-loop breakdown ("loops") must add up to the totals.
 *
 * hold_30k shows what --workers is for: one server holding 30,000 connections at once when one
 * process may hold only 20,000 fds. The test process has the same limit, so two forked clients
 * open 15,000 each, from their own source addresses (127.0.0.2 and .3: one address has ~28k
 * ephemeral ports towards one server port), echo once on every connection (every byte verified),
 * and hold them while the server's summed stats are read.
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct loop_figures {
	uint64_t requests, accepted, conns;
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
		int used = 0;
		if (sscanf(p, "{\"requests\":%" SCNu64 ",\"accepted\":%" SCNu64 ",\"conns\":%" SCNu64 "}%n",
			   &out[n].requests, &out[n].accepted, &out[n].conns, &used) != 3 || used == 0)
			FAIL("cannot read loop %zu of: %s", n, line);
		p += used;
		n++;
		if (*p == ',')
			p++;
	}
	if (*p != ']')
		FAIL("\"loops\" array not closed in: %s", line);
	return n;
}

/* The per-loop figures add up to the line's totals. */
static void check_loops_sum(const char *line)
{
	struct loop_figures f[64];
	size_t n = loops_of(line, f, 64);
	ASSERT_EQ(n, 2);
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
	/* --threads 2: the main thread and two loops; --workers 2: the supervisor and two workers
	 * of one thread each. */
	ASSERT_EQ(stats_u64(snap, "threads"), 3);
	check_loops_sum(snap);
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
	check_loops_sum(fin);
	/* Every request is a read that returned data, and the loops' reads are all counted. */
	uint64_t rd = 0;
	if (json_get_u64_in(fin, "syscalls", "read", &rd) != JSON_OK)
		FAIL("final line has no syscalls.read: %s", fin);
	ASSERT_GE(rd, 2 * N * ROUNDS);
	stats_free(&l);
	server_cleanup(&s);
}

enum { HOLD_PER_CLIENT = 15000, HOLD_CLIENTS = 2, HOLD_CHUNK = 1000, HOLD_SIZE = 64 };

/* A forked client: open its share from its own source address, echo once on each, report
 * through `report`, hold them until `go` says (or closes), then reset them (no TIME_WAIT left
 * behind for the next test). Exits 0, or fails through check.h (exit 1). */
static noreturn void hold_client(int k, uint16_t port, int report, int go, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	char src[16];
	snprintf(src, sizeof src, "127.0.0.%d", 2 + k);
	struct conn *c = xcalloc(HOLD_PER_CLIENT, sizeof *c);
	int64_t t0 = now_ms();
	conn_open_many_from(c, HOLD_PER_CLIENT, src, port, (uint32_t)(k * HOLD_PER_CLIENT + 1),
			    deadline_in(40000));
	int64_t t1 = now_ms();
	/* In chunks: echo_round polls every connection it still waits for on each pass. */
	for (size_t i = 0; i < HOLD_PER_CLIENT; i += HOLD_CHUNK)
		echo_round(c + i, HOLD_CHUNK, HOLD_SIZE, 0, deadline_in(20000));
	note("client %d (%s): %d connections in %lld ms, each echoed %d bytes in %lld ms", k, src,
	     HOLD_PER_CLIENT, (long long)(t1 - t0), HOLD_SIZE, (long long)(now_ms() - t1));
	fflush(stdout);
	char b = 'k';
	SYS(write(report, &b, 1));
	struct pollfd pfd = {.fd = go, .events = POLLIN};
	while (poll(&pfd, 1, 60000) == -1 && errno == EINTR)
		;
	for (size_t i = 0; i < HOLD_PER_CLIENT; i++)
		conn_reset(&c[i]);
	free(c);
	fflush(stdout);
	_exit(0);
}

void case_hold_30k(const struct target *t)
{
	long limit = raise_nofile(); /* the clients inherit it */
	if (limit < HOLD_PER_CLIENT + 64)
		SKIP("RLIMIT_NOFILE hard limit %ld is below the %d connections a client needs", limit,
		     HOLD_PER_CLIENT + 64);
	struct server s;
	server_start(&s, t, NULL);
	int report[2], go[2];
	SYS(pipe2(report, O_CLOEXEC));
	SYS(pipe2(go, O_CLOEXEC));
	pid_t kids[HOLD_CLIENTS];
	int64_t t0 = now_ms();
	for (int k = 0; k < HOLD_CLIENTS; k++) {
		fflush(stdout);
		kids[k] = (pid_t)SYS(fork());
		if (kids[k] == 0) {
			SYS(close(report[0]));
			SYS(close(go[1]));
			hold_client(k, s.port, report[1], go[0], getppid());
		}
	}
	SYS(close(report[1]));
	SYS(close(go[0]));
	/* Both clients hold their connections once both have reported (or one has died: EOF). */
	for (int got = 0; got < HOLD_CLIENTS;) {
		struct pollfd pfd = {.fd = report[0], .events = POLLIN};
		int r = poll(&pfd, 1, deadline_left(t0 + 50000));
		if (r == -1 && errno == EINTR)
			continue;
		if (SYS(r) == 0)
			FAIL("the clients did not hold %d connections within 50 s",
			     HOLD_CLIENTS * HOLD_PER_CLIENT);
		char b[HOLD_CLIENTS];
		ssize_t n = SYS(read(report[0], b, sizeof b));
		if (n == 0)
			FAIL("a client exited before holding its connections");
		got += (int)n;
	}
	note("%d connections held and echoed after %lld ms", HOLD_CLIENTS * HOLD_PER_CLIENT,
	     (long long)(now_ms() - t0));

	const uint64_t total = HOLD_CLIENTS * HOLD_PER_CLIENT;
	ASSERT_EQ(server_wait_stat(&s, "conns", total, 10000), total);
	char *snap = server_snapshot(&s);
	note("snapshot: %s", snap);
	ASSERT_GE(stats_u64(snap, "peak_conns"), total);
	ASSERT_EQ(stats_u64(snap, "accepted"), total);
	ASSERT_EQ(stats_u64(snap, "requests"), total); /* one 64-byte echo each */
	ASSERT_EQ(stats_u64(snap, "bytes_out"), total * HOLD_SIZE);
	ASSERT_EQ(stats_u64(snap, "accept_emfile"), 0);
	free(snap);
	server_assert_alive(&s, "holding every connection");

	SYS(close(go[1])); /* EOF: the clients reset their connections and exit */
	for (int k = 0; k < HOLD_CLIENTS; k++) {
		int status;
		while (waitpid(kids[k], &status, 0) == -1)
			if (errno != EINTR)
				FAIL("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			FAIL("client %d ended with wait status 0x%x", k, status);
	}
	SYS(close(report[0]));
	ASSERT_EQ(server_wait_stat(&s, "conns", 0, 20000), 0);
	server_stop(&s, 10000);
}
