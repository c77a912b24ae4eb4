/* client.c - the poll()-driven echo client and the per-connection byte pattern (see client.h).
 *
 * The pattern is a 64-bit mix (splitmix64's finalizer) of (id, offset / 8): cheap enough to
 * generate and check 400 MiB per test, and no two connections or offsets share a run of bytes, so
 * mixing streams or replaying a chunk shows up at the first wrong byte.
 */
#include "client.h"

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (64 * 1024)
#define CONNECT_BATCH 128
#define SLOW_TAIL_MS 200

/* Scratch buffers; the test is single-threaded. */
static uint8_t wbuf[CHUNK], rbuf[CHUNK], ebuf[CHUNK];

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t pattern_word(uint32_t id, uint64_t block)
{
	return mix64(((uint64_t)id << 40) ^ block ^ 0x9e3779b97f4a7c15ULL);
}

uint8_t pattern_byte(uint32_t id, uint64_t off)
{
	return (uint8_t)(pattern_word(id, off >> 3) >> ((off & 7) * 8));
}

void pattern_fill(uint32_t id, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t block = off >> 3, w = pattern_word(id, block);
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if ((o >> 3) != block) {
			block = o >> 3;
			w = pattern_word(id, block);
		}
		buf[i] = (uint8_t)(w >> ((o & 7) * 8));
	}
}

/* src: a source address in network order, or INADDR_ANY to let the kernel choose (127.0.0.1). */
static void start_connect_from(struct conn *c, in_addr_t src, uint16_t port, uint32_t id, int bufsize,
			       int mss)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(c, 0, sizeof *c);
	c->id = id;
	c->fd = (int)SYS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	/* Small writes (1-byte probes) must leave at once, not wait for Nagle. */
	int one = 1;
	SYS(setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
	if (src != htonl(INADDR_ANY)) {
		/* Port 0 with IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect(), per
		 * destination, instead of being reserved for this source address alone at bind(). */
		struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = src};
		SYS(setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one));
		SYS(bind(c->fd, (struct sockaddr *)&from, sizeof from));
	}
	if (bufsize > 0) {
		SYS(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize));
		SYS(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize));
	}
	if (mss > 0) /* the MSS we announce: the peer sends in segments of at most this */
		SYS(setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno != EINPROGRESS)
		FAIL("connect #%u to 127.0.0.1:%u: %s", id, port, strerror(errno));
}

static void start_connect(struct conn *c, uint16_t port, uint32_t id, int bufsize, int mss)
{
	start_connect_from(c, htonl(INADDR_ANY), port, id, bufsize, mss);
}

static void finish_connect(struct conn *c, size_t n, int64_t deadline)
{
	struct pollfd *pfd = xcalloc(n, sizeof *pfd);
	size_t pending = n;
	for (size_t i = 0; i < n; i++)
		pfd[i] = (struct pollfd){.fd = c[i].fd, .events = POLLOUT};
	while (pending > 0) {
		int r = poll(pfd, (nfds_t)n, deadline_left(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r == 0)
			FAIL("%zu of %zu connects not established by the deadline", pending, n);
		for (size_t i = 0; i < n; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			int err = 0;
			socklen_t len = sizeof err;
			SYS(getsockopt(c[i].fd, SOL_SOCKET, SO_ERROR, &err, &len));
			if (err != 0)
				FAIL("connect #%u failed: %s", c[i].id, strerror(err));
			pfd[i].fd = -1; /* established: stop watching */
			pending--;
		}
	}
	free(pfd);
}

void conn_open_many(struct conn *c, size_t n, uint16_t port, uint32_t first_id, int64_t deadline)
{
	conn_open_many_from(c, n, NULL, port, first_id, deadline);
}

void conn_open_many_from(struct conn *c, size_t n, const char *src, uint16_t port,
			 uint32_t first_id, int64_t deadline)
{
	in_addr_t from = htonl(INADDR_ANY);
	if (src != NULL && inet_pton(AF_INET, src, &from) != 1)
		FAIL("not an IPv4 address: \"%s\"", src);
	/* Batches keep the SYNs in flight below the listen backlog, so the kernel never drops one
	 * (a dropped SYN is retried after 1 s and would make the test slow, not wrong). */
	for (size_t base = 0; base < n; base += CONNECT_BATCH) {
		size_t k = n - base < CONNECT_BATCH ? n - base : CONNECT_BATCH;
		for (size_t i = 0; i < k; i++)
			start_connect_from(&c[base + i], from, port, first_id + (uint32_t)(base + i), 0, 0);
		finish_connect(&c[base], k, deadline);
	}
}

void conn_open(struct conn *c, uint16_t port, uint32_t id, int64_t deadline)
{
	conn_open_buf(c, port, id, 0, deadline);
}

void conn_open_buf(struct conn *c, uint16_t port, uint32_t id, int bufsize, int64_t deadline)
{
	start_connect(c, port, id, bufsize, 0);
	finish_connect(c, 1, deadline);
}

void conn_open_narrow(struct conn *c, uint16_t port, uint32_t id, int bufsize, int mss,
		      int64_t deadline)
{
	start_connect(c, port, id, bufsize, mss);
	finish_connect(c, 1, deadline);
}

void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		SYS(close(c->fd));
	c->fd = -1;
}

void conn_reset(struct conn *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	SYS(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	conn_close(c);
}

size_t conn_pump_write(struct conn *c, uint64_t limit)
{
	size_t total = 0;
	while (c->tx < limit) {
		size_t len = limit - c->tx < CHUNK ? (size_t)(limit - c->tx) : CHUNK;
		pattern_fill(c->id, c->tx, wbuf, len);
		ssize_t n = send(c->fd, wbuf, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			FAIL("conn #%u: send at offset %llu: %s", c->id, (unsigned long long)c->tx,
			     strerror(errno));
		}
		c->tx += (uint64_t)n;
		total += (size_t)n;
	}
	return total;
}

/* One read, verified against the pattern. >0 bytes, 0 EOF, -1 with *err = errno otherwise. */
static ssize_t read_verify_max(struct conn *c, size_t max, int *err)
{
	ssize_t n = read(c->fd, rbuf, max < sizeof rbuf ? max : sizeof rbuf);
	if (n < 0) {
		*err = errno;
		return -1;
	}
	if (n == 0) {
		c->eof = true;
		return 0;
	}
	if (c->rx + (uint64_t)n > c->tx)
		FAIL("conn #%u: received %llu bytes but only %llu were sent (duplicated or foreign "
		     "data)",
		     c->id, (unsigned long long)(c->rx + (uint64_t)n), (unsigned long long)c->tx);
	pattern_fill(c->id, c->rx, ebuf, (size_t)n);
	if (memcmp(rbuf, ebuf, (size_t)n) != 0) {
		size_t i = 0;
		while (rbuf[i] == ebuf[i])
			i++;
		FAIL("conn #%u: byte at stream offset %llu is 0x%02x, want 0x%02x (echo reordered, "
		     "mixed between connections or corrupted)",
		     c->id, (unsigned long long)(c->rx + i), rbuf[i], ebuf[i]);
	}
	c->rx += (uint64_t)n;
	return n;
}

static ssize_t read_verify(struct conn *c, int *err)
{
	return read_verify_max(c, sizeof rbuf, err);
}

size_t conn_pump_read_to(struct conn *c, uint64_t rx_limit)
{
	size_t total = 0;
	while (c->rx < rx_limit && !c->eof) {
		int err = 0;
		ssize_t n = read_verify_max(c, (size_t)(rx_limit - c->rx), &err);
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0 || err == EAGAIN || err == EWOULDBLOCK)
			break;
		if (err != EINTR)
			FAIL("conn #%u: read after %llu of %llu bytes: %s", c->id,
			     (unsigned long long)c->rx, (unsigned long long)c->tx, strerror(err));
	}
	return total;
}

size_t conn_pump_read(struct conn *c)
{
	size_t total = 0;
	/* A bounded number of reads per call keeps one busy connection from starving the others. */
	for (int i = 0; i < 8 && !c->eof; i++) {
		int err = 0;
		ssize_t n = read_verify(c, &err);
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		if (err == EINTR)
			continue;
		if (err == EAGAIN || err == EWOULDBLOCK)
			break;
		FAIL("conn #%u: read after %llu of %llu bytes: %s", c->id,
		     (unsigned long long)c->rx, (unsigned long long)c->tx, strerror(err));
	}
	return total;
}

struct round_state {
	uint64_t target;
	int64_t resume_at; /* ECHO_SLOW_TAIL: no reads before this time */
	bool shut;
};

static bool conn_done(const struct conn *c, const struct round_state *st, unsigned flags)
{
	return c->rx == st->target && (!(flags & ECHO_SHUTDOWN) || c->eof);
}

void echo_round(struct conn *c, size_t n, size_t bytes, unsigned flags, int64_t deadline)
{
	struct round_state *st = xcalloc(n, sizeof *st);
	struct pollfd *pfd = xcalloc(n, sizeof *pfd);
	size_t *idx = xcalloc(n, sizeof *idx);
	for (size_t i = 0; i < n; i++) {
		if (c[i].fd < 0 || c[i].rx != c[i].tx || c[i].eof)
			FAIL("conn #%u not ready for a round (fd %d, tx %llu, rx %llu, eof %d)",
			     c[i].id, c[i].fd, (unsigned long long)c[i].tx,
			     (unsigned long long)c[i].rx, c[i].eof);
		st[i].target = c[i].tx + bytes;
	}
	int64_t last_progress = now_ms();
	for (;;) {
		nfds_t m = 0;
		int64_t now = now_ms(), wake = deadline;
		if (last_progress + ECHO_STALL_MS < wake)
			wake = last_progress + ECHO_STALL_MS;
		for (size_t i = 0; i < n; i++) {
			if (conn_done(&c[i], &st[i], flags))
				continue;
			if ((flags & ECHO_SHUTDOWN) && !st[i].shut && c[i].tx == st[i].target) {
				SYS(shutdown(c[i].fd, SHUT_WR));
				st[i].shut = true;
				if (flags & ECHO_SLOW_TAIL)
					st[i].resume_at = now + SLOW_TAIL_MS;
			}
			short ev = 0;
			if (c[i].tx < st[i].target)
				ev |= POLLOUT;
			if (st[i].resume_at > now && st[i].resume_at < wake)
				wake = st[i].resume_at;
			else if (st[i].resume_at <= now)
				ev |= POLLIN;
			pfd[m] = (struct pollfd){.fd = c[i].fd, .events = ev};
			idx[m++] = i;
		}
		if (m == 0)
			break;
		int r = poll(pfd, m, deadline_left(wake));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		bool stalled = now_ms() - last_progress >= ECHO_STALL_MS;
		if (r == 0 && (deadline_left(deadline) == 0 || stalled)) {
			size_t left = 0, first = n;
			for (size_t i = 0; i < n; i++)
				if (!conn_done(&c[i], &st[i], flags) && left++ == 0)
					first = i;
			FAIL("echo of %zu bytes on %zu connections: %zu not done %s; first: conn "
			     "#%u sent "
			     "%llu, got back %llu of %llu%s",
			     bytes, n, left,
			     stalled ? "and no byte moved for " STR(ECHO_STALL_MS) " ms"
				     : "by the deadline",
			     c[first].id, (unsigned long long)c[first].tx,
			     (unsigned long long)c[first].rx, (unsigned long long)st[first].target,
			     (flags & ECHO_SHUTDOWN) && c[first].rx == st[first].target
				 ? " (no EOF)"
				 : "");
		}
		for (nfds_t k = 0; k < m; k++) {
			struct conn *x = &c[idx[k]];
			short re = pfd[k].revents;
			if (re & POLLNVAL)
				FAIL("conn #%u: fd %d is not open", x->id, x->fd);
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				if (conn_pump_read(x) > 0 || x->eof)
					last_progress = now_ms();
				if (x->eof &&
				    !((flags & ECHO_SHUTDOWN) && x->rx == st[idx[k]].target))
					FAIL("conn #%u: server closed the connection after echoing "
					     "%llu of %llu bytes",
					     x->id, (unsigned long long)x->rx,
					     (unsigned long long)st[idx[k]].target);
			}
			if ((re & (POLLOUT | POLLERR)) && x->tx < st[idx[k]].target &&
			    conn_pump_write(x, st[idx[k]].target) > 0)
				last_progress = now_ms();
		}
	}
	free(idx);
	free(pfd);
	free(st);
}

enum closed_how conn_wait_closed(struct conn *c, int64_t deadline, size_t *got_data)
{
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int r = poll(&pfd, 1, deadline_left(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r == 0)
			return CLOSED_NOT;
		int err = 0;
		ssize_t n = read_verify(c, &err);
		if (n > 0) {
			if (got_data != NULL)
				*got_data = (size_t)n;
			return CLOSED_NOT;
		}
		if (n == 0)
			return CLOSED_EOF;
		if (err == ECONNRESET)
			return CLOSED_RESET;
		if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
			FAIL("conn #%u: read while waiting for close: %s", c->id, strerror(err));
	}
}
