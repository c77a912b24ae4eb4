/* conn.c - the echo connection's readiness I/O: read into the buffer, write back what is pending
 * (conn.h describes the states; connbuf.h the buffer and the backpressure rule). */
#include "conn.h"

#include "stats.h"
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The list of open connections. Touched once per connection, never per request, so a mutex (for
 * the thread-per-connection server) costs nothing that shows. */
static struct conn *all;
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;

static struct conn *conn_open(int fd, bool direct, uint32_t cap)
{
	struct conn *c = malloc(sizeof *c + cap);
	if (!c) {
		if (!direct)
			sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return NULL;
	}
	*c = (struct conn){.fd = fd, .direct = direct};
	connbuf_init(&c->buf, c->storage, cap);
	pthread_mutex_lock(&all_lock);
	c->next = all;
	if (all)
		all->prev = c;
	all = c;
	pthread_mutex_unlock(&all_lock);
	stats_conn_opened();
	return c;
}

struct conn *conn_new(int fd, uint32_t cap)
{
	return conn_open(fd, false, cap);
}

struct conn *conn_new_direct(int slot, uint32_t cap)
{
	return conn_open(slot, true, cap);
}

void conn_close(struct conn *c)
{
	pthread_mutex_lock(&all_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&all_lock);
	if (!c->direct)
		sys_close(c->fd);
	stats_conn_closed();
	free(c);
}

void conn_close_all(void)
{
	while (all)
		conn_close(all);
}

/* A failed read or write ends the connection. A reset or a write after the peer left is the peer's
 * doing and normal in a benchmark's life; it is counted, not reported line by line. */
static enum conn_rc conn_failed(void)
{
	STAT_ADD(resets, 1);
	return CONN_CLOSE;
}

static enum conn_rc flush(struct conn *c)
{
	ssize_t n = sys_write(c->fd, connbuf_out(&c->buf), connbuf_pending(&c->buf));
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? CONN_AGAIN : conn_failed();
	STAT_ADD(bytes_out, (uint64_t)n);
	connbuf_consume(&c->buf, (uint32_t)n);
	if (conn_wants_write(c))
		return CONN_AGAIN; /* a short write: the send buffer is full, a second try would EAGAIN */
	return c->eof ? CONN_CLOSE : CONN_MORE;
}

enum conn_rc conn_on_readable(struct conn *c)
{
	bool was_pending = conn_wants_write(c);
	connbuf_make_room(&c->buf);
	ssize_t n = sys_read(c->fd, connbuf_tail(&c->buf), connbuf_tail_room(&c->buf));
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? CONN_AGAIN : conn_failed();
	if (n == 0) { /* the peer shut down its side: what it sent is still owed to it */
		c->eof = true;
		return was_pending ? CONN_AGAIN : CONN_CLOSE;
	}
	STAT_ADD(requests, 1);
	STAT_ADD(bytes_in, (uint64_t)n);
	connbuf_filled(&c->buf, (uint32_t)n);
	if (was_pending)
		return CONN_MORE; /* the socket is still full: writing now would only hit EAGAIN */
	return flush(c) == CONN_CLOSE ? CONN_CLOSE : CONN_MORE;
}

enum conn_rc conn_on_writable(struct conn *c)
{
	if (!conn_wants_write(c))
		return c->eof ? CONN_CLOSE : CONN_MORE;
	return flush(c);
}

bool conn_serve(struct conn *c, bool readable, bool writable)
{
	enum conn_rc rc = CONN_MORE;
	if (writable && conn_wants_write(c))
		rc = conn_on_writable(c);
	if (rc != CONN_CLOSE && readable && conn_wants_read(c))
		rc = conn_on_readable(c);
	return rc != CONN_CLOSE && !(c->eof && !conn_wants_write(c));
}
