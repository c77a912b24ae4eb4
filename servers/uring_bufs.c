/* uring_bufs.c - echo-uring's provided-buffer ring (uring_bufs.h): register it, hand buffers back,
 * hold in order what a connection cannot take yet, and queue the connections that found it dry. */
#include "uring_bufs.h"

#include "sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum {
	BUF_COUNT = 512,     /* a power of two */
	BUF_SIZE_MAX = 4096, /* each buffer */
	NONE = 0xffff,	     /* no buffer */
};

/* Per fd, all zero to begin with (calloc: pages of fds never used are never touched). */
struct held {
	uint32_t bytes;	     /* in the ring buffers it holds; 0: it holds none */
	uint16_t head, tail; /* those buffers, oldest first (when bytes > 0) */
	int next_starved;    /* in the queue of starved connections: the next fd + 1, or 0 */
	bool starved;
};

static struct io_uring_buf_ring *br;
static char *bufs;
static uint32_t buf_size;
static uint16_t buf_len[BUF_COUNT], buf_next[BUF_COUNT]; /* of held buffers: bytes, next held */
static unsigned buffers_out;				 /* taken by the kernel, not yet returned */
static struct held *held;				 /* by fd */
static int starved_head = -1, starved_tail = -1;

static char *buf_at(uint16_t bid)
{
	return bufs + (size_t)bid * buf_size;
}

uint32_t bufs_init(struct io_uring *ring, uint32_t buffer, size_t max_fds, int *rc)
{
	buf_size = buffer < BUF_SIZE_MAX ? buffer : BUF_SIZE_MAX;
	size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
	br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = malloc((size_t)BUF_COUNT * buf_size);
	held = calloc(max_fds, sizeof *held);
	if (br == MAP_FAILED || !bufs || !held) {
		fprintf(stderr, "echo-uring: buffer ring memory: %s\n", strerror(errno));
		exit(1);
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)br, .ring_entries = BUF_COUNT, .bgid = BUFS_GROUP};
	/* Test hook (tests/uring/test_setup.sh): a count that is not a power of two, which every
	 * kernel refuses with EINVAL: the path where our own parameters are wrong must fail. */
	if (getenv("MUXBENCH_TEST_URING_BAD_BUF_RING"))
		reg.ring_entries = BUF_COUNT - 1;
	sys_counted(SYS_IO_URING_REGISTER);
	if ((*rc = io_uring_register_buf_ring(ring, &reg, 0)) != 0)
		return 0;
	io_uring_buf_ring_init(br);
	for (uint16_t bid = 0; bid < BUF_COUNT; bid++)
		io_uring_buf_ring_add(br, buf_at(bid), buf_size, bid, io_uring_buf_ring_mask(BUF_COUNT),
				      bid);
	io_uring_buf_ring_advance(br, BUF_COUNT);
	return buf_size;
}

void bufs_exit(void)
{
	free(held);
	free(bufs);
	munmap(br, BUF_COUNT * sizeof(struct io_uring_buf));
}

static void buffer_return(uint16_t bid)
{
	io_uring_buf_ring_add(br, buf_at(bid), buf_size, bid, io_uring_buf_ring_mask(BUF_COUNT), 0);
	io_uring_buf_ring_advance(br, 1); /* visible to the kernel now: a store and a release */
	buffers_out--;
}

void bufs_received(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move)
{
	struct held *h = &held[fd];
	buffers_out++;
	if (h->bytes == 0 && connbuf_append(b, buf_at(bid), n, may_move)) {
		buffer_return(bid);
		return;
	}
	buf_len[bid] = (uint16_t)n;
	buf_next[bid] = NONE;
	if (h->bytes > 0)
		buf_next[h->tail] = bid;
	else
		h->head = bid;
	h->tail = bid;
	h->bytes += n;
}

void bufs_take_held(int fd, struct connbuf *b)
{
	struct held *h = &held[fd];
	while (h->bytes > 0) {
		uint16_t bid = h->head;
		if (!connbuf_append(b, buf_at(bid), buf_len[bid], true))
			return;
		h->bytes -= buf_len[bid];
		h->head = buf_next[bid];
		buffer_return(bid);
	}
}

uint32_t bufs_held(int fd)
{
	return held[fd].bytes;
}

void bufs_starved(int fd)
{
	held[fd].starved = true;
	held[fd].next_starved = 0;
	if (starved_tail >= 0)
		held[starved_tail].next_starved = fd + 1;
	else
		starved_head = fd;
	starved_tail = fd;
}

/* No buffer coming back must leave a starved connection waiting while buffers sit free, so the
 * count is of the buffers free now, not of those returned since. */
void bufs_rearm_starved(void (*rearm)(int fd))
{
	for (unsigned n = BUF_COUNT - buffers_out; starved_head >= 0 && n > 0; n--) {
		int fd = starved_head;
		if ((starved_head = held[fd].next_starved - 1) < 0)
			starved_tail = -1;
		held[fd].starved = false;
		rearm(fd);
	}
}

void bufs_forget(int fd)
{
	struct held *h = &held[fd];
	if (h->starved) { /* rare: unlink it from the queue */
		int prev = -1;
		for (int at = starved_head; at != fd; at = held[at].next_starved - 1)
			prev = at;
		if (prev >= 0)
			held[prev].next_starved = h->next_starved;
		else
			starved_head = h->next_starved - 1;
		if (starved_tail == fd)
			starved_tail = prev;
	}
	while (h->bytes > 0) {
		uint16_t bid = h->head;
		h->bytes -= buf_len[bid];
		h->head = buf_next[bid];
		buffer_return(bid);
	}
	*h = (struct held){0};
}
