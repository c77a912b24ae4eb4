/* test_conn.c - the shared echo connection over a socketpair: echo, counting, backpressure (the
 * pending output never exceeds the buffer and comes back in order), half-close and a peer that left. */
#include "check.h"
#include "conn.h"
#include "stats.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CAP = 4096 };

static struct conn *pair(int *peer)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	*peer = sv[1];
	struct conn *c = conn_new(sv[0], CAP);
	CHECK(c != NULL);
	return c;
}

static uint64_t calls(enum sys_kind k)
{
	return atomic_load(&sys_count.calls[k]);
}

static void test_echo(void)
{
	int peer;
	struct conn *c = pair(&peer);
	uint64_t reads = calls(SYS_READ), writes = calls(SYS_WRITE), eagain = atomic_load(&sys_count.read_eagain);

	CHECK_EQ(conn_on_readable(c), CONN_AGAIN); /* nothing there yet: a counted, failed read */
	CHECK_EQ(atomic_load(&sys_count.read_eagain), eagain + 1);
	CHECK_EQ(write(peer, "hello", 5), 5);
	CHECK_EQ(conn_on_readable(c), CONN_MORE);
	char buf[16];
	CHECK_EQ(read(peer, buf, sizeof buf), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK_EQ(calls(SYS_READ), reads + 2);
	CHECK_EQ(calls(SYS_WRITE), writes + 1); /* one read, one write per request */
	CHECK(!conn_wants_write(c));
	CHECK_EQ(atomic_load(&stats.requests), 1);
	CHECK_EQ(atomic_load(&stats.bytes_in), 5);
	CHECK_EQ(atomic_load(&stats.bytes_out), 5);

	/* half-close with nothing pending: the connection is done */
	CHECK(shutdown(peer, SHUT_WR) == 0);
	CHECK_EQ(conn_on_readable(c), CONN_CLOSE);
	conn_close(c);
	close(peer);
}

/* The peer writes and never reads: the connection must stop wanting to read once a buffer's worth
 * is pending, and every byte must come back in order once the peer reads again. */
static void test_backpressure(void)
{
	int peer;
	struct conn *c = pair(&peer);
	static unsigned char sent[8 << 20], got[8 << 20];
	for (size_t i = 0; i < sizeof sent; i++)
		sent[i] = (unsigned char)(i * 7 + i / 251);
	size_t nsent = 0, ngot = 0;

	/* Phase 1: write without reading until neither side can move. */
	for (int idle = 0; idle < 3;) {
		ssize_t n = write(peer, sent + nsent, sizeof sent - nsent);
		bool moved = n > 0;
		if (n > 0)
			nsent += (size_t)n;
		else
			CHECK(errno == EAGAIN);
		if (conn_wants_write(c) && conn_on_writable(c) == CONN_MORE)
			moved = true;
		if (conn_wants_read(c) && conn_on_readable(c) == CONN_MORE)
			moved = true;
		CHECK(c->len - c->off <= CAP);
		idle = moved ? 0 : idle + 1;
	}
	CHECK(nsent < sizeof sent); /* the kernel's buffers filled: the peer's writes stalled */
	CHECK(!conn_wants_read(c)); /* and the connection stopped reading at its cap */
	CHECK_EQ(c->len - c->off, CAP);

	/* Phase 2: the peer reads again; everything flows, in order. */
	while (ngot < sizeof sent) {
		ssize_t n = read(peer, got + ngot, sizeof got - ngot);
		if (n > 0)
			ngot += (size_t)n;
		if (nsent < sizeof sent) {
			n = write(peer, sent + nsent, sizeof sent - nsent);
			if (n > 0)
				nsent += (size_t)n;
		}
		enum conn_rc rc = CONN_MORE;
		if (conn_wants_write(c))
			rc = conn_on_writable(c);
		if (rc != CONN_CLOSE && conn_wants_read(c))
			rc = conn_on_readable(c);
		CHECK(rc != CONN_CLOSE);
		CHECK(c->len - c->off <= CAP);
	}
	CHECK(memcmp(sent, got, sizeof sent) == 0);
	conn_close(c);
	close(peer);
}

/* Half-close while output is pending: the rest is still written, then the connection is done. */
static void test_eof_with_pending(void)
{
	int peer;
	struct conn *c = pair(&peer);
	int small = 4096;
	CHECK(setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
	static char big[256 << 10];
	memset(big, 'x', sizeof big);
	size_t nsent = 0;
	while (nsent < sizeof big) { /* feed until the connection stops reading */
		ssize_t n = write(peer, big + nsent, sizeof big - nsent);
		if (n > 0)
			nsent += (size_t)n;
		if (!conn_wants_read(c))
			break;
		conn_on_readable(c);
	}
	CHECK(conn_wants_write(c));
	CHECK(shutdown(peer, SHUT_WR) == 0);
	size_t ngot = 0;
	enum conn_rc rc = CONN_MORE;
	char buf[65536];
	while (rc != CONN_CLOSE) {
		ssize_t n = read(peer, buf, sizeof buf);
		if (n > 0)
			ngot += (size_t)n;
		if (conn_wants_write(c))
			rc = conn_on_writable(c);
		if (rc != CONN_CLOSE && conn_wants_read(c))
			rc = conn_on_readable(c);
	}
	while (ngot < nsent) {
		ssize_t n = read(peer, buf, sizeof buf);
		CHECK(n > 0);
		ngot += (size_t)n;
	}
	CHECK_EQ(ngot, nsent);
	CHECK(c->eof);
	conn_close(c);
	close(peer);
}

/* The peer left with output pending: the write fails (EPIPE, SIGPIPE ignored) and it is counted. */
static void test_peer_gone(void)
{
	int peer;
	struct conn *c = pair(&peer);
	uint64_t resets = atomic_load(&stats.resets);
	CHECK_EQ(write(peer, "abc", 3), 3);
	close(peer);
	enum conn_rc rc = conn_on_readable(c); /* reads "abc", its echo fails */
	if (rc != CONN_CLOSE)
		rc = conn_on_readable(c);
	CHECK_EQ(rc, CONN_CLOSE);
	CHECK_EQ(atomic_load(&stats.resets), resets + 1);
	conn_close(c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_echo();
	test_backpressure();
	test_eof_with_pending();
	test_peer_gone();
	CHECK_EQ(atomic_load(&stats.conns), 0);
	CHECK_EQ(atomic_load(&stats.accepted), atomic_load(&stats.closed));
	puts("conn: ok");
	return 0;
}
