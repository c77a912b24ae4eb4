/* cases_trickle.c - trickle: clients that stop reading after a partial echo and then send one
 * byte at a time must not pin what the other clients need.
 *
 * The state: the server owes a client output it cannot send (the client stopped reading, the
 * kernel's buffers on the way are full), it has read everything the client sent, and it still has
 * room under --buffer, so it goes on reading from that client. Each 1-byte segment is then one
 * receive. A server whose receive buffers are shared (echo-uring's provided-buffer ring: a
 * completion takes a whole 4 KiB ring buffer whatever it carries) and that cannot copy such a
 * byte into the connection's own buffer while a send is in flight holds one shared buffer per
 * byte: twenty clients trickling for a few seconds hold all 512, and every other connection
 * starves. The same class of fault in any server: a per-connection resource whose use one client
 * controls by the size of its segments.
 *
 * Set-up, per trickling client (one at a time, so the server's global counts are that client's):
 * it writes and reads partial echoes until the server has read all of it and holds, by its own
 * stats (bytes_in - bytes_out), some output it cannot send, below its cap; then every trickling
 * client sends a byte each 10 ms for 5 s while the loadgen's 50 connections echo at a fixed
 * rate (2% of the machine's capacity, at most 2k req/s). Judged: the loadgen's run has no error
 * and no starved connection; what the server holds stays within 20 x cap plus the loadgen's
 * requests in flight, and its RSS growth within that plus 8 MiB; afterwards every trickling
 * client reads its whole stream back, verified byte for byte.
 *
 * blocking-iterative is n/a: it serves one connection at a time, so the others are never served
 * while one holds it, by design.
 */
#include "torture.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TR_N 20
#define TR_CAP (16u * KiB) /* the servers' default --buffer */
#define TR_CLIENT_BUF 4096 /* pinned (no autotuning), so the client's side of the path is small */
#define TR_MSS 536	   /* a small MSS keeps the path short: set-up in steps of KiB, not MiB */
#define TR_TICK_MS 10
#define TR_SLACK_KB (8 * 1024)
#define TR_LG_CONNS 50
#define TR_LG_SHARE 0.02
#define TR_LG_RATE_MAX 2000
#define TR_SETUP_MS 20000

struct counts {
	uint64_t in, out;
};

static struct counts counts_now(struct server *s)
{
	char *snap = server_snapshot(s);
	struct counts k = {stats_u64(snap, "bytes_in"), stats_u64(snap, "bytes_out")};
	free(snap);
	return k;
}

/* Bring client c to the state above. base: the server's counts before this client wrote. Returns
 * what the server holds of c's output.
 *
 * The path from the server to the client is about a MiB of kernel buffers, and the kernel wakes a
 * blocked sender only once about a third of its send buffer is free again, so the state is steered
 * to in small steps: first write until the path stalls (the server at its cap, the rest queued in
 * the kernel); then, while the server has not read everything (it stopped at its cap: the path is
 * full, which measures it), read 64 KiB of echo; once it has, and owes nothing, write what fills
 * the path's free room and half the server's buffer (or, before the path is measured, doubling
 * steps from 4 KiB). It ends when the server has read everything and owes between one byte and
 * its cap, and that stays put. */
static int64_t hold_output(struct server *s, struct conn *c, struct counts base)
{
	int64_t deadline = deadline_in(TR_SETUP_MS);
	int64_t last = now_ms();
	while (now_ms() - last < 200) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		if (poll(&pfd, 1, 50) > 0 && conn_pump_write(c, c->tx + 1 * MiB) > 0)
			last = now_ms();
	}
	uint64_t step = 4 * KiB, step_max = 256 * KiB;
	uint64_t path = 0; /* bytes the path to the client holds when full, once measured */
	for (;;) {
		if (deadline_left(deadline) == 0)
			FAIL("premise: trickle conn #%u: in %d ms the server never read all of it while "
			     "owing it output",
			     c->id, TR_SETUP_MS);
		struct counts k = counts_now(s);
		uint64_t in = k.in - base.in;
		int64_t held = (int64_t)(k.in - k.out) - (int64_t)(base.in - base.out);
		if (getenv("TORTURE_DEBUG") != NULL)
			fprintf(stderr, "conn #%u: tx %llu rx %llu, server read %llu, holds %lld\n", c->id,
				(unsigned long long)c->tx, (unsigned long long)c->rx,
				(unsigned long long)in, (long long)held);
		if (held > (int64_t)TR_CAP)
			FAIL("trickle conn #%u: the server holds %lld B of its output, more than --buffer "
			     "(%u B): it read past its cap (%llu of %llu B read)",
			     c->id, (long long)held, TR_CAP, (unsigned long long)in,
			     (unsigned long long)c->tx);
		uint64_t out = k.out - base.out;
		if (in < c->tx) {
			/* The server stopped at its cap, so the path is full: measure it, for the
			 * next approach, then read a partial echo to make room. */
			if (held == (int64_t)TR_CAP && out >= c->rx)
				path = out - c->rx;
			conn_pump_read_to(c, c->rx + 64 * KiB);
			if (step > 4 * KiB) { /* overshot: approach more slowly next time */
				step_max = step_max / 4 > 4 * KiB ? step_max / 4 : 4 * KiB;
				step = 4 * KiB;
			}
		} else if (held > 0 && held < (int64_t)TR_CAP) {
			sleep_ms(100); /* read everything, owes output: does it stay put? */
			struct counts k2 = counts_now(s);
			if (k2.in == k.in && k2.out == k.out)
				return held;
			continue;
		} else if (held == 0 && path > out - c->rx) {
			/* Fill the path's free room and half the server's buffer, in one go. */
			conn_pump_write(c, c->tx + path - (out - c->rx) + TR_CAP / 2);
			path = 0; /* measured again if this overshoots */
		} else if (held == 0) {
			conn_pump_write(c, c->tx + step); /* doubling: the path has up to a MiB free */
			step = step * 2 < step_max ? step * 2 : step_max;
		}
		sleep_ms(2);
	}
}

void torture_trickle(const struct target *t)
{
	if (is_server(t, "blocking-iterative"))
		NA("serves one connection at a time: others are not served while one holds it");
	struct run r;
	run_start(&r, t, NULL);
	double cap = echo_capacity(r.s.port, r.s.dir, TR_LG_CONNS);
	double lg = cap * TR_LG_SHARE < TR_LG_RATE_MAX ? cap * TR_LG_SHARE : TR_LG_RATE_MAX;
	char rate[16];
	snprintf(rate, sizeof rate, "%d", lg > 100 ? (int)lg : 100);

	struct conn tc[TR_N];
	int64_t held_min = INT64_MAX, held_max = 0;
	for (size_t i = 0; i < TR_N; i++) {
		struct counts base = counts_now(&r.s);
		conn_open_narrow(&tc[i], r.s.port, (uint32_t)(1 + i), TR_CLIENT_BUF, TR_MSS,
				 deadline_in(5000));
		int64_t held = hold_output(&r.s, &tc[i], base);
		held_min = held < held_min ? held : held_min;
		held_max = held > held_max ? held : held_max;
	}
	note("premise: %d clients, each owed %lld-%lld B it does not read", TR_N, (long long)held_min,
	     (long long)held_max);

	char json[160];
	snprintf(json, sizeof json, "%s/loadgen.json", r.s.dir);
	const char *const more[] = {"--rate", rate, "--duration", "5s", "--warmup", "500ms", NULL};
	pid_t lgpid = loadgen_start(r.s.port, STR(TR_LG_CONNS), more, json);
	int status;
	uint64_t trickled = 0;
	int64_t held_peak = 0;
	int64_t next = now_ms();
	for (int tick = 0;; tick++) {
		if ((pid_t)SYS(waitpid(lgpid, &status, WNOHANG)) == lgpid)
			break;
		for (size_t i = 0; i < TR_N; i++) {
			if (conn_pump_write(&tc[i], tc[i].tx + 1) != 1)
				FAIL("trickle conn #%u: its 1-byte write did not go out", tc[i].id);
			trickled++;
		}
		if (tick % 50 == 49) { /* every half second: what the server holds */
			int64_t h = server_held(&r.s);
			held_peak = h > held_peak ? h : held_peak;
		}
		next += TR_TICK_MS;
		if (deadline_left(next) > 0)
			sleep_ms(deadline_left(next));
	}
	check_unregister_pid(lgpid);
	char *doc = slurp(json);
	uint64_t reqs = json_u64(doc, "requests"), errs = json_u64(doc, "errors");
	uint64_t starved = json_u64(doc, "starved");
	double p99 = json_latency_us(doc, "p99");
	free(doc);
	SYS(unlink(json));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || errs != 0 || starved != 0 || reqs == 0)
		FAIL("loadgen beside %d trickling clients: wait status 0x%x, %llu requests, %llu errors, "
		     "%llu starved",
		     TR_N, status, (unsigned long long)reqs, (unsigned long long)errs,
		     (unsigned long long)starved);
	const int64_t bound = (int64_t)TR_N * TR_CAP + (int64_t)TR_LG_CONNS * 64;
	long rss = peak_rss_growth_kb(&r);
	run_figure(&r, "%d clients owed %lld-%lld B each, then %llu bytes trickled; normal clients at "
		   "%s req/s (capacity %.0f): %llu requests, 0 errors, 0 starved, p99 %.0fus; held "
		   "peak %.1f KiB <= %.1f KiB (%d x cap)",
		   TR_N, (long long)held_min, (long long)held_max, (unsigned long long)trickled, rate,
		   cap, (unsigned long long)reqs, p99, (double)held_peak / KiB, (double)bound / KiB, TR_N);
	if (held_peak > bound)
		FAIL("the server held %lld B with %d trickling clients, more than %lld (%d x cap)",
		     (long long)held_peak, TR_N, (long long)bound, TR_N);
	if (rss > bound / 1024 + TR_SLACK_KB)
		FAIL("peak RSS grew %ld kB, more than %lld + %d", rss, (long long)(bound / 1024),
		     TR_SLACK_KB);

	/* Every byte of every trickling client comes back, in order. */
	int64_t deadline = deadline_in(20000);
	for (size_t i = 0; i < TR_N; i++) {
		while (tc[i].rx < tc[i].tx) {
			if (deadline_left(deadline) == 0)
				FAIL("trickle conn #%u: %llu of %llu bytes echoed", tc[i].id,
				     (unsigned long long)tc[i].rx, (unsigned long long)tc[i].tx);
			if (tc[i].eof)
				FAIL("trickle conn #%u closed by the server", tc[i].id);
			if (conn_pump_read(&tc[i]) == 0)
				sleep_ms(1);
		}
		conn_close(&tc[i]);
	}
	normal_client(&r.s, 1000, "after the trickle");
	run_finish(&r, "trickle", t);
}
