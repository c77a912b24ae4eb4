/* cases_flow.c - flow control and abrupt peers: backpressure, reset, iterative starvation.
 *
 * backpressure shows that a client that writes without reading cannot make the server buffer
 * without bound: the server stops reading once --buffer bytes are pending, TCP flow control then
 * stalls the client well before 16 MiB, and the server's peak RSS stays within 4 MiB of its idle
 * RSS while 16 MiB go through. All of it still comes back, in order, once the client reads.
 *
 * reset shows that an RST from one peer (SO_LINGER 0), arriving while the server holds part of
 * its data, ends that connection only: the server stays up, the others keep echoing, and the
 * "conns" gauge drops.
 *
 * iterative_starve shows the defining weakness of the iterative server: while one client is
 * connected and idle, a second is not served at all - and is served as soon as the first leaves.
 */
#include "cases.h"

#include "check.h"
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BP_MIN_TOTAL (16u * MiB)
#define BP_CLIENT_BUF (256 * 1024)
#define BP_STALL_MS 300
#define BP_RSS_SLACK_KB 4096

/* Write until `total` or until BP_STALL_MS pass without write progress; returns bytes written. */
static uint64_t write_until_stall(struct conn *c, uint64_t total, int64_t deadline)
{
	int64_t last_progress = now_ms();
	while (c->tx < total) {
		int64_t stall_at = last_progress + BP_STALL_MS;
		int64_t wake = stall_at < deadline ? stall_at : deadline;
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		int r = poll(&pfd, 1, deadline_left(wake));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r > 0 && conn_pump_write(c, total) > 0) {
			last_progress = now_ms();
			continue;
		}
		if (now_ms() >= stall_at)
			break; /* no progress for BP_STALL_MS: the pipe is full */
		if (deadline_left(deadline) == 0)
			FAIL("the client's writes neither finished nor stalled within the deadline "
			     "(%llu bytes written)",
			     (unsigned long long)c->tx);
	}
	return c->tx;
}

/* The largest send buffer TCP autotuning may give a socket (net.ipv4.tcp_wmem, third field). */
/* The third field of /proc/sys/net/ipv4/tcp_wmem or tcp_rmem: how far the kernel may grow a
 * socket's send or receive buffer by itself. */
static uint64_t tcp_mem_max(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long lo, def, max;
	if (f == NULL)
		FAIL("fopen(%s): %s", path, strerror(errno));
	int n = fscanf(f, "%llu %llu %llu", &lo, &def, &max);
	fclose(f);
	if (n != 3)
		FAIL("cannot parse %s", path);
	return max;
}

void case_backpressure(const struct target *t)
{
	/* What the kernel takes before the client's writes stall is the socket buffers on the path:
	 * client send buffer + server receive buffer, then (behind the server's own <= --buffer
	 * bytes) server send buffer + client receive buffer. The client's two are pinned small here
	 * (SO_SNDBUF/SO_RCVBUF, 2 x 256 KiB each as the kernel counts them). The server's send
	 * buffer autotunes up to tcp_wmem's max (4 MiB by default), and its receive buffer up to
	 * tcp_rmem's (6 MiB) while the server was reading fast enough: usually it stays small
	 * (~5 MiB in flight at the stall), but a slow server (libuv under ASan: 12.6 MiB seen) lets
	 * it grow. So the total is at least twice what both may hold, and a correct server stalls
	 * the writes before 3/4 of it; one that does not stop reading lets everything through with
	 * no stall (and buffers it: the RSS check). */
	uint64_t total = BP_MIN_TOTAL;
	uint64_t needed = 2 * (tcp_mem_max("/proc/sys/net/ipv4/tcp_wmem") +
			       tcp_mem_max("/proc/sys/net/ipv4/tcp_rmem")) + 4 * MiB;
	if (total < needed)
		total = needed;
	struct server s;
	server_start(&s, t, NULL);
	struct conn c;
	conn_open_buf(&c, s.port, 1, BP_CLIENT_BUF, deadline_in(5000));

	uint64_t accepted = write_until_stall(&c, total, deadline_in(20000));
	note("writes stalled after %llu of %llu bytes (%.1f MiB) with nothing read; server VmRSS "
	     "%ld kB, idle %ld kB",
	     (unsigned long long)accepted, (unsigned long long)total, (double)accepted / MiB,
	     proc_status_kb(s.pid, "VmRSS"), s.idle_rss_kb);
	ASSERT_LT(accepted, total / 4 * 3);

	/* Now read and write at once until everything came back. */
	int64_t deadline = deadline_in(30000), last_progress = now_ms();
	while (c.rx < total) {
		short ev = POLLIN;
		if (c.tx < total)
			ev |= POLLOUT;
		struct pollfd pfd = {.fd = c.fd, .events = ev};
		int64_t stall_at = last_progress + ECHO_STALL_MS;
		int r = poll(&pfd, 1, deadline_left(stall_at < deadline ? stall_at : deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r == 0)
			FAIL("%llu bytes not echoed: %s; sent %llu, got back %llu",
			     (unsigned long long)total,
			     deadline_left(deadline) == 0
				 ? "deadline passed"
				 : "no byte moved for " STR(ECHO_STALL_MS) " ms",
			     (unsigned long long)c.tx, (unsigned long long)c.rx);
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (conn_pump_read(&c) > 0)
				last_progress = now_ms();
			if (c.eof)
				FAIL(
				    "server closed the connection after echoing %llu of %llu bytes",
				    (unsigned long long)c.rx, (unsigned long long)total);
		}
		if ((pfd.revents & POLLOUT) && conn_pump_write(&c, total) > 0)
			last_progress = now_ms();
	}
	long hwm = proc_status_kb(s.pid, "VmHWM");
	note("%llu bytes echoed in order; server VmHWM %ld kB, idle VmRSS %ld kB",
	     (unsigned long long)total, hwm, s.idle_rss_kb);
	ASSERT_LT(hwm - s.idle_rss_kb, BP_RSS_SLACK_KB);
	conn_close(&c);
	server_stop(&s, 5000);
}

/* Leave the server holding unsent data for this peer, then reset it. */
static void reset_midway(struct server *s, struct conn *c)
{
	/* Up to 256 KiB, without reading: the server is then busy writing to a peer whose receive
	 * buffer is full, the usual state of a connection that goes away. */
	conn_pump_write(c, c->tx + 256 * KiB);
	sleep_ms(50);
	server_assert_alive(s, "before the reset");
	note("reset conn #%u after writing %llu bytes, %llu read back", c->id,
	     (unsigned long long)c->tx, (unsigned long long)c->rx);
	conn_reset(c);
}

void case_reset(const struct target *t)
{
	struct server s;
	server_start(&s, t, NULL);
	if (t->caps.serial) {
		/* One at a time: the server must move on to the next connection after the reset. */
		struct conn a, b;
		conn_open(&a, s.port, 1, deadline_in(5000));
		echo_round(&a, 1, 1000, 0, deadline_in(5000));
		reset_midway(&s, &a);
		conn_open(&b, s.port, 2, deadline_in(5000));
		echo_round(&b, 1, 64 * KiB, 0, deadline_in(5000));
		ASSERT_EQ(server_wait_stat(&s, "conns", 1, 5000), 1);
		conn_close(&b);
	} else {
		enum { N = 3 };
		struct conn c[N + 1];
		conn_open_many(c, N, s.port, 1, deadline_in(5000));
		echo_round(c, N, 1000, 0, deadline_in(5000));
		ASSERT_EQ(server_wait_stat(&s, "conns", N, 5000), N);
		reset_midway(&s, &c[1]);
		c[1] = c[2]; /* the survivors are c[0], c[1] */
		ASSERT_EQ(server_wait_stat(&s, "conns", N - 1, 5000), N - 1);
		echo_round(c, N - 1, 64 * KiB, 0, deadline_in(5000));
		/* And it still accepts. */
		conn_open(&c[2], s.port, 10, deadline_in(5000));
		echo_round(&c[2], 1, 64 * KiB, 0, deadline_in(5000));
		for (int i = 0; i < N; i++)
			conn_close(&c[i]);
	}
	server_assert_alive(&s, "after the reset");
	server_stop(&s, 5000);
}

void case_iterative_starve(const struct target *t)
{
	struct server s;
	server_start(&s, t, NULL);
	struct conn a, b;
	conn_open(&a, s.port, 1, deadline_in(5000));
	echo_round(&a, 1, 100, 0, deadline_in(5000));

	conn_open(&b, s.port, 2, deadline_in(5000)); /* completes via the listen backlog */
	ASSERT_EQ(conn_pump_write(&b, 1), 1);
	size_t got = 0;
	enum closed_how how = conn_wait_closed(&b, deadline_in(1000), &got);
	if (how != CLOSED_NOT)
		FAIL("B was closed (%s) while waiting behind A", how == CLOSED_EOF ? "EOF" : "RST");
	if (got != 0)
		FAIL("B was served while A was connected: an iterative server must serve one at a "
		     "time");
	note("B got nothing for 1 s while A was connected");

	/* A is still the one being served. */
	echo_round(&a, 1, 100, 0, deadline_in(5000));
	conn_close(&a);
	how = conn_wait_closed(&b, deadline_in(2000), &got);
	if (how != CLOSED_NOT)
		FAIL("B was closed (%s) instead of served after A left",
		     how == CLOSED_EOF ? "EOF" : "RST");
	if (got != 1)
		FAIL("B's byte was not echoed within 2 s of A closing");
	note("B served after A closed");
	conn_close(&b);
	server_stop(&s, 5000);
}
