/* cases_memory.c - never_read: clients that write and never read cannot make the server buffer
 * without bound.
 *
 * 200 connections each write until they stall (up to 32 MiB) and read nothing. A correct server
 * stops reading a connection once its pending output reaches the cap (--buffer, 16 KiB): TCP flow
 * control then stalls each writer once the socket buffers on the path fill (they autotune to
 * several MiB: that memory is the kernel's, not the server's). What the server itself holds
 * (bytes_in - bytes_out in its stats) is then at most 200 x cap, and its RSS growth stays below
 * that plus 8 MiB for everything else (threads' stacks, allocator slack). A server that keeps
 * reading (or grows its buffer) takes in far more and blows both bounds. While the 200 sit
 * stalled a normal client must still be served, and again after they reset away.
 *
 * blocking-iterative is n/a: it serves one connection at a time, so the premise "others are
 * served while 200 hold on" cannot hold for it by design.
 */
#include "torture.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#define NR_CONNS 200
/* The 4 MiB per connection fits in the kernel's socket buffers on this machine (tcp_wmem
 * max 4 MiB on the server's send side alone, tcp_rmem max 32 MiB): the server would never reach
 * its cap and a server without one would pass. So each client writes until it stalls, up to this
 * much; the stall, not the amount, is the point. */
#define NR_BYTES (32ull * MiB)
#define NR_CAP (16u * KiB) /* the servers' default --buffer, passed explicitly below */
#define NR_SLACK_KB (8 * 1024)
#define NR_CLIENT_BUF (64 * 1024) /* pinned, so the client's own socket memory stays modest */
#define NR_STALL_MS 500

/* Write on every connection until each has written NR_BYTES or none moved for NR_STALL_MS.
 * Returns the bytes written in total. */
static uint64_t write_until_stall(struct conn *c, size_t n, int64_t deadline)
{
	struct pollfd *pfd = xcalloc(n, sizeof *pfd);
	int64_t last = now_ms();
	uint64_t total = 0;
	for (;;) {
		nfds_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i].tx < NR_BYTES)
				pfd[m++] = (struct pollfd){.fd = c[i].fd, .events = POLLOUT};
		if (m == 0)
			break;
		int64_t stall_at = last + NR_STALL_MS;
		int r = poll(pfd, m, deadline_left(stall_at < deadline ? stall_at : deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		for (size_t i = 0; i < n; i++) {
			size_t w = c[i].tx < NR_BYTES ? conn_pump_write(&c[i], NR_BYTES) : 0;
			total += w;
			if (w > 0)
				last = now_ms();
		}
		if (now_ms() >= last + NR_STALL_MS)
			break;
		if (deadline_left(deadline) == 0)
			FAIL("writes neither stalled nor finished by the deadline (%llu bytes)",
			     (unsigned long long)total);
	}
	free(pfd);
	return total;
}

void case_never_read(const struct target *t)
{
	if (t->caps.serial)
		NA("serves one connection at a time: nobody else is served while one holds on");
	static const char *const more[] = {"--buffer", "16KiB", NULL};
	struct server_opts o = {.more_args = more};
	struct run r;
	run_start(&r, t, &o);
	normal_client(&r.s, 1, "before");

	struct conn *c = xcalloc(NR_CONNS, sizeof *c);
	for (size_t i = 0; i < NR_CONNS; i++)
		conn_open_buf(&c[i], r.s.port, 100 + (uint32_t)i, NR_CLIENT_BUF, deadline_in(5000));
	uint64_t written = write_until_stall(c, NR_CONNS, deadline_in(30000));
	size_t done = 0;
	for (size_t i = 0; i < NR_CONNS; i++)
		done += c[i].tx == NR_BYTES;
	note("%zu connections wrote %.1f MiB in all and stalled; %zu finished all 32 MiB",
	     (size_t)NR_CONNS, (double)written / MiB, done);

	normal_client(&r.s, 2, "while 200 never read");
	long growth = peak_rss_growth_kb(&r);
	long bound = (long)NR_CONNS * NR_CAP / 1024 + NR_SLACK_KB;
	run_figure(&r,
		   "rss growth %.1f MiB <= %.1f MiB (200 x 16 KiB + 8 MiB); %.0f MiB taken before "
		   "the stall",
		   (double)growth / 1024, (double)bound / 1024, (double)written / MiB);
	if (done == NR_CONNS)
		FAIL("all 200 connections wrote 32 MiB without a stall: the server never stopped reading");
	if (growth > bound)
		FAIL("peak RSS grew %ld kB with 200 clients that never read, bound %ld kB "
		     "(200 x %u KiB cap + 8 MiB); the server took %.0f MiB",
		     growth, bound, NR_CAP / 1024, (double)written / MiB);
	/* What the server itself holds: read from the clients but not yet written back. (The
	 * kernel's socket buffers, which autotune to several MiB each, absorb most of what was
	 * written; that memory is not the server's and not in its RSS.) The normal client's
	 * connection must be gone from the server first: until the server has closed it, it may
	 * hold up to one more cap, and echo-blocking's threads are counted on the fly, so its last
	 * write can already be in our hands while its bytes_out += n is not yet done (a CI run on a
	 * slow machine: held 3,292,071 B, the 200 x cap plus 15,271 B, that connection's last
	 * read). The server closes a connection after it has counted its last write. */
	uint64_t open = server_wait_stat(&r.s, "conns", NR_CONNS, 5000);
	if (open != NR_CONNS)
		FAIL("the server has %llu connections open, not the %u that never read: the normal "
		     "client's was not closed within 5 s",
		     (unsigned long long)open, NR_CONNS);
	char *snap = server_snapshot(&r.s);
	uint64_t held = stats_u64(snap, "bytes_in") - stats_u64(snap, "bytes_out");
	free(snap);
	run_figure(&r, "held %.1f MiB <= %.1f MiB (200 x cap)", (double)held / MiB,
		   (double)NR_CONNS * NR_CAP / MiB);
	if (held > (uint64_t)NR_CONNS * NR_CAP)
		FAIL("the server holds %llu bytes read but not echoed, more than 200 x %u KiB cap",
		     (unsigned long long)held, NR_CAP / 1024);

	for (size_t i = 0; i < NR_CONNS; i++)
		conn_reset(&c[i]);
	free(c);
	normal_client(&r.s, 3, "after the 200 reset");
	run_finish(&r, "never_read", t);
}
