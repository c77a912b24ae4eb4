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
 * Run: echo-libuv --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

#include <errno.h>
#include <uv.h>

static struct server_config cfg = {.name = "libuv"};

struct uvconn {
	uv_tcp_t tcp;		/* first: a uv_handle_t * to it is a struct uvconn * */
	uv_write_t req;
	bool writing, reading, eof;
	uint32_t cap, off, len, wend; /* pending output buf[off, len); buf[off, wend) is in flight */
	char buf[];
};

static void on_closed(uv_handle_t *h)
{
	if (h->data) /* connections carry a marker; the listener and signal handles are not ours */
		stats_conn_closed();
	free(h->data ? (void *)h : NULL);
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

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0) { /* libuv sheds a connection at EMFILE itself (its own spare-fd trick) */
		if (status == UV_EMFILE || status == UV_ENFILE)
			STAT_ADD(accept_emfile, 1);
		else
			STAT_ADD(accept_errors, 1);
		return;
	}
	struct uvconn *c = malloc(sizeof *c + cfg.buffer);
	if (!c)
		return; /* the connection stays in the backlog; libuv retries on the next iteration */
	*c = (struct uvconn){.cap = (uint32_t)cfg.buffer};
	if (uv_tcp_init(server->loop, &c->tcp) != 0) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->req.data = c;
	stats_conn_opened();
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0)
		return end(c);
	if (cfg.max_conns && atomic_load(&stats.conns) > cfg.max_conns) {
		STAT_ADD(rejected_max_conns, 1);
		return end(c);
	}
	uv_tcp_nodelay(&c->tcp, 1);
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

static _Noreturn void fail(const char *what, int err)
{
	fprintf(stderr, "echo-libuv: %s: %s\n", what, uv_strerror(err));
	exit(1);
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	stats_init(cfg.name, cfg.variant, cfg.stats_path, false);
	signal(SIGPIPE, SIG_IGN);

	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	uv_signal_t sigs[3];
	uv_check_t check;
	const int signums[3] = {SIGTERM, SIGINT, SIGUSR1};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(loop, &sigs[i]);
		sigs[i].data = NULL;
		int err = uv_signal_start(&sigs[i], on_signal, signums[i]);
		if (err)
			fail("uv_signal_start", err);
	}
	uv_check_init(loop, &check);
	check.data = NULL;
	uv_check_start(&check, on_check);

	struct sockaddr_storage addr;
	int err = strchr(cfg.bind, ':') ? uv_ip6_addr(cfg.bind, (int)cfg.port, (struct sockaddr_in6 *)&addr)
					: uv_ip4_addr(cfg.bind, (int)cfg.port, (struct sockaddr_in *)&addr);
	if (err) {
		fprintf(stderr, "echo-libuv: --bind '%s': not a numeric address\n", cfg.bind);
		exit(2);
	}
	uv_tcp_init(loop, &server);
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
