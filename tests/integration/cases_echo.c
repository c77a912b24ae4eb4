/* cases_echo.c - echo correctness: payload sizes across many connections, and half-close.
 *
 * echo_sizes shows that a server echoes every byte of 100 concurrent connections in order and
 * without mixing them, from a single byte (one read, one write) to 4 MiB (far more than the
 * 16 KiB per-connection buffer, so the server must cycle through backpressure: stop reading,
 * flush, resume). The same connections carry all three sizes, so a connection survives many
 * requests.
 *
 * half_close shows the shutdown(SHUT_WR) path: EOF from the client must not drop output the
 * server still holds. A 1 MiB payload guarantees the server sees EOF while output is pending, and
 * the client pauses reading after its shutdown so the pending buffer is full at that moment.
 *
 * ring_dry, busy_poll_napi, sq_thread, fixed_files, zero_copy and bundle are the echo paths of
 * one server's options: io_uring's dry buffer ring, epoll's busy polling where there is no NAPI,
 * io_uring's SQ thread, registered files, zero-copy sends and receive bundles.
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>

#define SIZES_CONNS 100

/* The frame the option cases share: a server of t's, n connections open to it (ids from 1), and
 * `before`, a snapshot taken once they are (when asked for). */
struct frame {
	struct server s;
	struct conn *c;
	size_t n;
	char *before;
};

static void frame_open(struct frame *f, const struct target *t, const struct server_opts *o,
		       size_t n, bool snapshot)
{
	server_start(&f->s, t, o);
	f->c = xcalloc(n, sizeof *f->c);
	f->n = n;
	conn_open_many(f->c, n, f->s.port, 1, deadline_in(10000));
	f->before = snapshot ? server_snapshot(&f->s) : NULL;
}

/* rounds echoes of size bytes on every connection, each within round_ms; then a snapshot (the
 * caller's to free) */
static char *frame_echo(struct frame *f, int rounds, size_t size, int round_ms)
{
	for (int r = 0; r < rounds; r++)
		echo_round(f->c, f->n, size, 0, deadline_in(round_ms));
	return server_snapshot(&f->s);
}

static void frame_close(struct frame *f)
{
	free(f->before);
	for (size_t i = 0; i < f->n; i++)
		conn_close(&f->c[i]);
	free(f->c);
	server_stop(&f->s, 5000);
}

/* The stats line's variant ends with what the option names (echo-uring's is the ring's kind
 * before it where the ring is not the default: coop_taskrun-zc). */
static void assert_variant(const char *snap, const char *suffix)
{
	const char *v = strstr(snap, "\"variant\":\"");
	const char *end = v ? strchr(v + 11, '"') : NULL;
	size_t n = strlen(suffix);
	if (!end || (size_t)(end - (v + 11)) < n || strncmp(end - n, suffix, n) != 0)
		FAIL("the stats line's variant does not say %s: %s", suffix, snap);
}

/* after - before of the io_uring operations of kind op */
static uint64_t ops_between(const char *before, const char *after, const char *op)
{
	uint64_t n[2];
	if (json_get_u64_in(before, "uring_ops", op, &n[0]) != JSON_OK ||
	    json_get_u64_in(after, "uring_ops", op, &n[1]) != JSON_OK)
		FAIL("no uring_ops.%s in the stats line: %s", op, after);
	return n[1] - n[0];
}

void case_echo_sizes(const struct target *t)
{
	static const size_t sizes[] = {1, 4 * KiB, 4 * MiB};
	struct server s;
	server_start(&s, t, NULL);
	struct conn *c = xcalloc(SIZES_CONNS, sizeof *c);
	conn_open_many(c, SIZES_CONNS, s.port, 1, deadline_in(10000));
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int64_t t0 = now_ms();
		/* 4 MiB x 100 is 400 MiB each way: seconds on loopback, a minute allows sanitizers.
		 */
		echo_round(c, SIZES_CONNS, sizes[i], 0,
			   deadline_in(sizes[i] >= MiB ? 60000 : 10000));
		note("%zu bytes echoed on %d connections in %lld ms", sizes[i], SIZES_CONNS,
		     (long long)(now_ms() - t0));
	}
	server_assert_alive(&s, "after the echoes");
	for (size_t i = 0; i < SIZES_CONNS; i++)
		conn_close(&c[i]);
	free(c);
	server_stop(&s, 5000);
}

void case_half_close(const struct target *t)
{
	static const size_t sizes[] = {0, 5, 1 * MiB};
	struct server s;
	server_start(&s, t, NULL);
	/* One connection at a time first, so this also holds for the iterative server. */
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct conn c;
		conn_open(&c, s.port, (uint32_t)i + 1, deadline_in(5000));
		echo_round(&c, 1, sizes[i], ECHO_SHUTDOWN | ECHO_SLOW_TAIL, deadline_in(20000));
		note("%zu bytes echoed after shutdown(SHUT_WR), then EOF", sizes[i]);
		conn_close(&c);
	}
	if (!t->caps.serial) {
		/* Several at once: each connection's EOF must only end that connection. */
		enum { N = 10 };
		struct conn c[N];
		conn_open_many(c, N, s.port, 100, deadline_in(5000));
		echo_round(c, N, 1 * MiB, ECHO_SHUTDOWN | ECHO_SLOW_TAIL, deadline_in(20000));
		note("1 MiB + EOF on %d concurrent connections", N);
		for (int i = 0; i < N; i++)
			conn_close(&c[i]);
	}
	server_stop(&s, 5000);
}

/* ring_dry: echo-uring's provided-buffer ring running dry. With --buffer 64 its ring holds 512
 * buffers of 64 bytes (32 KiB) and each connection may hold 64 bytes of output, so 1,000
 * connections that each send 4 KiB at once leave most receives without a buffer (-ENOBUFS, which
 * ends a multishot recv) and most connections over their cap (the recv is cancelled). Every byte
 * must still come back in order, and the re-arms must show in the submitted recvs. */
void case_ring_dry(const struct target *t)
{
	enum { N = 1000, ROUNDS = 3 };
	static const char *const more[] = {"--buffer", "64", NULL};
	struct server_opts o = {.more_args = more};
	struct frame f;
	frame_open(&f, t, &o, N, false);
	char *snap = frame_echo(&f, ROUNDS, 4 * KiB, 30000);
	uint64_t recv = 0, accepted = stats_u64(snap, "accepted");
	if (json_get_u64_in(snap, "uring_ops", "recv", &recv) != JSON_OK)
		FAIL("no uring_ops.recv in the snapshot: %s", snap);
	note("%d x %d x 4 KiB echoed through 64-byte buffers: %llu recvs submitted for %llu connections",
	     ROUNDS, N, (unsigned long long)recv, (unsigned long long)accepted);
	ASSERT_EQ(accepted, N);
	ASSERT_GT(recv, 2 * accepted); /* re-armed again and again: ENOBUFS and backpressure */
	ASSERT_EQ(stats_u64(snap, "bytes_out"), (uint64_t)ROUNDS * N * 4 * KiB);
	free(snap);
	frame_close(&f);
}

/* busy_poll_napi: echo-epoll --busy-poll on loopback. Busy polling needs a NAPI id on the socket,
 * and loopback has no NAPI, so the server must still serve every byte, ask each accepted connection
 * for its id once (one getsockopt each, its own count) and count every one of them as without an
 * id: no_napi_conns is what makes bench/run call the row unsupported:no_napi. A server that set no
 * busy-poll parameters, or did not ask, or asked and ignored the answer, fails one of these. */
void case_busy_poll_napi(const struct target *t)
{
	enum { N = 20, ROUNDS = 5 };
	struct frame f;
	frame_open(&f, t, NULL, N, false);
	char *snap = frame_echo(&f, ROUNDS, 1 * KiB, 10000);
	uint64_t asked = 0;
	if (json_get_u64_in(snap, "syscalls", "getsockopt", &asked) != JSON_OK)
		FAIL("no syscalls.getsockopt in the snapshot: %s", snap);
	note("%d connections: %llu getsockopt, no_napi_conns %llu", N, (unsigned long long)asked,
	     (unsigned long long)stats_u64(snap, "no_napi_conns"));
	ASSERT_EQ(stats_u64(snap, "accepted"), N);
	ASSERT_EQ(asked, N);
	ASSERT_EQ(stats_u64(snap, "no_napi_conns"), N);
	ASSERT_EQ(stats_u64(snap, "bytes_out"), (uint64_t)ROUNDS * N * KiB);
	assert_variant(snap, "busypoll");
	free(snap);
	frame_close(&f);
}

/* sq_thread: echo-uring --sqpoll --sq-cpu own|other. The kernel thread that polls the submission
 * queue must be in the stats line, allowed only on the CPU asked for (own: the server's first, as
 * it inherits this process's affinity; other: the first that is not that one) and last seen
 * there; its CPU time must grow under load and lie inside the server's user_us + sys_us over the
 * same window (getrusage counts the whole thread group, so the rows' CPU per request includes it). And the loop never enters the kernel to submit: at most
 * one io_uring_enter() a pass, for a wait or a wake-up. */
void case_sq_thread(const struct target *t)
{
	enum { N = 20, ROUNDS = 50 };
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		FAIL("sched_getaffinity: %s", strerror(errno));
	int own = 0;
	while (!CPU_ISSET(own, &set))
		own++;
	for (int i = 0; i + 1 < t->nargs; i++)
		if (strcmp(t->args[i], "--sq-cpu") == 0 && strcmp(t->args[i + 1], "other") == 0) {
			if (get_nprocs() < 2)
				SKIP("--sq-cpu other needs a second CPU online");
			own = own == 0 ? 1 : 0;
		}
	struct frame f;
	frame_open(&f, t, NULL, N, true);
	char *a = f.before, *b = frame_echo(&f, ROUNDS, 1 * KiB, 10000);
	uint64_t sq[2], cpu, enter[2];
	char *snap[2] = {a, b};
	for (int i = 0; i < 2; i++) {
		if (json_get_u64_in(snap[i], "sq_thread", "cpu_us", &sq[i]) != JSON_OK)
			FAIL("no sq_thread.cpu_us in the stats line: %s", snap[i]);
		if (json_get_u64_in(snap[i], "syscalls", "io_uring_enter", &enter[i]) != JSON_OK)
			FAIL("no syscalls.io_uring_enter: %s", snap[i]);
	}
	if (json_get_u64_in(b, "sq_thread", "cpu", &cpu) != JSON_OK)
		FAIL("no sq_thread.cpu: %s", b);
	char want[48];
	snprintf(want, sizeof want, "\"allowed\":\"%d\"", own);
	uint64_t used = stats_u64(b, "user_us") + stats_u64(b, "sys_us") - stats_u64(a, "user_us") - stats_u64(a, "sys_us");
	uint64_t passes = stats_u64(b, "loop_passes") - stats_u64(a, "loop_passes");
	note("SQ thread on CPU %llu: %llu us of the server's %llu us; %llu io_uring_enter in %llu passes",
	     (unsigned long long)cpu, (unsigned long long)(sq[1] - sq[0]), (unsigned long long)used,
	     (unsigned long long)(enter[1] - enter[0]), (unsigned long long)passes);
	if (!strstr(b, want))
		FAIL("the SQ thread is not pinned to the server's CPU %d (want %s): %s", own, want, b);
	ASSERT_EQ(cpu, (uint64_t)own);
	ASSERT_GT(sq[1], sq[0]);
	/* Not used >= the SQ thread's time exactly: the two clocks are read a moment apart, and the
	 * thread can run in between (it shares the loop's CPU), for a scheduler slice at most. So a
	 * share, not an absolute slack: left out of getrusage, the thread's time would leave only the
	 * loop's own, a small part of it (it spins through the whole window; the loop mostly waits). */
	ASSERT_GE(used * 5, (sq[1] - sq[0]) * 4);
	ASSERT_LE(enter[1] - enter[0], passes);
	ASSERT_EQ(stats_u64(b, "bytes_out") - stats_u64(a, "bytes_out"), (uint64_t)ROUNDS * N * KiB);
	free(b);
	frame_close(&f);
}

/* io_uring --fixed-files: connections accepted straight into the ring's file table have no fd, so
 * over their whole life (accepted, echoed, closed by the client) the server makes no accept4,
 * setsockopt or close (the default uring makes one setsockopt and one close per connection), and
 * closes each slot with one ring operation. */
void case_fixed_files(const struct target *t)
{
	enum { N = 50, ROUNDS = 20 };
	/* (reads there are: the signalfd's, one per snapshot asked for) */
	static const char *const none[] = {"accept4", "setsockopt", "close", "write"};
	struct server s;
	server_start(&s, t, NULL);
	char *a = server_snapshot(&s);
	struct conn *c = xcalloc(N, sizeof *c);
	conn_open_many(c, N, s.port, 1, deadline_in(10000));
	for (int r = 0; r < ROUNDS; r++)
		echo_round(c, N, 4 * KiB, 0, deadline_in(10000));
	for (size_t i = 0; i < N; i++)
		conn_close(&c[i]);
	free(c);
	if (server_wait_stat(&s, "conns", 0, 10000) != 0)
		FAIL("the server still holds connections 10 s after the clients closed them");
	char *b = server_snapshot(&s);
	assert_variant(b, "fixed");
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		uint64_t n[2];
		if (json_get_u64_in(a, "syscalls", none[i], &n[0]) != JSON_OK ||
		    json_get_u64_in(b, "syscalls", none[i], &n[1]) != JSON_OK)
			FAIL("no syscalls.%s in the stats line: %s", none[i], b);
		if (n[1] != n[0])
			FAIL("%llu %s() calls for %d connections with registered files",
			     (unsigned long long)(n[1] - n[0]), none[i], N);
	}
	uint64_t closes = ops_between(a, b, "close");
	note("%d connections: %llu slots closed by the ring, no accept4, setsockopt or close", N,
	     (unsigned long long)closes);
	ASSERT_EQ(stats_u64(b, "accepted") - stats_u64(a, "accepted"), (uint64_t)N);
	ASSERT_EQ(stats_u64(b, "closed") - stats_u64(a, "closed"), (uint64_t)N);
	ASSERT_EQ(closes, (uint64_t)N);
	ASSERT_EQ(stats_u64(b, "bytes_out") - stats_u64(a, "bytes_out"), (uint64_t)ROUNDS * N * 4 * KiB);
	free(a);
	free(b);
	server_stop(&s, 5000);
}

/* io_uring --zc: every send is a zero-copy one whose bytes stay the kernel's until its
 * notification. 64 KiB rounds through a 16 KiB buffer make each connection send, refill and
 * compact many times, and echo_round() checks every byte. (That catches a buffer reused before
 * its notification only where the kernel reads our pages again after the first completion, a
 * retransmission: over loopback a packet is copied as it is delivered.) Each send gets exactly
 * one notification, and zc_copied (the kernel copied after all) is at most that. */
void case_zero_copy(const struct target *t)
{
	enum { N = 10, ROUNDS = 20 };
	struct frame f;
	frame_open(&f, t, NULL, N, true);
	char *a = f.before, *b = frame_echo(&f, ROUNDS, 64 * KiB, 10000);
	/* The notifications follow the peer's ACKs, a delayed one up to 200 ms after the echo */
	for (int64_t until = deadline_in(5000);;) {
		uint64_t sent = 0, notified = stats_u64(b, "zc_notifs");
		if (json_get_u64_in(b, "uring_ops", "send", &sent) != JSON_OK)
			FAIL("no uring_ops.send in the stats line: %s", b);
		if (notified >= sent || deadline_left(until) == 0)
			break;
		sleep_ms(20);
		free(b);
		b = server_snapshot(&f.s);
	}
	assert_variant(b, "zc");
	uint64_t sends = ops_between(a, b, "send");
	uint64_t notifs = stats_u64(b, "zc_notifs") - stats_u64(a, "zc_notifs");
	uint64_t copied = stats_u64(b, "zc_copied") - stats_u64(a, "zc_copied");
	note("%llu zero-copy sends, %llu notifications, %llu of them copied", (unsigned long long)sends,
	     (unsigned long long)notifs, (unsigned long long)copied);
	ASSERT_GT(sends, 0);
	ASSERT_EQ(notifs, sends);
	ASSERT_LE(copied, notifs);
	ASSERT_EQ(stats_u64(b, "bytes_out") - stats_u64(a, "bytes_out"), (uint64_t)ROUNDS * N * 64 * KiB);
	free(b);
	frame_close(&f);
}

/* io_uring --bundle: each receive completion may fill several ring buffers (at most a page each).
 * 64 KiB rounds arrive faster than a buffer at a time, so the bytes per completion ("requests":
 * receive completions that brought data) must exceed one ring buffer's worth; a plain recv can
 * never bring more than one. echo_round() checks every byte, which buffers read out of order
 * (a bundle's buffers are the ring entries after its first) would have scrambled. */
void case_bundle(const struct target *t)
{
	enum { N = 10, ROUNDS = 20, RING_BUF = 4096 /* uring_ring.c's largest, --buffer 16 KiB's */ };
	struct frame f;
	frame_open(&f, t, NULL, N, true);
	char *a = f.before, *b = frame_echo(&f, ROUNDS, 64 * KiB, 10000);
	assert_variant(b, "bundle");
	uint64_t in = stats_u64(b, "bytes_in") - stats_u64(a, "bytes_in");
	uint64_t completions = stats_u64(b, "requests") - stats_u64(a, "requests");
	note("%llu bytes in %llu receive completions: %.0f bytes each, ring buffers of %d",
	     (unsigned long long)in, (unsigned long long)completions,
	     (double)in / (double)completions, RING_BUF);
	ASSERT_EQ(in, (uint64_t)ROUNDS * N * 64 * KiB);
	ASSERT_GT(in, completions * RING_BUF);
	ASSERT_EQ(stats_u64(b, "bytes_out") - stats_u64(a, "bytes_out"), in);
	free(b);
	frame_close(&f);
}
