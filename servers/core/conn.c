/* conn.c - the echo connection; the states and the backpressure rule are described in conn.h. */
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

struct conn *conn_new(int fd, uint32_t cap)
{
	struct conn *c = malloc(sizeof *c + cap);
	if (!c) {
		sys_close(fd);
		return NULL;
	}
	*c = (struct conn){.fd = fd, .cap = cap};
	pthread_mutex_lock(&all_lock);
	c->next = all;
	if (all)
		all->prev = c;
	all = c;
	pthread_mutex_unlock(&all_lock);
	stats_conn_opened();
	return c;
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
	ssize_t n = sys_write(c->fd, c->buf + c->off, c->len - c->off);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? CONN_AGAIN : conn_failed();
	STAT_ADD(bytes_out, (uint64_t)n);
	c->off += (uint32_t)n;
	if (c->off < c->len)
		return CONN_AGAIN; /* a short write: the send buffer is full, a second try would EAGAIN */
	c->off = c->len = 0;
	return c->eof ? CONN_CLOSE : CONN_MORE;
}

/* Before a read: move the pending output to the front of the buffer when the room behind it
 * (cap - len) is smaller than the room before it (off), which includes the case of no room behind.
 * Under backpressure the pending output sits at an offset, and a read into only the tail room takes
 * a sliver of the next request and leaves the rest for a second read: two syscalls and two
 * `requests` for one. Compacting when the front is the larger room at least doubles what the
 * read is offered. The cost is bounded: the bytes moved (the pending output, len - off) are fewer
 * than cap - 2 * (cap - len), so a large move happens only when the tail room is nearly gone and
 * the read would otherwise get almost nothing; at most one move per read; and only while output is
 * pending (off > 0 only then: a complete flush resets off and len), i.e. only under backpressure.
 * (Compacting only once the buffer was full, cap == len, made moves as large, each after a read
 * spent on the tail's sliver.) */
static void make_room(struct conn *c)
{
	if (c->cap - c->len >= c->off)
		return;
	memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= c->off;
	c->off = 0;
}

enum conn_rc conn_on_readable(struct conn *c)
{
	bool was_pending = conn_wants_write(c);
	make_room(c);
	ssize_t n = sys_read(c->fd, c->buf + c->len, c->cap - c->len);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? CONN_AGAIN : conn_failed();
	if (n == 0) { /* the peer shut down its side: what it sent is still owed to it */
		c->eof = true;
		return was_pending ? CONN_AGAIN : CONN_CLOSE;
	}
	STAT_ADD(requests, 1);
	STAT_ADD(bytes_in, (uint64_t)n);
	c->len += (uint32_t)n;
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
