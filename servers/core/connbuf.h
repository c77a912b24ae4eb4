/* connbuf.h - the echo buffer every server shares: what came in and is still owed to the peer.
 *
 * No syscalls: the readiness loops (conn.c), echo-uring's completions and echo-libuv's callbacks
 * all keep their bytes here, so room, compaction and the backpressure rule are written once.
 *
 * One buffer of cap (--buffer) bytes. Pending output is data[off, len); bytes come in at the tail,
 * data[len, cap), and go out from the front of the pending output. Once everything pending went,
 * off and len return to 0, so an idle connection's whole buffer is tail room again.
 *
 * Backpressure: stop reading once the pending output reaches cap (connbuf_wants_read). A client
 * that never reads then costs one buffer: its own writes stall in the kernel, not in our memory.
 *
 * Bytes being sent by an operation still in flight (an io_uring send, a uv_write) must not move:
 * those callers compact only between sends, which is why moving is a separate, explicit step.
 */
#ifndef MUXBENCH_CONNBUF_H
#define MUXBENCH_CONNBUF_H

#include <stdbool.h>
#include <stdint.h>

struct connbuf {
	char *data;   /* cap bytes, owned by whoever embeds the connbuf */
	uint32_t cap; /* buffer size = the cap on pending output */
	uint32_t off; /* pending output is data[off, len) */
	uint32_t len;
};

static inline void connbuf_init(struct connbuf *b, char *data, uint32_t cap)
{
	*b = (struct connbuf){.data = data, .cap = cap};
}

static inline uint32_t connbuf_pending(const struct connbuf *b)
{
	return b->len - b->off;
}

/* The pending output, to be written or sent. */
static inline char *connbuf_out(const struct connbuf *b)
{
	return b->data + b->off;
}

/* Where the next bytes come in, and how many fit there without moving anything. */
static inline char *connbuf_tail(const struct connbuf *b)
{
	return b->data + b->len;
}

static inline uint32_t connbuf_tail_room(const struct connbuf *b)
{
	return b->cap - b->len;
}

/* The backpressure rule (see the top): read only while the pending output is below cap. */
static inline bool connbuf_wants_read(const struct connbuf *b)
{
	return connbuf_pending(b) < b->cap;
}

/* n bytes were read straight into the tail (n <= connbuf_tail_room()). */
static inline void connbuf_filled(struct connbuf *b, uint32_t n)
{
	b->len += n;
}

/* n bytes of the pending output went out (n <= connbuf_pending()). */
void connbuf_consume(struct connbuf *b, uint32_t n);

/* Moves the pending output to the front of the buffer, making all the room there is at the tail. */
void connbuf_compact(struct connbuf *b);

/* Before a read into the tail: compacts when the room before the pending output is larger than
 * the room behind it (connbuf.c says why this rule and what it costs). */
void connbuf_make_room(struct connbuf *b);

/* Compacts if the tail has fewer than need bytes of room and there is room at the front. */
void connbuf_reserve(struct connbuf *b, uint32_t need);

/* Copies n bytes in if they fit: at the tail, or, when may_move and that makes them fit, after
 * compacting. False (nothing copied, nothing moved) when they do not fit. */
bool connbuf_append(struct connbuf *b, const void *src, uint32_t n, bool may_move);

#endif
