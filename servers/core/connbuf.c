/* connbuf.c - the echo buffer (connbuf.h): room, compaction and the backpressure rule, once. */
#include "connbuf.h"

#include "plant.h"

#include <string.h>

void connbuf_consume(struct connbuf *b, uint32_t n)
{
	plant_work(); /* plant.h: nothing, unless this build plants more work per request */
	b->off += n;
	if (b->off == b->len) /* all went: the whole buffer is room again, nothing to move later */
		b->off = b->len = 0;
}

void connbuf_compact(struct connbuf *b)
{
	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

void connbuf_reserve(struct connbuf *b, uint32_t need)
{
	if (connbuf_tail_room(b) < need)
		connbuf_compact(b);
}

/* Under backpressure the pending output sits at an offset, and a read into only the tail room takes
 * a sliver of the next request and leaves the rest for a second read: two syscalls and two
 * `requests` for one. Compacting when the front is the larger room at least doubles what the read
 * is offered. The cost is bounded: the bytes moved (the pending output, len - off) are fewer than
 * cap - 2 * (cap - len), so a large move happens only when the tail room is nearly gone and the
 * read would otherwise get almost nothing; at most one move per read; and only while output is
 * pending (off > 0 only then: consuming everything resets off and len), i.e. only under
 * backpressure. (Compacting only once the buffer was full, cap == len, made moves as large, each
 * after a read spent on the tail's sliver.) */
void connbuf_make_room(struct connbuf *b)
{
	connbuf_reserve(b, b->off); /* the room at the front: compact when it is the larger */
}

bool connbuf_append(struct connbuf *b, const void *src, uint32_t n, bool may_move)
{
	if (connbuf_tail_room(b) < n && may_move && connbuf_pending(b) + n <= b->cap)
		connbuf_compact(b);
	if (connbuf_tail_room(b) < n)
		return false;
	memcpy(connbuf_tail(b), src, n);
	b->len += n;
	return true;
}
