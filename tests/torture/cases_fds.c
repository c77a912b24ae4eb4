/* cases_fds.c - fd pressure: emfile (more clients than the server's RLIMIT_NOFILE) and storm
 * (20,000 connections opened and closed as fast as possible, three ways).
 *
 * emfile runs the server with RLIMIT_NOFILE 256 and opens 400 connections (300 more for each
 * further worker process: each has a limit of its own). The kernel completes every handshake through the listen backlog
 * whether or not the server can accept, so the listener stays readable: a server that just
 * retries accept() at EMFILE spins a core. A correct one sheds the connection (the spare-fd
 * trick) and counts it (accept_emfile). Judged: CPU < 5% of a core over 2 s at the limit; every
 * connection either held or shed, none left in the backlog; each shed counted; the held ones
 * still echoed; recovery (a fresh client served within 3 s of the others leaving) and the fd
 * count back to its idle value.
 *
 * storm opens and closes 20,000 connections per variant in batches: closed at once (FIN), after
 * sending one byte (the server's echo meets a closed socket: EPIPE or RST on its side), and with
 * SO_LINGER 0 (RST, possibly before the server has accepted). Judged: the server survives, its
 * open fd count (all processes) comes back to what it was idle, its "conns" gauge to 0, and a
 * normal client is served midway through each variant and after. A server that loses track of
 * a connection on any of these paths leaks its fd, and 60,000 of them make that plain.
 */
#include "torture.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EMFILE_NOFILE 256
#define EMFILE_CPU_MAX_PCT 5.0

/* 400 clients against one process's RLIMIT_NOFILE; each further worker process has a limit of
 * its own, so 300 more for each (700 against --workers 2). */
static size_t emfile_clients(const struct target *t)
{
	return 400 + 300 * (size_t)(t->caps.workers > 1 ? t->caps.workers - 1 : 0);
}

static bool probe(struct conn *c, int timeout_ms)
{
	/* One byte out; served if it comes back before the timeout. */
	if (conn_pump_write(c, c->tx + 1) != 1)
		return false;
	size_t got = 0;
	conn_wait_closed(c, deadline_in(timeout_ms), &got);
	return got > 0;
}

void case_emfile(const struct target *t)
{
	if (t->caps.serial)
		NA("holds one connection at a time: it never reaches its fd limit");
	if (t->caps.spins)
		NA("spins a core by design: the no-accept-spin CPU bound cannot be told apart");
	const size_t N = emfile_clients(t);
	struct server_opts o = {.nofile = EMFILE_NOFILE};
	struct run r;
	run_start(&r, t, &o);
	struct conn *c = xcalloc(N, sizeof *c);
	conn_open_many(c, N, r.s.port, 1, deadline_in(10000));
	sleep_ms(500); /* let it accept what it can and shed the rest */

	int64_t t0 = now_ms();
	long long cpu0 = proc_tree_cpu_ticks(r.s.pid);
	sleep_ms(2000);
	double pct = cpu_pct_since(r.s.pid, cpu0, t0);
	int fds = proc_tree_count_fds(r.s.pid);
	run_figure(&r, "cpu at the limit %.1f%% < %.0f%% (%d fds open)", pct, EMFILE_CPU_MAX_PCT,
		   fds);
	if (pct >= EMFILE_CPU_MAX_PCT)
		FAIL("server used %.1f%% of a core over 2 s at its fd limit (%d fds open): an "
		     "accept spin",
		     pct, fds);

	size_t shed = 0, held_local = 0;
	struct conn *held = xcalloc(N, sizeof *held);
	for (size_t i = 0; i < N; i++) {
		if (conn_wait_closed(&c[i], now_ms(), NULL) != CLOSED_NOT) {
			shed++;
			conn_close(&c[i]);
		} else {
			held[held_local++] = c[i];
		}
	}
	char *snap = server_snapshot(&r.s);
	uint64_t conns = stats_u64(snap, "conns"), counted = stats_u64(snap, "accept_emfile");
	free(snap);
	run_figure(&r, "%zu held, %zu shed, accept_emfile %llu", held_local, shed,
		   (unsigned long long)counted);
	if (shed == 0)
		FAIL("no connection shed with %zu clients against RLIMIT_NOFILE %d", N, EMFILE_NOFILE);
	if (conns != held_local)
		FAIL("%zu connections neither shed nor held: left in the backlog (server holds "
		     "%llu)",
		     N - shed - (size_t)conns, (unsigned long long)conns);
	if (counted != shed)
		FAIL("%zu connections shed but accept_emfile is %llu", shed,
		     (unsigned long long)counted);

	/* Those it holds are still served at the limit. */
	size_t k = held_local < 20 ? held_local : 20;
	echo_round(held, k, 4 * KiB, 0, deadline_in(10000));

	for (size_t i = 0; i < held_local; i++)
		conn_close(&held[i]);
	free(held);
	free(c);
	int64_t deadline = deadline_in(3000);
	for (uint32_t id = 10000;; id++) {
		struct conn fresh;
		conn_open(&fresh, r.s.port, id, deadline_in(3000));
		bool served = probe(&fresh, deadline_left(deadline));
		conn_close(&fresh);
		if (served)
			break;
		if (deadline_left(deadline) == 0)
			FAIL("no fresh connection served within 3 s of the clients leaving");
		sleep_ms(20);
	}
	normal_client(&r.s, 20000, "after the clients left");
	int after = wait_fds(&r.s, r.idle_fds, 5000);
	run_figure(&r, "recovered; fds %d -> %d", r.idle_fds, after);
	if (after != r.idle_fds)
		FAIL("server holds %d fds after every client left, %d when idle", after, r.idle_fds);
	run_finish(&r, "emfile", t);
}

#define STORM_N 20000
#define STORM_BATCH 500

enum storm_how { STORM_BARE, STORM_BYTE, STORM_RST };
static const char *const storm_name[] = {"bare", "1 byte", "RST"};

static void storm(struct run *r, enum storm_how how, const char *src)
{
	struct conn *c = xcalloc(STORM_BATCH, sizeof *c);
	for (uint32_t base = 0; base < STORM_N; base += STORM_BATCH) {
		conn_open_many_from(c, STORM_BATCH, src, r->s.port, base, deadline_in(10000));
		for (size_t i = 0; i < STORM_BATCH; i++) {
			if (how == STORM_BYTE && conn_pump_write(&c[i], 1) != 1)
				FAIL("conn #%u: the 1-byte write did not go out", c[i].id);
			if (how == STORM_RST)
				conn_reset(&c[i]);
			else
				conn_close(&c[i]);
		}
		if (base == STORM_N / 2)
			normal_client(&r->s, 1000000 + base, "midway through the storm");
	}
	free(c);
}

void case_storm(const struct target *t)
{
	struct run r;
	run_start(&r, t, NULL);
	char src[32];
	int64_t t0 = now_ms();
	for (enum storm_how how = STORM_BARE; how <= STORM_RST; how++) {
		/* A source address of our own per variant and run: a closed connection's port stays
		 * in TIME_WAIT for 60 s, and one address has ~28k ports towards one server port. */
		snprintf(src, sizeof src, "127.%d.%d.%d", 10 + (int)how, (int)(getpid() >> 8) & 255,
			 1 + (int)(getpid() & 127));
		storm(&r, how, src);
		int fds = wait_fds(&r.s, r.idle_fds, 10000);
		uint64_t conns = server_wait_stat(&r.s, "conns", 0, 5000);
		server_assert_alive(&r.s, "after the storm");
		note("%s: fds %d (idle %d), conns %llu", storm_name[how], fds, r.idle_fds,
		     (unsigned long long)conns);
		if (fds != r.idle_fds || conns != 0)
			FAIL("after 20,000 %s connect/close: %d fds open (idle %d), conns %llu", storm_name[how],
			     fds, r.idle_fds, (unsigned long long)conns);
	}
	normal_client(&r.s, 2000000, "after the storms");
	char *snap = server_snapshot(&r.s);
	run_figure(&r, "3 x 20,000 (bare, 1 byte, RST) in %.1f s; accepted %llu; fds back to %d each time",
		   (double)(now_ms() - t0) / 1000, (unsigned long long)stats_u64(snap, "accepted"),
		   r.idle_fds);
	free(snap);
	run_finish(&r, "storm", t);
}

/* emfile_churn: the server held at its fd limit while clients come and go one at a time. The
 * emfile case closes every held connection at once, so it never sees the state this one lives
 * in: every fd in use and the backlog empty. A server whose next accept takes an fd before it
 * looks at the backlog (io_uring's accept) and that re-arms it there fails at once, forever: a
 * spin with nothing to accept. Each 10 ms one held client leaves and a new one arrives; the
 * newcomer is judged served (its byte comes back) or shed (closed by the server), and what the
 * server did over the 5 s of churn, in syscalls (its own count) per arrival or departure, must
 * stay what serving them takes, not what spinning takes. */
#define CHURN_MS 5000
#define CHURN_TICK_MS 10 /* each tick: one in, one out, one in */
/* A spin is judged by what the server counts, not by its CPU: CPU per event depends on the machine
 * (select and poll scan 256 fds per wake-up: close enough to a 5% bound that a slower machine
 * would fail it with no fault at all), a count does not. One arrival
 * costs about ten syscalls (the wait, accept4, setsockopt, read, write, epoll_ctl, ...) and one
 * leave about three; a spin makes thousands of passes per event, on any machine. */
#define CHURN_SYSCALLS_PER_EVENT_MAX 50
#define CHURN_PASSES_PER_EVENT_MAX 10 /* echo-libuv, whose syscalls perf counts, not itself */

struct newcomer {
	struct conn c;
	bool open;
};

/* Served (true), shed (false), or still undecided (*decided false). */
static bool newcomer_result(struct conn *c, bool *decided)
{
	size_t got = 0;
	enum closed_how how = conn_wait_closed(c, now_ms(), &got);
	*decided = got > 0 || how != CLOSED_NOT;
	return got > 0;
}

void case_emfile_churn(const struct target *t)
{
	if (t->caps.serial)
		NA("holds one connection at a time: it never reaches its fd limit");
	if (t->caps.spins)
		NA("spins a core by design: the no-accept-spin CPU bound cannot be told apart");
	const size_t N = emfile_clients(t);
	const size_t ticks = CHURN_MS / CHURN_TICK_MS;
	struct server_opts o = {.nofile = EMFILE_NOFILE};
	struct run r;
	run_start(&r, t, &o);
	struct conn *pool = xcalloc(N + 2 * ticks, sizeof *pool); /* held clients, oldest first */
	conn_open_many(pool, N, r.s.port, 1, deadline_in(10000));
	sleep_ms(500); /* let it accept what it can and shed the rest */
	size_t held = 0, shed_initial = 0;
	for (size_t i = 0; i < N; i++) {
		if (conn_wait_closed(&pool[i], now_ms(), NULL) != CLOSED_NOT) {
			shed_initial++;
			conn_close(&pool[i]);
		} else {
			pool[held++] = pool[i];
		}
	}
	if (shed_initial == 0)
		FAIL("no connection shed with %zu clients against RLIMIT_NOFILE %d: not at the limit", N,
		     EMFILE_NOFILE);
	/* The premise, from the server's own counts: it holds every fd it can, and its backlog is
	 * empty (every connection is either held or was shed). */
	uint64_t conns = server_wait_stat(&r.s, "conns", held, 3000);
	if (conns != held)
		FAIL("premise: the server holds %llu connections, %zu clients are held",
		     (unsigned long long)conns, held);

	const size_t held0 = held;
	const int fds0 = proc_tree_count_fds(r.s.pid);

	const size_t maxnc = 2 * ticks;
	struct newcomer *nc = xcalloc(maxnc, sizeof *nc);
	size_t nnc = 0;
	size_t first = 0, served = 0, shed = 0, left = 0;
	char *snap0 = server_snapshot(&r.s);
	uint64_t sys0 = 0, passes0 = stats_u64(snap0, "loop_passes");
	bool counts_syscalls = json_get_u64_in(snap0, "syscalls", "total", &sys0) == JSON_OK;
	free(snap0);
	int64_t t0 = now_ms();
	long long cpu0 = proc_tree_cpu_ticks(r.s.pid);
	int64_t next = t0;
	for (size_t k = 0; k < ticks; k++) {
		/* Each tick: one arrives at the limit (shed, normally), then one held client leaves
		 * and one more arrives, taking the fd it freed: the server is at its limit with an
		 * empty backlog right after accepting, every tick, whichever way it accepts. (With
		 * only "one out, one in", a server one fd below its limit after a single shed stays
		 * there for the rest of the run, and the state this case is for is met once.) */
		for (int m = 0; m < 2 && nnc < maxnc; m++, nnc++) {
			if (m == 1 && first < held) { /* one out: the oldest held client leaves */
				conn_close(&pool[first++]);
				left++;
				sleep_ms(1);
			}
			conn_open(&nc[nnc].c, r.s.port, (uint32_t)(100000 + nnc), deadline_in(5000));
			nc[nnc].open = true;
			if (conn_pump_write(&nc[nnc].c, 1) != 1)
				FAIL("newcomer #%zu: its byte did not go out", nnc);
		}
		for (size_t j = 0; j < nnc; j++) { /* decide the newcomers that can be decided */
			bool decided, ok;
			if (!nc[j].open)
				continue;
			ok = newcomer_result(&nc[j].c, &decided);
			if (!decided)
				continue;
			nc[j].open = false;
			if (ok) {
				served++;
				pool[held++] = nc[j].c; /* now one of the held, to leave in its turn */
			} else {
				shed++;
				conn_close(&nc[j].c);
			}
		}
		next += CHURN_TICK_MS;
		if (deadline_left(next) > 0)
			sleep_ms(deadline_left(next));
	}
	double pct = cpu_pct_since(r.s.pid, cpu0, t0);
	char *snap1 = server_snapshot(&r.s);
	uint64_t sys1 = 0, passes1 = stats_u64(snap1, "loop_passes");
	if (counts_syscalls && json_get_u64_in(snap1, "syscalls", "total", &sys1) != JSON_OK)
		FAIL("no syscalls.total in the snapshot: %.200s", snap1);
	free(snap1);
	/* The last newcomers get 3 s to be decided: none may be left in the backlog. */
	int64_t deadline = deadline_in(3000);
	for (size_t j = 0; j < nnc; j++) {
		while (nc[j].open) {
			bool decided, ok = newcomer_result(&nc[j].c, &decided);
			if (decided) {
				nc[j].open = false;
				served += ok;
				shed += !ok;
				conn_close(&nc[j].c);
			} else if (deadline_left(deadline) == 0) {
				FAIL("newcomer #%zu neither served nor shed 3 s after the churn (%zu served, "
				     "%zu shed)", j, served, shed);
			} else {
				sleep_ms(5);
			}
		}
	}
	char *snap = server_snapshot(&r.s);
	uint64_t counted = stats_u64(snap, "accept_emfile");
	free(snap);
	const double events = (double)(left + nnc);
	const double per_event = counts_syscalls ? (double)(sys1 - sys0) / events
						 : (double)(passes1 - passes0) / events;
	const double bound = counts_syscalls ? CHURN_SYSCALLS_PER_EVENT_MAX : CHURN_PASSES_PER_EVENT_MAX;
	const char *what = counts_syscalls ? "syscalls" : "loop passes";
	run_figure(&r, "%zu held, %d fds open at the limit; churn %zu out, %zu in: %zu served, %zu "
		   "shed; %.1f %s per event <= %.0f (cpu over the churn %.1f%%); accept_emfile %llu = "
		   "%zu shed",
		   held0, fds0, left, nnc, served, shed, per_event, what, bound, pct,
		   (unsigned long long)counted, shed_initial + shed);
	if (per_event > bound)
		FAIL("%.1f %s per arrival or departure over %d ms of one-out-one-in at its fd limit "
		     "(> %.0f; cpu %.1f%%): an accept spin (%zu served, %zu shed)",
		     per_event, what, CHURN_MS, bound, pct, served, shed);
	if (served == 0)
		FAIL("no newcomer served in %zu arrivals while clients left", nnc);
	if (counted != shed_initial + shed)
		FAIL("%zu connections shed but accept_emfile is %llu", shed_initial + shed,
		     (unsigned long long)counted);
	for (size_t i = first; i < held; i++)
		conn_close(&pool[i]);
	free(pool);
	free(nc);
	/* The server closes what they held as it reads their FINs: until then it is still at its
	 * limit, and a client that came at once would be shed (a throttled blocking server, here). */
	int after = wait_fds(&r.s, r.idle_fds, 5000);
	normal_client(&r.s, 300000, "after the churn");
	after = wait_fds(&r.s, r.idle_fds, 5000);
	run_figure(&r, "recovered; fds %d -> %d", r.idle_fds, after);
	if (after != r.idle_fds)
		FAIL("server holds %d fds after every client left, %d when idle", after, r.idle_fds);
	run_finish(&r, "emfile_churn", t);
}
