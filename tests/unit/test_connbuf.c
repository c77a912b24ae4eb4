/* test_connbuf.c - the echo buffer on its own, no sockets: room and tail room, append, consume
 * (back to an empty buffer once all went), the backpressure rule, and when each compaction moves
 * the pending output (make_room: only when the front is the larger room; reserve: when the tail
 * is short; append: only if allowed and only if that makes the bytes fit). The bytes must stay in
 * order through every move. */
#include "check.h"
#include "connbuf.h"

#include <stdio.h>
#include <string.h>

enum { CAP = 100 };

static char storage[CAP];

static struct connbuf fresh(void)
{
	struct connbuf b;
	memset(storage, 0, sizeof storage);
	connbuf_init(&b, storage, CAP);
	return b;
}

/* Puts pending output data[off, len) in place, bytes 'a', 'b', ... from off on. */
static struct connbuf with_pending(uint32_t off, uint32_t len)
{
	struct connbuf b = fresh();
	for (uint32_t i = off; i < len; i++)
		storage[i] = (char)('a' + (i - off) % 26);
	b.off = off;
	b.len = len;
	return b;
}

static void check_pending_intact(const struct connbuf *b, uint32_t n)
{
	ASSERT_EQ(connbuf_pending(b), n);
	for (uint32_t i = 0; i < n; i++)
		ASSERT_EQ(connbuf_out(b)[i], (char)('a' + i % 26));
}

static void test_empty(void)
{
	struct connbuf b = fresh();
	ASSERT_EQ(connbuf_pending(&b), 0);
	ASSERT_EQ(connbuf_tail_room(&b), CAP);
	ASSERT_TRUE(connbuf_tail(&b) == storage);
	ASSERT_TRUE(connbuf_wants_read(&b));
}

/* A read straight into the tail, then a short write and the rest: off and len go back to 0. */
static void test_fill_consume(void)
{
	struct connbuf b = fresh();
	memcpy(connbuf_tail(&b), "hello", 5);
	connbuf_filled(&b, 5);
	ASSERT_EQ(connbuf_pending(&b), 5);
	ASSERT_EQ(connbuf_tail_room(&b), CAP - 5);
	ASSERT_TRUE(memcmp(connbuf_out(&b), "hello", 5) == 0);
	connbuf_consume(&b, 2); /* a short write */
	ASSERT_EQ(b.off, 2);
	ASSERT_TRUE(memcmp(connbuf_out(&b), "llo", 3) == 0);
	connbuf_consume(&b, 3);
	ASSERT_EQ(b.off, 0);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(connbuf_tail_room(&b), CAP);
}

/* Reading stops exactly when the pending output reaches cap, wherever it sits. */
static void test_backpressure_rule(void)
{
	struct connbuf b = with_pending(0, CAP - 1);
	ASSERT_TRUE(connbuf_wants_read(&b));
	b = with_pending(0, CAP);
	ASSERT_TRUE(!connbuf_wants_read(&b));
	ASSERT_EQ(connbuf_tail_room(&b), 0);
	b = with_pending(30, CAP); /* no tail room, but below cap: reading may go on after a move */
	ASSERT_TRUE(connbuf_wants_read(&b));
	ASSERT_EQ(connbuf_tail_room(&b), 0);
}

/* make_room moves only when the room before the pending output is larger than the room behind. */
static void test_make_room(void)
{
	struct connbuf b = with_pending(10, 80); /* front 10, tail 20: stays */
	connbuf_make_room(&b);
	ASSERT_EQ(b.off, 10);
	b = with_pending(20, 80); /* front 20, tail 20: equal, stays */
	connbuf_make_room(&b);
	ASSERT_EQ(b.off, 20);
	b = with_pending(21, 80); /* front 21, tail 20: moves */
	connbuf_make_room(&b);
	ASSERT_EQ(b.off, 0);
	ASSERT_EQ(connbuf_tail_room(&b), CAP - 59);
	check_pending_intact(&b, 59);
	b = with_pending(30, CAP); /* no tail room at all: moves */
	connbuf_make_room(&b);
	ASSERT_EQ(b.off, 0);
	check_pending_intact(&b, 70);
	b = fresh(); /* nothing pending: nothing to do */
	connbuf_make_room(&b);
	ASSERT_EQ(b.len, 0);
}

/* reserve moves only when the tail is short of what is asked and there is room at the front. */
static void test_reserve(void)
{
	struct connbuf b = with_pending(5, 60); /* tail 40 */
	connbuf_reserve(&b, 40);
	ASSERT_EQ(b.off, 5);
	connbuf_reserve(&b, 41);
	ASSERT_EQ(b.off, 0);
	check_pending_intact(&b, 55);
	b = with_pending(0, 90); /* short, but nothing in front to give */
	connbuf_reserve(&b, 50);
	ASSERT_EQ(b.len, 90);
	check_pending_intact(&b, 90);
}

static void test_append(void)
{
	struct connbuf b = with_pending(40, 90); /* tail 10, front 40 */
	char in[60];
	memset(in, 'z', sizeof in);
	ASSERT_TRUE(connbuf_append(&b, in, 10, false)); /* fits at the tail: no move */
	ASSERT_EQ(b.off, 40);
	ASSERT_EQ(b.len, CAP);
	ASSERT_TRUE(!connbuf_append(&b, in, 1, false)); /* no room, and moving is not allowed */
	ASSERT_EQ(b.off, 40);
	ASSERT_EQ(b.len, CAP);
	ASSERT_TRUE(!connbuf_append(&b, in, 41, true)); /* would exceed cap even after a move: no move */
	ASSERT_EQ(b.off, 40);
	ASSERT_TRUE(connbuf_append(&b, in, 40, true)); /* fits after a move: exactly full */
	ASSERT_EQ(b.off, 0);
	ASSERT_EQ(b.len, CAP);
	ASSERT_EQ(connbuf_pending(&b), CAP);
	for (uint32_t i = 0; i < 50; i++) /* the old bytes first, in order */
		ASSERT_EQ(connbuf_out(&b)[i], (char)('a' + i % 26));
	for (uint32_t i = 50; i < CAP; i++)
		ASSERT_EQ(connbuf_out(&b)[i], 'z');
	ASSERT_TRUE(!connbuf_wants_read(&b));
}

static void test_compact(void)
{
	struct connbuf b = with_pending(33, 66);
	connbuf_compact(&b);
	ASSERT_EQ(b.off, 0);
	ASSERT_EQ(b.len, 33);
	check_pending_intact(&b, 33);
	connbuf_compact(&b); /* at the front already: unchanged */
	ASSERT_EQ(b.len, 33);
	check_pending_intact(&b, 33);
}

int main(void)
{
	test_empty();
	test_fill_consume();
	test_backpressure_rule();
	test_make_room();
	test_reserve();
	test_append();
	test_compact();
	puts("connbuf: ok");
	return 0;
}
