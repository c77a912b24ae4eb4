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
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <stdlib.h>

#define SIZES_CONNS 100

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
	struct server s;
	server_start(&s, t, &o);
	struct conn *c = xcalloc(N, sizeof *c);
	conn_open_many(c, N, s.port, 1, deadline_in(10000));
	for (int r = 0; r < ROUNDS; r++)
		echo_round(c, N, 4 * KiB, 0, deadline_in(30000));
	char *snap = server_snapshot(&s);
	uint64_t recv = 0, accepted = stats_u64(snap, "accepted");
	if (json_get_u64_in(snap, "uring_ops", "recv", &recv) != JSON_OK)
		FAIL("no uring_ops.recv in the snapshot: %s", snap);
	note("%d x %d x 4 KiB echoed through 64-byte buffers: %llu recvs submitted for %llu connections",
	     ROUNDS, N, (unsigned long long)recv, (unsigned long long)accepted);
	ASSERT_EQ(accepted, N);
	ASSERT_GT(recv, 2 * accepted); /* re-armed again and again: ENOBUFS and backpressure */
	ASSERT_EQ(stats_u64(snap, "bytes_out"), (uint64_t)ROUNDS * N * 4 * KiB);
	free(snap);
	for (size_t i = 0; i < N; i++)
		conn_close(&c[i]);
	free(c);
	server_stop(&s, 5000);
}
