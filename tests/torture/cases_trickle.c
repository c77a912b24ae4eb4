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
 * it writes, reading nothing, until the server holds, by its own stats (bytes_in - bytes_out),
 * output it cannot send, then fills the server's buffer to just under its cap; then every trickling
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

struct state {
	uint64_t in;  /* what the server has read of c */
	int64_t held; /* what it owes c */
};

static struct state state_now(struct server *s, const struct conn *c, struct counts base)
{
	struct counts k = counts_now(s);
	struct state st = {k.in - base.in, (int64_t)(k.in - k.out) - (int64_t)(base.in - base.out)};
	if (getenv("TORTURE_DEBUG") != NULL)
		fprintf(stderr, "conn #%u: tx %llu rx %llu, server read %llu, holds %lld\n", c->id,
			(unsigned long long)c->tx, (unsigned long long)c->rx, (unsigned long long)st.in,
			(long long)st.held);
	if (st.held > (int64_t)TR_CAP)
		FAIL("trickle conn #%u: the server holds %lld B of its output, more than --buffer (%u "
		     "B): it read past its cap (%llu of %llu B read)",
		     c->id, (long long)st.held, TR_CAP, (unsigned long long)st.in,
		     (unsigned long long)c->tx);
	return st;
}

/* Wait until the server's counts for c stay put for 30 ms: it has read what it will read. */
static struct state settle(struct server *s, const struct conn *c, struct counts base,
			   int64_t deadline)
{
	struct state prev = {UINT64_MAX, -1};
	for (;;) {
		struct state st = state_now(s, c, base);
		if (st.in == prev.in && st.held == prev.held)
			return st;
		if (deadline_left(deadline) == 0)
			FAIL("premise: trickle conn #%u: the server read %llu of %llu B and did not settle "
			     "within %d ms",
			     c->id, (unsigned long long)st.in, (unsigned long long)c->tx, TR_SETUP_MS);
		prev = st;
		sleep_ms(30);
	}
}

/* Bring client c to the state above. base: the server's counts before this client wrote. Returns
 * what the server holds of c's output.
 *
 * Reading nothing, the client writes 8 KiB at a time until the server owes it output (the path
 * to the client is full: with a 536-byte MSS, some tens of KiB), then fills the server's buffer to
 * just under its cap, so that its tail is nearly full while a send is in flight. A server that
 * stops reading short of its cap (echo-uring's limited recv needs a ring buffer's room) leaves the
 * last bytes unread, in the kernel, where they belong. A server that held a received byte anywhere
 * but in its own buffer would show it here as more than --buffer owed: bytes_in counts it. */
static int64_t hold_output(struct server *s, struct conn *c, struct counts base)
{
	int64_t deadline = deadline_in(TR_SETUP_MS);
	struct state st = settle(s, c, base, deadline);
	for (;;) {
		while (st.held <= 0) {
			conn_pump_write(c, c->tx + 8 * KiB);
			st = settle(s, c, base, deadline);
		}
		if (st.held < (int64_t)TR_CAP - 64) {
			conn_pump_write(c, c->tx + (uint64_t)((int64_t)TR_CAP - 64 - st.held));
			st = settle(s, c, base, deadline);
		}
		if (st.held > 0)
			break;
		/* What it owed went out after all (the path was not full yet): go on filling. */
		if (deadline_left(deadline) == 0)
			FAIL("premise: trickle conn #%u: the server never owed it output for long in %d ms",
			     c->id, TR_SETUP_MS);
	}
	return st.held;
}

void case_trickle(const struct target *t)
{
	if (t->caps.serial)
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
		/* The base once the server is quiet: a request the capacity probe's loadgen abandoned
		 * may still be echoed into a closed socket just after it. */
		struct counts base = counts_now(&r.s), again;
		for (;;) {
			sleep_ms(30);
			again = counts_now(&r.s);
			if (again.in == base.in && again.out == base.out)
				break;
			base = again;
		}
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
	uint64_t trickled = 0, held_back = 0;
	int64_t held_peak = 0;
	int64_t next = now_ms();
	for (int tick = 0;; tick++) {
		if ((pid_t)SYS(waitpid(lgpid, &status, WNOHANG)) == lgpid)
			break;
		for (size_t i = 0; i < TR_N; i++) {
			/* A byte that does not go out is backpressure, not a fault: a server at its cap
			 * stops reading, and each 1-byte segment costs a whole buffer's overhead on the
			 * way (the client's send buffer is small and pinned). */
			if (conn_pump_write(&tc[i], tc[i].tx + 1) == 1)
				trickled++;
			else
				held_back++;
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
	run_figure(&r, "%d clients owed %lld-%lld B each, then %llu bytes trickled (%llu held back by "
		   "backpressure); normal clients at %s req/s (capacity %.0f): %llu requests, 0 errors, "
		   "0 starved, p99 %.0fus; held peak %.1f KiB <= %.1f KiB (%d x cap)",
		   TR_N, (long long)held_min, (long long)held_max, (unsigned long long)trickled,
		   (unsigned long long)held_back, rate,
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
