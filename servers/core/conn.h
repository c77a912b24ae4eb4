/* conn.h - the echo connection of the readiness servers: Read, Write and Flush, solved once.
 *
 * A connection is a socket and one echo buffer of --buffer bytes (connbuf.h: room, compaction and
 * the backpressure rule). Bytes read from the socket are appended to it and written back; whatever
 * the socket's send buffer does not take stays pending. Invariant: output is pending exactly when
 * the last write was short or hit EAGAIN, i.e. when the connection is waiting for the socket to
 * become writable. So:
 *   conn_wants_write(c)  output is pending: ask the loop for writability (EPOLLOUT, POLLOUT, ...);
 *   conn_wants_read(c)   the peer has not shut down and the buffer's backpressure rule allows it:
 *                        a client that never reads costs us at most one buffer.
 * The loops only decide *when* to call conn_on_readable / conn_on_writable; what happens inside
 * (short reads and writes, EAGAIN, half-close, resets) is the same for every server. echo-uring
 * keeps its connections here too (conn_new, conn_close, the buffer) but does its own I/O.
 */
#ifndef MUXBENCH_CONN_H
#define MUXBENCH_CONN_H

#include "connbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn {
	struct conn *prev, *next; /* every open connection, so that conn_close_all() can find them */
	int fd;		/* or, with direct set, a slot of echo-uring's registered file table */
	bool direct;	/* conn_new_direct(): no descriptor of ours; the ring closes the slot */
	bool eof;	/* the peer shut down its side: flush what is pending, then close */
	uint32_t loop_state; /* free for the loop: interest currently armed, queue membership, ... */
	size_t loop_slot;    /* free for the loop: the connection's index in its own arrays */
	uint32_t loop_count; /* free for the loop: a count it keeps per connection */
	struct connbuf buf;  /* its data is the storage below */
	char storage[];
};

enum conn_rc {
	CONN_AGAIN = 0,	 /* the syscall would block (or nothing more to do now): wait for readiness */
	CONN_MORE = 1,	 /* made progress; the socket may have more */
	CONN_CLOSE = -1, /* done (peer closed, reset or error): call conn_close() */
};

/* Takes ownership of a connected socket; counts it as open. NULL on ENOMEM: the fd is closed and
 * the refusal counted in accept_errors (the connection was accepted but never opened). */
struct conn *conn_new(int fd, uint32_t cap);
/* The same for a socket that is a slot of an io_uring's registered file table (echo-uring
 * --fixed-files): conn_close() then counts and frees it but closes nothing, since the slot is
 * closed through the ring (and the slot's number as an fd is someone else's). NULL on ENOMEM,
 * counted; the caller closes the slot. */
struct conn *conn_new_direct(int slot, uint32_t cap);
/* Closes the socket (unless it is direct), counts it, frees the connection. */
void conn_close(struct conn *c);
/* At exit: closes every connection still open (so that nothing leaks, and LeakSanitizer agrees). */
void conn_close_all(void);

/* Read once; if output was not already pending, write back at once (the common case: one read, one
 * write per request). Returns CONN_AGAIN when the read found nothing, CONN_MORE after data. */
enum conn_rc conn_on_readable(struct conn *c);
/* Write the pending output once. CONN_MORE when it all went (the connection may read again). */
enum conn_rc conn_on_writable(struct conn *c);

/* One readiness report, as level-triggered loops get them: write the pending output if the socket
 * is writable, then read once if it is readable (ERR/HUP count as both: the syscall will say what
 * happened). False when the connection is done: the caller closes it. */
bool conn_serve(struct conn *c, bool readable, bool writable);

static inline bool conn_wants_write(const struct conn *c)
{
	return connbuf_pending(&c->buf) > 0;
}

static inline bool conn_wants_read(const struct conn *c)
{
	return !c->eof && connbuf_wants_read(&c->buf);
}

#endif
