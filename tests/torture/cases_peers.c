/* cases_peers.c - frozen: a client stopped mid-transfer (SIGSTOP) and resumed.
 *
 * A forked client process echoes 64 MiB in 16 MiB rounds, far more than the socket buffers between
 * it and the server hold, so when it stops reading the server's send is refused (EAGAIN) and the
 * server holds its pending output. Once the server
 * has taken 8 MiB from it, the client is frozen with SIGSTOP for 2 s: its socket stops being
 * read, the server must park that connection (not spin on it, not drop it) and keep serving four
 * other clients, who each echo 1 MiB during the freeze. After SIGCONT the frozen client finishes
 * and exits 0 only if every byte came back in order. Judged: the others done during the freeze
 * (and how long they took), the frozen client's exit status, and the server's CPU while frozen
 * (below 20% of a core, busypoll excepted: it spins by design).
 *
 * blocking-iterative is n/a: it serves one connection at a time, so "others unaffected while one
 * is frozen" cannot hold for it by design.
 */
#include "torture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Rounds much larger than what the kernel buffers between client and server (its own buffers
 * pinned to 64 KiB; the server's send buffer autotunes to 4 MiB), so that at the freeze the
 * server's socket is full and it holds output it cannot write. */
#define FROZEN_ROUND (16u * MiB)
#define FROZEN_ROUNDS 4
#define FROZEN_CLIENT_BUF (64 * 1024)
#define FROZEN_AFTER (8ull * MiB)
#define FREEZE_MS 2000
#define OTHERS 4
#define FROZEN_CPU_MAX_PCT 20.0

static noreturn void frozen_child(uint16_t port)
{
	struct conn c;
	conn_open_buf(&c, port, 7, FROZEN_CLIENT_BUF, deadline_in(5000));
	/* The stall limit in echo_round (10 s) is far above the 2 s freeze, and the clock keeps
	 * running while stopped, so a freeze alone cannot fail the round. */
	for (int i = 0; i < FROZEN_ROUNDS; i++)
		echo_round(&c, 1, FROZEN_ROUND, 0, deadline_in(20000));
	conn_close(&c);
	fflush(stdout);
	_exit(0);
}

static uint64_t bytes_in(struct server *s)
{
	char *snap = server_snapshot(s);
	uint64_t v = stats_u64(snap, "bytes_in");
	free(snap);
	return v;
}

void torture_frozen(const struct target *t)
{
	if (is_server(t, "blocking-iterative"))
		NA("serves one connection at a time: a frozen client blocks all the others by design");
	struct run r;
	run_start(&r, t, NULL);
	uint64_t in0 = bytes_in(&r.s);
	fflush(stdout);
	pid_t kid = (pid_t)SYS(fork());
	if (kid == 0)
		frozen_child(r.s.port);
	check_register_pid(kid); /* killed with the server if the case fails */

	int64_t deadline = deadline_in(10000);
	while (bytes_in(&r.s) - in0 < FROZEN_AFTER) {
		if (deadline_left(deadline) == 0)
			FAIL("the client did not get 8 MiB through in 10 s");
		sleep_ms(5);
	}
	SYS(kill(kid, SIGSTOP));
	int64_t t_stop = now_ms();
	uint64_t at_stop = bytes_in(&r.s) - in0;

	struct conn o[OTHERS];
	conn_open_many(o, OTHERS, r.s.port, 100, deadline_in(5000));
	echo_round(o, OTHERS, 1 * MiB, 0, deadline_in(FREEZE_MS));
	int64_t others_ms = now_ms() - t_stop;
	for (int i = 0; i < OTHERS; i++)
		conn_close(&o[i]);
	/* The server's CPU with only the frozen client left: at least 1 s of it. */
	int64_t t_cpu = now_ms();
	long long cpu0 = proc_tree_cpu_ticks(r.s.pid);
	int64_t thaw = t_stop + FREEZE_MS > t_cpu + 1000 ? t_stop + FREEZE_MS : t_cpu + 1000;
	sleep_ms(deadline_left(thaw));
	double frozen_cpu = cpu_pct_since(r.s.pid, cpu0, t_cpu);
	server_assert_alive(&r.s, "while the client was frozen");
	/* A parked connection costs nothing; one the loop keeps retrying burns a core. busypoll
	 * burns one anyway, by design. */
	if (!is_server(t, "busypoll") && frozen_cpu >= FROZEN_CPU_MAX_PCT)
		FAIL("server used %.0f%% of a core while the client was frozen: it spins on it",
		     frozen_cpu);
	SYS(kill(kid, SIGCONT));

	int status;
	int64_t wait_deadline = deadline_in(30000);
	pid_t got;
	while ((got = (pid_t)SYS(waitpid(kid, &status, WNOHANG))) == 0) {
		if (deadline_left(wait_deadline) == 0)
			FAIL("the resumed client did not finish within 30 s");
		sleep_ms(10);
	}
	check_unregister_pid(kid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("the resumed client failed (wait status 0x%x): its echo was not intact", status);
	normal_client(&r.s, 1000, "after the resume");
	run_figure(&r,
		   "frozen %lld ms at %.0f MiB; 4 others x 1 MiB served in %lld ms meanwhile; server cpu "
		   "%.0f%% while frozen; 64 MiB intact after SIGCONT",
		   (long long)(thaw - t_stop), (double)at_stop / MiB, (long long)others_ms,
		   frozen_cpu);
	run_finish(&r, "frozen", t);
}
