/* libuv.c - echo server on libuv: the reference baseline, what most people would write.
 *
 * What it shows: the same echo as the other servers, written the way libuv wants it, with
 * callbacks. libuv runs epoll underneath (level-triggered, one epoll_wait per loop iteration), so
 * this is the figure the hand-written loops should meet; anything libuv does that they don't
 * shows up in the kernel's syscall count. libuv makes its syscalls itself, so this server has no
 * in-process syscall counters ("counters":"none" in its stats): bench/ counts them with perf.
 *
 * Same echo semantics as servers/core/conn.c, same --buffer:
 *  - each read lands in the connection's one buffer; its echo is tried at once with
 *    uv_try_write(), the rest goes out with uv_write();
 *  - reading stops (uv_read_stop) while a full buffer's worth of output is pending, and resumes
 *    when the write completes: a client that never reads costs one buffer;
 *  - on EOF the pending output is written, then the connection is closed.
 *
 * Accepting: libuv accepts (uv__server_io) and hands each connection to on_connection(), which
 * must take it with uv_accept(): while one waits, libuv stops watching the listener, and only a
 * successful uv_accept() starts it again. So every path through on_connection() ends in a
 * uv_accept(), that of a refused connection included:
 *  - no memory for it (or uv_tcp_init() failing): it is accepted into a spare handle and closed,
 *    and counted in accept_errors (refuse() below);
 *  - beyond --max-conns, or TCP_NODELAY refused: closed and counted (rejected_max_conns,
 *    accept_errors), as servers/core/listener.c does, and not counted as accepted;
 *  - out of fds: libuv has an EMFILE shed of its own (uv__emfile_trick: give up a reserve fd,
 *    accept every pending connection and close it, reopen the reserve), and when it works the
 *    callback hears nothing of it, so what it sheds could not be counted. This server does not let
 *    it come to that. accept() returns the lowest free fd, so the connection whose fd is the last
 *    one RLIMIT_NOFILE allows is the one that fills the table: it is closed at once and counted in
 *    accept_emfile, and the next accept() finds that slot free again instead of failing with
 *    EMFILE. The price is that slot: echo-libuv holds one connection fewer than the core servers
 *    at the same limit (libuv's reserve fd costs one more, as the core listener's spare does).
 *    libuv's shed remains for fds taken some other way (a limit lowered from outside with
 *    prlimit), and there it goes uncounted; UV_EMFILE reaches the callback only when that shed
 *    itself failed (no reserve fd), and is counted.
 *
 * Test hook, for tests/integration (case accept_alloc_fail) only: the environment variable
 * MUXBENCH_FAIL_ACCEPT_ALLOC=N makes the first N connection allocations fail as if malloc() had,
 * so that the refusal path, which a healthy machine never takes, can be run.
 *
 * Run: echo-libuv --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

#include <errno.h>
#include <limits.h>
#include <sys/resource.h>
#include <uv.h>

static struct server_config cfg = {.name = "libuv"};
static int last_fd = INT_MAX;	  /* RLIMIT_NOFILE - 1: a connection there fills the fd table */
static unsigned long fail_allocs; /* the test hook: allocations still to fail */

struct uvconn {
	uv_tcp_t tcp;		/* first: a uv_handle_t * to it is a struct uvconn * */
	uv_write_t req;
	bool opened;		/* admitted and counted: its close is counted too */
	bool writing, reading, eof;
	uint32_t cap, off, len, wend; /* pending output buf[off, len); buf[off, wend) is in flight */
	char buf[];
};

static _Noreturn void fail(const char *what, int err)
{
	fprintf(stderr, "echo-libuv: %s: %s\n", what, uv_strerror(err));
	exit(1);
}

static void on_closed(uv_handle_t *h)
{
	struct uvconn *c = h->data; /* NULL: the listener, signal, check and spare handles */
	if (c && c->opened)
		stats_conn_closed();
	free(c);
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
	*buf = uv_buf_init(c->buf + c->len, c->cap - c->len);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_written(uv_write_t *req, int status);

/* Read while there is room at the end of the buffer. Output is pending only while a write is in
 * flight (it starts at once), and the buffer is emptied when that write completes, so the room
 * runs out exactly when a buffer's worth of output waits for the client. */
static void update_reading(struct uvconn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	bool want = !c->eof && c->len < c->cap;
	if (want && !c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		return end(c);
	if (!want && c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = want;
}

/* Echo what is pending: try at once, hand the rest to uv_write(). */
static void flush(struct uvconn *c)
{
	if (c->writing || c->off == c->len)
		return;
	uv_buf_t b = uv_buf_init(c->buf + c->off, c->len - c->off);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
	if (n < 0 && n != UV_EAGAIN) {
		STAT_ADD(resets, 1);
		return end(c);
	}
	if (n > 0) {
		STAT_ADD(bytes_out, (uint64_t)n);
		c->off += (uint32_t)n;
	}
	if (c->off == c->len) {
		c->off = c->len = 0;
		if (c->eof)
			return end(c);
	} else {
		c->wend = c->len;
		b = uv_buf_init(c->buf + c->off, c->wend - c->off);
		if (uv_write(&c->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0)
			return end(c);
		c->writing = true;
	}
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
	STAT_ADD(bytes_out, c->wend - c->off);
	c->off = c->wend;
	if (c->off == c->len) {
		c->off = c->len = c->wend = 0;
		if (c->eof)
			return end(c);
	} else {
		flush(c); /* what arrived while that write was in flight */
	}
	update_reading(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct uvconn *c = (struct uvconn *)s;
	if (n == 0)
		return; /* EAGAIN */
	if (n == UV_EOF) {
		c->eof = true;
		if (!c->writing && c->off == c->len)
			return end(c);
		return update_reading(c);
	}
	if (n < 0) {
		STAT_ADD(resets, 1);
		return end(c);
	}
	STAT_ADD(requests, 1);
	STAT_ADD(bytes_in, (uint64_t)n);
	c->len += (uint32_t)n;
	flush(c);
	update_reading(c);
}

/* uv_accept() into a handle just initialised cannot fail (libuv 1.x: uv__stream_open() fails
 * only for TCP_NODELAY or keep-alive asked for before the accept). If it did, libuv would have
 * closed the connection without watching the listener again, so accepting would have stopped for
 * good: better to stop here and say why. */
static void take(uv_stream_t *server, uv_tcp_t *tcp)
{
	int err = uv_accept(server, (uv_stream_t *)tcp);
	if (err)
		fail("uv_accept", err);
}

/* A connection there is no uvconn for is accepted into this spare handle and closed. A closed
 * handle can be used again only once its close callback has run (at the end of the loop
 * iteration), so a second refusal in the same iteration leaves its connection waiting in libuv,
 * which stops watching the listener meanwhile; spare_closed() then takes it, and uv_accept()
 * starts the watch again. One listener, so at most one connection waits. */
static uv_tcp_t spare;
static bool spare_busy;
static uv_stream_t *spare_waiting;

static void refuse(uv_stream_t *server);

static void spare_closed(uv_handle_t *h)
{
	(void)h;
	spare_busy = false;
	uv_stream_t *server = spare_waiting;
	spare_waiting = NULL;
	if (server)
		refuse(server);
}

static void refuse(uv_stream_t *server)
{
	if (uv_is_closing((uv_handle_t *)server))
		return; /* stopping: closing the listener closes what it accepted */
	if (spare_busy) {
		spare_waiting = server;
		return;
	}
	int err = uv_tcp_init(server->loop, &spare); /* AF_UNSPEC: no socket, nothing allocated */
	if (err)
		fail("uv_tcp_init", err);
	spare.data = NULL;
	spare_busy = true;
	take(server, &spare);
	uv_close((uv_handle_t *)&spare, spare_closed); /* closes the socket now: the client sees EOF */
}

static struct uvconn *conn_alloc(void)
{
	if (fail_allocs > 0) { /* the test hook */
		fail_allocs--;
		return NULL;
	}
	return malloc(sizeof(struct uvconn) + cfg.buffer);
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0) { /* accept() failed: no connection waits for uv_accept() */
		if (status == UV_EMFILE || status == UV_ENFILE)
			STAT_ADD(accept_emfile, 1); /* libuv's own shed failed (see the top) */
		else
			STAT_ADD(accept_errors, 1);
		return;
	}
	struct uvconn *c = conn_alloc();
	if (c)
		*c = (struct uvconn){.cap = (uint32_t)cfg.buffer};
	if (!c || uv_tcp_init(server->loop, &c->tcp) != 0) {
		free(c);
		STAT_ADD(accept_errors, 1);
		return refuse(server);
	}
	c->tcp.data = c;
	c->req.data = c;
	take(server, &c->tcp);
	uv_os_fd_t fd;
	int err = uv_fileno((uv_handle_t *)&c->tcp, &fd);
	if (err)
		fail("uv_fileno", err); /* only for a handle without a socket, which this is not */
	/* The admission rules of servers/core/listener.c; refused connections are not counted as
	 * accepted. */
	if (fd >= last_fd) {
		STAT_ADD(accept_emfile, 1);
		return end(c);
	}
	if (cfg.max_conns && STAT_GAUGE(conns) >= cfg.max_conns) {
		STAT_ADD(rejected_max_conns, 1);
		return end(c);
	}
	if ((err = uv_tcp_nodelay(&c->tcp, 1)) != 0) {
		STAT_ADD(accept_errors, 1);
		return end(c);
	}
	c->opened = true;
	stats_conn_opened();
	update_reading(c);
}

static void on_signal(uv_signal_t *h, int sig)
{
	if (sig == SIGUSR1) {
		stats_write("snapshot");
		return;
	}
	stats_write("final");
	uv_stop(h->loop);
}

static void on_check(uv_check_t *h)
{
	(void)h;
	STAT_ADD(loop_passes, 1);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, on_closed);
}

/* The test hook's count: absent 0; anything but a decimal count is a mistake in the test. */
static unsigned long hook_count(const char *name)
{
	const char *v = getenv(name);
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-') {
		fprintf(stderr, "echo-libuv: %s=%s: not a count\n", name, v);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	stats_init(cfg.name, cfg.variant, cfg.stats_path, false);
	signal(SIGPIPE, SIG_IGN);
	fail_allocs = hook_count("MUXBENCH_FAIL_ACCEPT_ALLOC");
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "echo-libuv: getrlimit RLIMIT_NOFILE: %s\n", strerror(errno));
		exit(1);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= (rlim_t)INT_MAX)
		last_fd = (int)rl.rlim_cur - 1;

	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	uv_signal_t sigs[3];
	uv_check_t check;
	const int signums[3] = {SIGTERM, SIGINT, SIGUSR1};
	int err;
	for (int i = 0; i < 3; i++) {
		if ((err = uv_signal_init(loop, &sigs[i])) != 0)
			fail("uv_signal_init", err);
		sigs[i].data = NULL;
		if ((err = uv_signal_start(&sigs[i], on_signal, signums[i])) != 0)
			fail("uv_signal_start", err);
	}
	if ((err = uv_check_init(loop, &check)) != 0 || (err = uv_check_start(&check, on_check)) != 0)
		fail("uv_check_start", err);
	check.data = NULL;

	struct sockaddr_storage addr;
	err = strchr(cfg.bind, ':') ? uv_ip6_addr(cfg.bind, (int)cfg.port, (struct sockaddr_in6 *)&addr)
					: uv_ip4_addr(cfg.bind, (int)cfg.port, (struct sockaddr_in *)&addr);
	if (err) {
		fprintf(stderr, "echo-libuv: --bind '%s': not a numeric address\n", cfg.bind);
		exit(2);
	}
	if ((err = uv_tcp_init(loop, &server)) != 0)
		fail("uv_tcp_init", err);
	server.data = NULL;
	if ((err = uv_tcp_bind(&server, (struct sockaddr *)&addr, 0)) != 0)
		fail("bind", err);
	if ((err = uv_listen((uv_stream_t *)&server, 65535, on_connection)) != 0)
		fail("listen", err);
	uv_os_fd_t fd;
	if ((err = uv_fileno((uv_handle_t *)&server, &fd)) != 0)
		fail("uv_fileno", err);
	listener_ready(&cfg, fd);

	uv_run(loop, UV_RUN_DEFAULT);
	uv_walk(loop, close_any, NULL); /* after a stop: release every handle, then let them close */
	uv_run(loop, UV_RUN_DEFAULT);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
