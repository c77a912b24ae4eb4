/* cases_io.c - odd_sizes: writes of sizes a benchmark never makes, all echoed exactly.
 *
 * Four parts on fresh connections, every byte checked against the per-connection pattern (a
 * lost, duplicated or reordered byte fails with its offset):
 *  - 0-byte writes: send(fd, buf, 0) moves nothing on TCP; the server must not take the empty
 *    call for anything (EOF, error), so 1-byte rounds interleaved with them all come back;
 *  - 1-byte writes: 500 rounds of one byte, each echoed before the next (one request per byte);
 *  - 16 MiB single writes: each send() hands the kernel everything that is left of a 16 MiB
 *    buffer (it takes what fits), read back concurrently, three times over;
 *  - random sizes (1 B..256 KiB) with random pauses (0..5 ms) on 8 connections at once, 4 MiB
 *    each. The seed is printed, so a failure can be replayed.
 * blocking-iterative serves one connection at a time, so its 8 random connections run in turn.
 * Memory is judged too: the server's peak RSS growth over the case must stay below 8 MiB, half
 * of one 16 MiB write, so a server that buffers what a client sends in one call, or lets a
 * per-connection buffer grow with the request, fails here.
 */
#include "torture.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BIG (16u * MiB)
#define NRAND 8
#define RAND_TOTAL (4u * MiB)
#define RAND_MAX_WRITE (256u * KiB)
#define RAND_MAX_PAUSE_MS 5
#define ODD_RSS_MAX_KB (8 * 1024)

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64: reproducible from the printed seed, no libc state shared with anything. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void zero_and_one(const struct server *s)
{
	struct conn c;
	conn_open(&c, s->port, 1, deadline_in(5000));
	for (int i = 0; i < 100; i++) {
		ssize_t n = send(c.fd, "", 0, MSG_NOSIGNAL);
		if (n != 0)
			FAIL("send of 0 bytes returned %zd (%s)", n, n < 0 ? strerror(errno) : "?");
		echo_round(&c, 1, 1, 0, deadline_in(5000));
	}
	for (int i = 0; i < 500; i++)
		echo_round(&c, 1, 1, 0, deadline_in(5000));
	conn_close(&c);
}

/* One connection, `rounds` times: 16 MiB offered to each send() (what is left of it), read back
 * at the same time. */
static void big_writes(const struct server *s, int rounds)
{
	uint8_t *buf = malloc(BIG);
	if (buf == NULL)
		FAIL("malloc(16 MiB) failed");
	struct conn c;
	conn_open(&c, s->port, 2, deadline_in(5000));
	int64_t deadline = deadline_in(30000);
	for (int k = 0; k < rounds; k++) {
		uint64_t base = c.tx, end = c.tx + BIG;
		pattern_fill(c.id, base, buf, BIG);
		int64_t last = now_ms();
		while (c.rx < end) {
			struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
			if (c.tx < end)
				pfd.events |= POLLOUT;
			int r = poll(&pfd, 1, deadline_left(deadline));
			if (r == -1 && errno == EINTR)
				continue;
			SYS(r);
			if (r == 0 || now_ms() - last > ECHO_STALL_MS)
				FAIL("16 MiB write #%d: sent %llu, echoed %llu of %llu", k + 1,
				     (unsigned long long)c.tx, (unsigned long long)c.rx,
				     (unsigned long long)end);
			if (pfd.revents & POLLOUT) {
				ssize_t n = send(c.fd, buf + (c.tx - base), (size_t)(end - c.tx),
						 MSG_NOSIGNAL);
				if (n > 0) {
					c.tx += (uint64_t)n;
					last = now_ms();
				} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
					FAIL("send of 16 MiB at %llu: %s", (unsigned long long)c.tx,
					     strerror(errno));
				}
			}
			if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
				if (conn_pump_read(&c) > 0)
					last = now_ms();
				if (c.eof)
					FAIL("EOF after %llu of %llu bytes", (unsigned long long)c.rx,
					     (unsigned long long)end);
			}
		}
	}
	conn_close(&c);
	free(buf);
}

/* n connections at once, each RAND_TOTAL bytes in writes of random size with random pauses. */
static void random_writes(const struct server *s, uint32_t first_id, size_t n)
{
	struct conn c[NRAND];
	uint64_t goal[NRAND];	 /* end of the write in progress */
	int64_t next_at[NRAND]; /* when the next write may start */
	struct pollfd pfd[NRAND];
	conn_open_many(c, n, s->port, first_id, deadline_in(5000));
	for (size_t i = 0; i < n; i++) {
		goal[i] = 0;
		next_at[i] = now_ms();
	}
	int64_t deadline = deadline_in(30000), last = now_ms();
	for (;;) {
		int64_t now = now_ms(), wake = deadline;
		size_t live = 0;
		for (size_t i = 0; i < n; i++) {
			if (c[i].rx == RAND_TOTAL)
				continue;
			live++;
			if (c[i].tx == goal[i] && c[i].tx < RAND_TOTAL && now >= next_at[i]) {
				uint64_t size = 1 + rng() % RAND_MAX_WRITE;
				goal[i] = c[i].tx + size < RAND_TOTAL ? c[i].tx + size : RAND_TOTAL;
			}
			short ev = POLLIN;
			if (c[i].tx < goal[i])
				ev |= POLLOUT;
			else if (c[i].tx < RAND_TOTAL && next_at[i] < wake)
				wake = next_at[i];
			pfd[i] = (struct pollfd){.fd = c[i].fd, .events = ev};
		}
		if (live == 0)
			break;
		for (size_t i = 0; i < n; i++)
			if (c[i].rx == RAND_TOTAL)
				pfd[i].fd = -1;
		int r = poll(pfd, (nfds_t)n, deadline_left(wake));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (deadline_left(deadline) == 0 || now_ms() - last > ECHO_STALL_MS)
			FAIL("random writes stalled or timed out (conn #%u: sent %llu, echoed %llu)",
			     c[0].id, (unsigned long long)c[0].tx, (unsigned long long)c[0].rx);
		for (size_t i = 0; i < n; i++) {
			if (pfd[i].fd < 0)
				continue;
			if ((pfd[i].revents & POLLOUT) && conn_pump_write(&c[i], goal[i]) > 0) {
				last = now_ms();
				if (c[i].tx == goal[i])
					next_at[i] = now_ms() + (int64_t)(rng() % (RAND_MAX_PAUSE_MS + 1));
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (conn_pump_read(&c[i]) > 0)
					last = now_ms();
				if (c[i].eof)
					FAIL("conn #%u: EOF after %llu of %u bytes", c[i].id,
					     (unsigned long long)c[i].rx, RAND_TOTAL);
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		conn_close(&c[i]);
}

void case_odd_sizes(const struct target *t)
{
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	rng_state = seed | 1;
	note("random seed %llu", (unsigned long long)seed);
	struct run r;
	run_start(&r, t, NULL);
	zero_and_one(&r.s);
	big_writes(&r.s, 3);
	if (t->caps.serial) {
		for (uint32_t i = 0; i < NRAND; i++)
			random_writes(&r.s, 100 + i, 1);
	} else {
		random_writes(&r.s, 100, NRAND);
	}
	normal_client(&r.s, 1000, "after the odd sizes");
	run_figure(&r, "100 x 0 B, 600 x 1 B, 3 x 16 MiB, 8 x 4 MiB random (seed %llu): all echoed",
		   (unsigned long long)seed);
	long rss_kb = peak_rss_growth_kb(&r);
	if (rss_kb >= ODD_RSS_MAX_KB)
		FAIL("peak RSS grew %.1f MiB over the case (>= %d MiB): a 16 MiB write was buffered",
		     rss_kb / 1024.0, ODD_RSS_MAX_KB / 1024);
	run_finish(&r, "odd_sizes", t);
}
