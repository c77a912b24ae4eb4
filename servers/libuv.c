/* libuv.c - echo server on libuv: the reference baseline, what most people would write.
 *
 * What it shows: the same echo as the other servers, written the way libuv wants it, with
 * callbacks. libuv runs epoll underneath (level-triggered, one epoll_wait per loop iteration), so
 * this is the figure the hand-written loops should meet; anything libuv does that they don't
 * shows up in the kernel's syscall count. libuv makes its syscalls itself, so this server has no
 * in-process syscall counters ("counters":"none" in its stats): bench/ counts them with perf.
 *
 * The connection is the core's echo buffer (connbuf.h), same --buffer: reads land at its tail
 * (on_alloc), the echo is tried at once with uv_try_write() and the rest goes out with uv_write();
 * reading stops (uv_read_stop) by the buffer's backpressure rule, so a client that never reads
 * costs one buffer; after an EOF the pending output is written, then the connection closed.
 *
 * Accepting and signals are the core's: libuv only watches the listening socket and the signalfd
 * (uv_poll_t), and every connection goes through listener_accept() (--max-conns, the fd limit,
 * TCP_NODELAY, the EMFILE shed), so accepted, rejected_max_conns, accept_emfile and peak_conns
 * mean what they mean for every other server; the admitted fd goes to libuv with uv_tcp_open().
 * Not uv_listen(): libuv would accept by itself, with an EMFILE shed of its own that no callback
 * hears of, so what it sheds could not be counted.
 *
 * Test hook, for tests/integration (case accept_alloc_fail) only: MUXBENCH_FAIL_ACCEPT_ALLOC=N
 * makes the first N connection allocations fail, so that the refusal path can be run.
 *
 * Run: echo-libuv --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

#include <errno.h>
#include <uv.h>

static struct server_config cfg = {.name = "libuv"};
static struct listener lis;
static unsigned long fail_allocs; /* the test hook: allocations still to fail */
static uv_poll_t accepting, signals;

struct uvconn {
	uv_tcp_t tcp; /* first: a uv_handle_t * to it is a struct uvconn * */
	uv_write_t req;
	bool writing, reading, eof;
	uint32_t in_flight; /* the first in_flight bytes of the pending output are uv_write()'s */
	struct connbuf buf;
	char storage[];
};

static _Noreturn void fail(const char *what, int err)
{
	fprintf(stderr, "echo-libuv: %s: %s\n", what, uv_strerror(err));
	exit(1);
}

static void on_closed(uv_handle_t *h)
{
	stats_conn_closed();
	free(h); /* the uvconn it is the first member of */
}

static void end(struct uvconn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested; /* libuv suggests 64 KiB; the echo uses --buffer, like every server */
	struct uvconn *c = (struct uvconn *)h;
	*buf = uv_buf_init(connbuf_tail(&c->buf), connbuf_tail_room(&c->buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_written(uv_write_t *req, int status);

/* Read while the backpressure rule allows it and the tail has room. Output is pending only while
 * a write is in flight (it starts at once), whose bytes must not move: so no compaction here; the
 * buffer starts from its front again once all of it went. (A 0-byte alloc would be ENOBUFS.) */
static void update_reading(struct uvconn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	bool want = !c->eof && connbuf_wants_read(&c->buf) && connbuf_tail_room(&c->buf) > 0;
	if (want && !c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		return end(c);
	if (!want && c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = want;
}

/* Echo what is pending: try at once, hand the rest to uv_write(); once all went after an EOF,
 * close. Then read again if the buffer allows it. */
static void flush(struct uvconn *c)
{
	if (!c->writing && connbuf_pending(&c->buf)) {
		uv_buf_t b = uv_buf_init(connbuf_out(&c->buf), connbuf_pending(&c->buf));
		int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
		if (n < 0 && n != UV_EAGAIN) {
			STAT_ADD(resets, 1);
			return end(c);
		}
		if (n > 0) {
			STAT_ADD(bytes_out, (uint64_t)n);
			connbuf_consume(&c->buf, (uint32_t)n);
		}
		if ((c->in_flight = connbuf_pending(&c->buf)) > 0) {
			b = uv_buf_init(connbuf_out(&c->buf), c->in_flight);
			if (uv_write(&c->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
				return end(c);
			c->writing = true;
		}
	}
	if (c->eof && !c->writing && !connbuf_pending(&c->buf))
		return end(c);
	update_reading(c);
}

static void on_written(uv_write_t *req, int status)
{
	struct uvconn *c = req->data;
	c->writing = false;
	if (status < 0) {
		if (status != UV_ECANCELED)
			STAT_ADD(resets, 1);
		return end(c);
	}
	STAT_ADD(bytes_out, c->in_flight);
	connbuf_consume(&c->buf, c->in_flight);
	flush(c); /* what arrived while that write was in flight, or the close after an EOF */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct uvconn *c = (struct uvconn *)s;
	if (n == 0)
		return; /* EAGAIN */
	if (n == UV_EOF) {
		c->eof = true; /* what it sent is still owed to it: flush() closes once that went */
	} else if (n < 0) {
		STAT_ADD(resets, 1);
		return end(c);
	} else {
		STAT_ADD(requests, 1);
		STAT_ADD(bytes_in, (uint64_t)n);
		connbuf_filled(&c->buf, (uint32_t)n);
	}
	flush(c);
}

/* A connection the listener admitted, given to libuv, and counted as open once libuv has it. One
 * there is no memory for is closed and counted in accept_errors, as conn_new() does. */
static void adopt(uv_loop_t *loop, int fd)
{
	struct uvconn *c = NULL;
	if (fail_allocs > 0)
		fail_allocs--; /* the test hook */
	else
		c = malloc(sizeof *c + cfg.buffer);
	if (!c) {
		sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return;
	}
	/* Neither fails for a fresh socket of ours (AF_UNSPEC: uv_tcp_init() makes none, allocates
	 * nothing); if one did, the machine is broken, and saying so beats a half-adopted fd. */
	*c = (struct uvconn){.req = {.data = c}};
	int err = uv_tcp_init(loop, &c->tcp);
	if (err || (err = uv_tcp_open(&c->tcp, fd)) != 0)
		fail("uv_tcp_open", err);
	connbuf_init(&c->buf, c->storage, (uint32_t)cfg.buffer);
	stats_conn_opened();
	update_reading(c);
}

/* The signalfd: as in every server that sleeps in a wait (signals.h). The listener: accept until
 * EAGAIN, or EMFILE with nothing left to shed, or a resource error (counted): the poll is
 * level-triggered, so what is left pending brings us back. */
static void on_ready(uv_poll_t *p, int status, int events)
{
	(void)events;
	if (status < 0)
		fail("uv_poll", status);
	if (p == &signals) {
		signals_on_readable();
		if (!server_running())
			uv_stop(p->loop);
		return;
	}
	int fd;
	while ((fd = listener_accept(&lis, false)) >= 0 || errno == ECONNABORTED)
		if (fd >= 0)
			adopt(p->loop, fd);
}

static void on_check(uv_check_t *h)
{
	(void)h;
	STAT_ADD(loop_passes, 1);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) /* only the connections are ours to free */
		uv_close(h, h->type == UV_TCP ? on_closed : NULL);
}

static void watch(uv_loop_t *loop, uv_poll_t *h, int fd)
{
	int err = uv_poll_init(loop, h, fd);
	if (err || (err = uv_poll_start(h, UV_READABLE, on_ready)) != 0)
		fail("uv_poll_start", err);
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	const char *hook = getenv("MUXBENCH_FAIL_ACCEPT_ALLOC"); /* the test hook: a count */
	char *end = NULL;
	fail_allocs = hook ? strtoul(hook, &end, 10) : 0;
	if (hook && (end == hook || *end || *hook == '-')) {
		fprintf(stderr, "echo-libuv: MUXBENCH_FAIL_ACCEPT_ALLOC=%s: not a count\n", hook);
		exit(2);
	}
	/* server_start() less its stats_init(): libuv's syscalls are not counted in-process, and
	 * neither are its readiness checks (CHECKS_NONE: null). Those would be the events each
	 * epoll_wait() inside uv_run() returned, and libuv 1.44 (Debian 12's) hands no count of them
	 * to the program: uv_metrics_info(), whose `events` is that count, came in 1.45. The kernel's
	 * count (epoll_wait's return values) comes from bench's profiled repetitions instead. */
	stats_init(cfg.name, cfg.variant, cfg.stats_path, false, CHECKS_NONE);
	signals_init(SIGNALS_FD);

	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t first; /* libuv keeps a spare fd, taken at the first stream's init: take it now */
	uv_check_t check;
	int err = uv_tcp_init(loop, &first);
	if (err || (err = uv_check_init(loop, &check)) != 0 ||
	    (err = uv_check_start(&check, on_check)) != 0)
		fail("uv_tcp_init, uv_check_start", err);
	uv_close((uv_handle_t *)&first, NULL);
	watch(loop, &signals, signals_fd());
	listener_open(&lis, &cfg, false); /* its ready line: the rest is in place (the backlog waits) */
	watch(loop, &accepting, lis.fd);

	uv_run(loop, UV_RUN_DEFAULT);
	stats_write("final");
	uv_walk(loop, close_any, NULL); /* after a stop: release every handle, then let them close */
	uv_run(loop, UV_RUN_DEFAULT);
	listener_close(&lis); /* after its poll handle is closed */
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
