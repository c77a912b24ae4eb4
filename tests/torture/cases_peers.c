/* cases_peers.c - frozen: a client stopped mid-transfer (SIGSTOP) and resumed.
 *
 * A forked client process (its socket buffers pinned to 64 KiB) echoes a 16 MiB round, then
 * writes ahead without reading until nothing more goes in for 100 ms: every buffer between it and
 * the server is full, and the server holds output it cannot write. There it stops itself with
 * SIGSTOP, mid-transfer. The driver checks that premise (the server's bytes_in ahead of its
 * bytes_out), keeps it frozen for 2 s while four other clients each echo 1 MiB, measures the
 * server's CPU with only the frozen client left, and sends SIGCONT. The client then reads back
 * everything it was owed and echoes three more 16 MiB rounds; it exits 0 only if every byte came
 * back in order. Judged: the others done during the freeze (and how long they took), the server
 * parked the connection (CPU below 20% of a core while frozen, busypoll excepted: it spins by
 * design), and the frozen client's bytes intact.
 * A deliberately broken echo-epoll whose flush retries write() until everything is out (a loop
 * that cannot wait for a slow peer) fails here: it spins on the frozen connection.
 *
 * blocking-iterative is n/a: it serves one connection at a time, so "others unaffected while one
 * is frozen" cannot hold for it by design.
 */
#include "torture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FROZEN_ROUND (16u * MiB)
#define FROZEN_ROUNDS 4
#define FROZEN_CLIENT_BUF (64 * 1024)
#define FREEZE_MS 2000
#define OTHERS 4
#define FROZEN_CPU_MAX_PCT 20.0

static noreturn void frozen_child(uint16_t port)
{
	struct conn c;
	conn_open_buf(&c, port, 7, FROZEN_CLIENT_BUF, deadline_in(5000));
	/* The stall limit in echo_round (10 s) is far above the 2 s freeze, and the clock keeps
	 * running while stopped, so a freeze alone cannot fail a round. */
	echo_round(&c, 1, FROZEN_ROUND, 0, deadline_in(20000));
	/* Write ahead, never reading, until 100 ms pass with nothing taken. */
	int64_t quiet = now_ms(), deadline = deadline_in(10000);
	while (now_ms() - quiet < 100) {
		if (conn_pump_write(&c, c.tx + 64 * KiB) > 0)
			quiet = now_ms();
		else
			sleep_ms(5);
		if (deadline_left(deadline) == 0)
			FAIL("the server kept taking bytes for 10 s without echoing any");
	}
	SYS(raise(SIGSTOP));
	/* Resumed: read back what we are owed, then the remaining rounds. */
	deadline = deadline_in(20000);
	while (c.rx < c.tx) {
		struct pollfd pfd = {.fd = c.fd, .events = POLLIN};
		int rc = poll(&pfd, 1, deadline_left(deadline));
		if (rc == -1 && errno == EINTR)
			continue;
		if (SYS(rc) == 0)
			FAIL("after SIGCONT: %llu of %llu bytes back by the deadline",
			     (unsigned long long)c.rx, (unsigned long long)c.tx);
		conn_pump_read(&c);
		if (c.eof)
			FAIL("after SIGCONT: EOF at %llu of %llu bytes", (unsigned long long)c.rx,
			     (unsigned long long)c.tx);
	}
	for (int i = 1; i < FROZEN_ROUNDS; i++)
		echo_round(&c, 1, FROZEN_ROUND, 0, deadline_in(20000));
	conn_close(&c);
	fflush(stdout);
	_exit(0);
}

void case_frozen(const struct target *t)
{
	if (t->caps.serial)
		NA("serves one connection at a time: a frozen client blocks all the others by design");
	struct run r;
	run_start(&r, t, NULL);
	int64_t held0 = server_held(&r.s);
	fflush(stdout);
	pid_t kid = (pid_t)SYS(fork());
	if (kid == 0)
		frozen_child(r.s.port);
	check_register_pid(kid); /* killed with the server if the case fails */

	/* The client stops itself once every buffer towards the server is full. */
	int64_t deadline = deadline_in(20000);
	int status;
	for (;;) {
		pid_t got = (pid_t)SYS(waitpid(kid, &status, WNOHANG | WUNTRACED));
		if (got == kid && WIFSTOPPED(status))
			break;
		if (got == kid)
			FAIL("the client ended before its freeze (wait status 0x%x)", status);
		if (deadline_left(deadline) == 0)
			FAIL("the client did not reach its freeze within 20 s");
		sleep_ms(5);
	}
	int64_t t_stop = now_ms();
	/* The premise, the server holding output for the frozen client, comes once the server has
	 * read what the client's last writes left in its receive buffer: at once, unless the server
	 * was not running for the client's 100 quiet ms (a CI machine's stall made one busypoll run
	 * see 0 bytes at 100 ms). So look for up to 2 s before calling the premise missed. */
	int64_t owed = 0;
	for (int64_t until = deadline_in(2000); owed <= 0 && deadline_left(until) > 0;) {
		sleep_ms(50);
		owed = server_held(&r.s) - held0;
	}
	if (owed <= 0)
		FAIL("frozen, but the server holds no output for it (%lld bytes): the case missed its "
		     "point", (long long)owed);

	struct conn o[OTHERS];
	int64_t t_others = now_ms();
	conn_open_many(o, OTHERS, r.s.port, 100, deadline_in(5000));
	echo_round(o, OTHERS, 1 * MiB, 0, deadline_in(FREEZE_MS));
	int64_t others_ms = now_ms() - t_others;
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
	if (!t->caps.spins && frozen_cpu >= FROZEN_CPU_MAX_PCT)
		FAIL("server used %.0f%% of a core while the client was frozen: it spins on it",
		     frozen_cpu);
	SYS(kill(kid, SIGCONT));

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
		   "frozen %lld ms, the server owing it %lld B; 4 others x 1 MiB served in %lld ms "
		   "meanwhile; server cpu %.0f%% while frozen; 64 MiB intact after SIGCONT",
		   (long long)(thaw - t_stop), (long long)owed, (long long)others_ms,
		   frozen_cpu);
	run_finish(&r, "frozen", t);
}
