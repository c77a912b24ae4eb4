/* cases_conns.c - connection limits: many connections, FD_SETSIZE, --max-conns, EMFILE.
 *
 * many_conns shows that thousands of mostly idle connections neither get dropped nor stop the
 * few active ones from being served (2,000; for a server with an fd limit, such as select's
 * FD_SETSIZE, as many as fit under it with room for its own fds).
 *
 * select_limit shows how echo-select handles the fd it cannot watch: a connection whose server
 * fd would be >= FD_SETSIZE is closed at once and counted, instead of corrupting an fd_set.
 *
 * max_conns shows --max-conns: the connection beyond the limit is accepted and closed, counted,
 * and the others are unaffected; closing one makes room again.
 *
 * emfile shows the accept() EMFILE trap: with its fd limit reached and connections still queued,
 * a level-triggered server that just retries accept() spins at 100% CPU. The server must shed
 * them (spare-fd trick), count them, stay idle, and recover once fds are free again. With
 * several loops in one process (epoll-t2) every loop must shed its own backlog although the
 * others compete for the same fd table; with worker processes (epoll-w2) the limit is per
 * worker, so the server holds about one limit's worth per worker, and 100 clients per worker
 * are needed.
 */
#include "cases.h"

#include "check.h"
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACTIVE 50
#define MANY_CONNS 2000
/* What a server with an fd limit keeps for itself below it: std fds, listener, stats file... */
#define FD_LIMIT_ROOM 24

void case_many_conns(const struct target *t)
{
	size_t n = MANY_CONNS;
	if (t->caps.fd_limit > 0 && (size_t)t->caps.fd_limit < n + FD_LIMIT_ROOM)
		n = (size_t)t->caps.fd_limit - FD_LIMIT_ROOM;
	long limit = raise_nofile(); /* the server inherits it too */
	if (limit < (long)n + 64)
		SKIP("RLIMIT_NOFILE hard limit %ld is below the %zu connections needed", limit,
		     n + 64);
	struct server s;
	server_start(&s, t, NULL);
	struct conn *c = xcalloc(n, sizeof *c);
	int64_t t0 = now_ms();
	conn_open_many(c, n, s.port, 1, deadline_in(30000));
	note("%zu connections established in %lld ms", n, (long long)(now_ms() - t0));

	/* 50 active connections spread evenly over the idle ones. */
	struct conn act[ACTIVE];
	for (size_t i = 0; i < ACTIVE; i++)
		act[i] = c[i * n / ACTIVE];
	t0 = now_ms();
	for (int round = 0; round < 5; round++)
		echo_round(act, ACTIVE, 32 * KiB, 0, deadline_in(20000));
	note("5 rounds of 32 KiB on %d of them in %lld ms", ACTIVE, (long long)(now_ms() - t0));
	for (size_t i = 0; i < ACTIVE; i++)
		c[i * n / ACTIVE] = act[i];

	uint64_t open = server_wait_stat(&s, "conns", n, 15000);
	ASSERT_EQ(open, n);
	/* Idle ones (never used so far) still work. */
	enum { IDLE = 10 };
	struct conn idle[IDLE];
	for (size_t i = 0; i < IDLE; i++)
		idle[i] = c[i * n / IDLE + 1];
	echo_round(idle, IDLE, 100, 0, deadline_in(10000));
	server_assert_alive(&s, "with all connections open");
	/* Abortive close: 2,000 graceful closes would leave 2,000 ports in TIME_WAIT for 60 s,
	 * and the suite runs this for every server. */
	for (size_t i = 0; i < n; i++)
		conn_reset(&c[i]);
	free(c);
	server_stop(&s, 5000);
}

/* Send one byte and see whether it comes back or the connection is closed. Returns true if
 * echoed, false if the server closed the connection; fails on a timeout. */
static bool probe(struct conn *c, int timeout_ms)
{
	uint8_t b = pattern_byte(c->id, c->tx);
	ssize_t w = send(c->fd, &b, 1, MSG_NOSIGNAL);
	if (w == -1 && (errno == EPIPE || errno == ECONNRESET))
		return false; /* already closed and reset by the server */
	SYS(w);
	c->tx++;
	size_t got = 0;
	enum closed_how how = conn_wait_closed(c, deadline_in(timeout_ms), &got);
	if (how != CLOSED_NOT)
		return false;
	if (got == 0)
		FAIL("conn #%u: 1 byte neither echoed nor the connection closed within %d ms",
		     c->id, timeout_ms);
	return true;
}

void case_select_limit(const struct target *t)
{
	enum { N = 1100 };
	long limit = raise_nofile();
	if (limit < N + 64)
		SKIP("RLIMIT_NOFILE hard limit %ld is below the %d connections needed", limit,
		     N + 64);
	struct server s;
	server_start(&s, t, NULL);
	struct conn *c = xcalloc(N, sizeof *c);
	size_t served = 0, refused = 0;
	for (size_t i = 0; i < N; i++) {
		struct conn x;
		conn_open(&x, s.port, (uint32_t)i + 1, deadline_in(5000));
		if (probe(&x, 5000)) {
			if (refused > 0)
				FAIL("connection %zu was served after %zu had been refused: only "
				     "fds >= "
				     "FD_SETSIZE may be refused, and none were freed",
				     i + 1, refused);
			c[served++] = x;
		} else {
			refused++;
			conn_reset(&x);
		}
	}
	note("%zu connections served, %zu refused", served, refused);
	ASSERT_GT(refused, 0);
	/* fds 0-2, the listener and a few of the server's own; everything else up to 1023 serves.
	 */
	ASSERT_GE(served, 1000);
	char *snap = server_snapshot(&s);
	ASSERT_EQ(stats_u64(snap, "rejected_fd_setsize"), refused);
	free(snap);
	ASSERT_EQ(server_wait_stat(&s, "conns", served, 5000), served);
	echo_round(c, served, 100, 0, deadline_in(20000));
	server_assert_alive(&s, "after refusing connections");

	/* Freed fds are below 1024 again: a new connection is served. */
	for (size_t i = 0; i < 10; i++)
		conn_reset(&c[--served]);
	ASSERT_EQ(server_wait_stat(&s, "conns", served, 5000), served);
	struct conn fresh;
	conn_open(&fresh, s.port, 5000, deadline_in(5000));
	if (!probe(&fresh, 5000))
		FAIL("a new connection was refused after 10 connections had been closed");
	conn_close(&fresh);
	for (size_t i = 0; i < served; i++)
		conn_reset(&c[i]);
	free(c);
	server_stop(&s, 5000);
}

void case_max_conns(const struct target *t)
{
	enum { MAX = 10 };
	static const char *const more[] = {"--max-conns", "10", NULL};
	struct server_opts o = {.more_args = more};
	struct server s;
	server_start(&s, t, &o);
	struct conn c[MAX];
	conn_open_many(c, MAX, s.port, 1, deadline_in(5000));
	echo_round(c, MAX, 1000, 0, deadline_in(5000));
	ASSERT_EQ(server_wait_stat(&s, "conns", MAX, 5000), MAX);

	struct conn extra;
	conn_open(&extra, s.port, 100, deadline_in(5000));
	if (probe(&extra, 2000))
		FAIL("connection %d was served with --max-conns %d", MAX + 1, MAX);
	conn_close(&extra);
	char *snap = server_snapshot(&s);
	ASSERT_GE(stats_u64(snap, "rejected_max_conns"), 1);
	ASSERT_EQ(stats_u64(snap, "conns"), MAX);
	free(snap);
	echo_round(c, MAX, 1000, 0, deadline_in(5000));

	/* Room again once one leaves. */
	conn_close(&c[0]);
	ASSERT_EQ(server_wait_stat(&s, "conns", MAX - 1, 5000), MAX - 1);
	conn_open(&c[0], s.port, 200, deadline_in(5000));
	echo_round(c, MAX, 1000, 0, deadline_in(5000));
	for (int i = 0; i < MAX; i++)
		conn_close(&c[i]);
	server_stop(&s, 5000);
}

void case_emfile(const struct target *t)
{
	enum { NOFILE = 64 };
	/* Each worker process has its own RLIMIT_NOFILE: 100 clients past the limit for each. */
	const size_t N = 100 * (size_t)(t->caps.workers > 0 ? t->caps.workers : 1);
	struct server_opts o = {.nofile = NOFILE};
	struct server s;
	server_start(&s, t, &o);
	struct conn *c = xcalloc(N, sizeof *c);
	/* These complete in the kernel (listen backlog) whether or not the server can accept(). */
	conn_open_many(c, N, s.port, 1, deadline_in(10000));
	sleep_ms(300); /* let it accept what it can and shed the rest */

	long tck = sysconf(_SC_CLK_TCK);
	ASSERT_GT(tck, 0);
	int64_t t0 = now_ms();
	long long cpu0 = proc_tree_cpu_ticks(s.pid);
	sleep_ms(1000);
	long long cpu1 = proc_tree_cpu_ticks(s.pid);
	int64_t t1 = now_ms();
	long long cpu_ms = (cpu1 - cpu0) * 1000 / tck;
	long long pct = cpu_ms * 100 / (t1 - t0);
	note("server at its fd limit (%d open) used %lld ms CPU in %lld ms (%lld%%)",
	     proc_tree_count_fds(s.pid), cpu_ms, (long long)(t1 - t0), pct);
	ASSERT_LT(pct, 20);

	/* Every connection is either held by the server or was shed (closed by it): none may be
	 * left waiting in the backlog, which is what a server that stops accepting at EMFILE does.
	 */
	size_t shed = 0;
	for (size_t i = 0; i < N; i++)
		if (conn_wait_closed(&c[i], now_ms(), NULL) != CLOSED_NOT)
			shed++;
	char *snap = server_snapshot(&s);
	uint64_t held = stats_u64(snap, "conns"), counted = stats_u64(snap, "accept_emfile");
	note("%zu connections shed, %llu held, accept_emfile %llu", shed, (unsigned long long)held,
	     (unsigned long long)counted);
	ASSERT_GT(shed, 0);
	ASSERT_EQ(shed + held, N);
	ASSERT_EQ(counted, shed); /* each shed connection counted, once (echo-libuv too: libuv.c) */
	free(snap);

	for (size_t i = 0; i < N; i++)
		conn_close(&c[i]);
	free(c);
	/* A client that arrives before the server has seen those closes may still be shed (the
	 * server is at its limit until then), so retry - but the server must recover within 3 s. */
	int64_t deadline = deadline_in(3000);
	for (uint32_t id = 1000;; id++) {
		struct conn fresh;
		conn_open(&fresh, s.port, id, deadline);
		bool served = probe(&fresh, deadline_left(deadline));
		conn_close(&fresh);
		if (served) {
			note("fresh connection served after %u attempt(s)", id - 999);
			break;
		}
		if (deadline_left(deadline) == 0)
			FAIL("no fresh connection served within 3 s of closing the clients");
		sleep_ms(20);
	}
	server_stop(&s, 5000);
}
