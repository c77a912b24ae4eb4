/* cases_checks.c - the readiness checks a server reports are exact for a known load.
 *
 * checks_exact shows that the stats line's "checks", "walked" and "scanned" (results/README.md,
 * "Readiness checks") count what each model's definition says, to the unit: 100 idle
 * connections and one active one that makes 1,000 lockstep requests (write 64 B, read the echo
 * back, repeat), bracketed by two SIGUSR1 snapshots taken once all 101 are accepted. What the
 * window's differences must satisfy is decided by the server's `checks` column in the table of
 * servers, never by its name:
 *   nfds (poll)        checks = (connections + 2) x wakeups: every poll() is asked about the
 *                      listener, the wake-up fd and every connection; walked = checks; the loop
 *                      looks at no more revents than there are entries, and at least at the
 *                      listener's and the wake-up fd's: 2 x wakeups <= scanned <= checks;
 *   set_fds (select)   checks = (connections + 2) x wakeups (the fds set in the sets); walked is
 *                      nfds (maxfd + 1) per call, a constant over the window: a multiple of wakeups,
 *                      and >= checks; scanned = walked (the loop's FD_ISSET walk reads fds
 *                      0..maxfd once per pass, one select() per pass);
 *   events (epoll)     checks = walked = scanned = events; wakeups <= checks <= 1,000 + loops:
 *                      every wait blocks (no connection is ever queued past its read budget here)
 *                      and reports something, and an event of the active connection finds at least
 *                      one request, so there is at most one per request, plus each loop's wake-up
 *                      for the closing snapshot. Level-triggered it is exactly 1,000 + loops; with
 *                      --edge fewer, since the read until EAGAIN after an echo sometimes finds the
 *                      next request already there, and serves it without an event of its own (an
 *                      event the same turn caused then finds nothing, but it can only follow a
 *                      turn that read two requests, so the bound holds); with --oneshot, one
 *                      epoll_ctl per event but the wake-up fd's (the row's rearms_per_event);
 *                      with --epoll2 (writable_always) every wait reports every connection
 *                      (all are writable, and 101 fit in one batch) and the wake-up fd at most
 *                      once: connections x wakeups <= checks <= (connections + 1) x wakeups,
 *                      with no epoll_ctl at all in the window;
 *   completions        checks = walked = scanned = events (the completions reaped), and checks >=
 *   (io_uring)         2,000 (each request completes a receive and a send);
 *   reads, spinning    checks = the window's read() + accept4() syscalls; and, exactly, checks =
 *   (busypoll)         loop_passes x (connections + 1), scanned = loop_passes x connections: no
 *                      connection reaches its backpressure cap (64 B pending at most) or closes, so
 *                      every pass tries accept4() once and reads every connection once;
 *   reads, sleeping    checks = the window's read() syscalls, >= 1,000; walked = checks; scanned
 *   (blocking)         = 0 (a thread per connection: there is nothing to scan);
 *   none (libuv)       the three fields are null in both lines.
 * Every server must also have served exactly 1,000 requests in the window (one read per 64-byte
 * message, as loops_stats relies on too), so the load is what the figures assume.
 *
 * A serial server (blocking --iterative) serves one connection at a time, so it gets the active
 * connection only: connections = 1. Before each snapshot the test waits until no thread of the
 * server is running (/proc/PID/task/TID/stat): the blocking server's snapshot is written by its
 * signal thread from live counters, and a connection thread between its echo and its next read
 * would otherwise be counted on one side of the window or the other by timing. A server that
 * spins never rests; its loop writes the snapshot itself, between two passes.
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IDLE = 100, REQUESTS = 1000, SIZE = 64 };

/* True if no thread of pid is running or runnable (state R). */
static bool all_asleep(pid_t pid)
{
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	if (d == NULL)
		FAIL("opendir(%s): the server is gone", dir);
	bool asleep = true;
	struct dirent *e;
	while (asleep && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[384], buf[512];
		snprintf(path, sizeof path, "%s/%s/stat", dir, e->d_name);
		FILE *f = fopen(path, "re");
		if (f == NULL)
			continue; /* the thread ended meanwhile */
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		const char *p = strrchr(buf, ')'); /* "TID (comm) S ...": comm may hold spaces */
		if (p != NULL && p[1] == ' ' && p[2] == 'R')
			asleep = false;
	}
	closedir(d);
	return asleep;
}

/* A snapshot of a server at rest: every thread asleep (twice in a row, 1 ms apart), unless it
 * spins by design. */
static char *snapshot_at_rest(struct server *s, const struct target *t)
{
	int64_t deadline = deadline_in(10000);
	for (int quiet = 0; !t->caps.spins && quiet < 2;) {
		quiet = all_asleep(s->pid) ? quiet + 1 : 0;
		if (deadline_left(deadline) == 0)
			FAIL("a thread of the server was still running 10 s after the load stopped");
		sleep_ms(1);
	}
	return server_snapshot(s);
}

/* b - a for a top-level count (fails unless both lines have it as an integer). */
static long long diff(const char *a, const char *b, const char *key)
{
	return (long long)(stats_u64(b, key) - stats_u64(a, key));
}

static long long diff_syscall(const char *a, const char *b, const char *name)
{
	uint64_t x, y;
	if (json_get_u64_in(a, "syscalls", name, &x) != JSON_OK ||
	    json_get_u64_in(b, "syscalls", name, &y) != JSON_OK)
		FAIL("no syscalls.%s in the snapshots: %s", name, b);
	return (long long)(y - x);
}

/* What the window must show, by the checks column (see the top). n: connections held. */
static void check_window(const struct target *t, const char *a, const char *b, long long n)
{
	const char *model = t->caps.checks;
	if (strcmp(model, "none") == 0) {
		static const char *const fields[] = {"checks", "walked", "scanned"};
		for (size_t i = 0; i < 3; i++)
			if (!json_is_null(a, fields[i]) || !json_is_null(b, fields[i]))
				FAIL("checks \"none\": \"%s\" must be null in both lines: %s", fields[i], b);
		return;
	}
	long long checks = diff(a, b, "checks"), walked = diff(a, b, "walked");
	long long scanned = diff(a, b, "scanned"), events = diff(a, b, "events");
	long long wakeups = diff(a, b, "wakeups"), passes = diff(a, b, "loop_passes");
	note("window: checks %lld, walked %lld, scanned %lld, events %lld, wakeups %lld, passes %lld",
	     checks, walked, scanned, events, wakeups, passes);
	if (strcmp(model, "nfds") == 0) {
		ASSERT_GE(wakeups, REQUESTS);
		ASSERT_EQ(checks, (n + 2) * wakeups);
		ASSERT_EQ(walked, checks);
		ASSERT_LE(scanned, checks);
		ASSERT_GE(scanned, 2 * wakeups);
	} else if (strcmp(model, "set_fds") == 0) {
		ASSERT_GE(wakeups, REQUESTS);
		ASSERT_EQ(checks, (n + 2) * wakeups);
		ASSERT_GE(walked, checks);
		ASSERT_EQ(walked % wakeups, 0);
		ASSERT_EQ(scanned, walked);
	} else if (strcmp(model, "events") == 0 && spec_applies("writable_always", &t->caps)) {
		ASSERT_EQ(checks, events);
		ASSERT_EQ(walked, checks);
		ASSERT_EQ(scanned, checks);
		ASSERT_GE(checks, n * wakeups);
		ASSERT_LE(checks, (n + 1) * wakeups);
		ASSERT_EQ(diff_syscall(a, b, "epoll_ctl"), 0);
	} else if (strcmp(model, "events") == 0) {
		ASSERT_EQ(checks, events);
		ASSERT_EQ(walked, checks);
		ASSERT_EQ(scanned, checks);
		ASSERT_GE(checks, wakeups);
		ASSERT_LE(checks, REQUESTS + t->caps.loops);
		if (spec_applies("rearms_per_event", &t->caps)) {
			/* EPOLLONESHOT: every connection's event is re-armed by one epoll_ctl; the
			 * wake-up fd's events (one per loop, the closing snapshot's) are not. */
			long long ctl = diff_syscall(a, b, "epoll_ctl");
			ASSERT_GE(ctl, checks - t->caps.loops);
			ASSERT_LE(ctl, checks);
		}
	} else if (strcmp(model, "completions") == 0) {
		ASSERT_EQ(checks, events);
		ASSERT_EQ(walked, checks);
		ASSERT_EQ(scanned, checks);
		ASSERT_GE(checks, 2 * REQUESTS); /* a receive and a send complete per request */
	} else if (strcmp(model, "reads") == 0) {
		long long reads = diff_syscall(a, b, "read");
		ASSERT_EQ(walked, checks);
		if (t->caps.spins) { /* a pass of reads over every connection */
			long long accepts = diff_syscall(a, b, "accept4");
			ASSERT_EQ(checks, reads + accepts);
			ASSERT_EQ(checks, passes * (n + 1));
			ASSERT_EQ(scanned, passes * n);
		} else { /* a thread asleep in read() per connection */
			ASSERT_EQ(checks, reads);
			ASSERT_GE(checks, REQUESTS);
			ASSERT_EQ(scanned, 0);
		}
	} else {
		FAIL("checks model \"%s\" has no assertions here", model);
	}
}

void case_checks_exact(const struct target *t)
{
	const size_t n = (t->caps.serial ? 0 : IDLE) + 1; /* the active connection is the last */
	struct server s;
	server_start(&s, t, NULL);
	struct conn *c = xcalloc(n, sizeof *c);
	conn_open_many(c, n, s.port, 1, deadline_in(10000));
	ASSERT_EQ(server_wait_stat(&s, "conns", n, 10000), n);

	char *a = snapshot_at_rest(&s, t);
	for (int r = 0; r < REQUESTS; r++)
		echo_round(&c[n - 1], 1, SIZE, 0, deadline_in(10000));
	char *b = snapshot_at_rest(&s, t);
	note("before: %s", a);
	note("after: %s", b);
	ASSERT_EQ(diff(a, b, "requests"), REQUESTS);
	ASSERT_EQ(stats_u64(b, "conns"), n);
	check_window(t, a, b, (long long)n);

	free(a);
	free(b);
	for (size_t i = 0; i < n; i++)
		conn_close(&c[i]);
	free(c);
	server_stop(&s, 5000);
}
