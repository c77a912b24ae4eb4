/* busypoll.c - echo server that asks every socket "are you ready?" on every pass.
 *
 * What it shows: the loop seed 000 starts from. All sockets are non-blocking and there is no wait
 * syscall at all: each pass tries accept() until EAGAIN, then read() on every connection (and write() on
 * those with output pending). With N connections of which M have data, a pass makes N reads, N-M of
 * which return EAGAIN: wasted syscalls (counted in read_eagain), and a whole core burnt even when
 * nobody sends anything. Latency is good, since nothing ever sleeps; everything else is the bill.
 * Its readiness checks (stats "checks") are those reads and accepts themselves: each asks the
 * kernel about one socket, and no wait call asks about many at once.
 *
 * Signals cannot interrupt a wait that does not exist, so the handlers set flags that
 * loop_running() checks every pass (SIGNALS_POLLED).
 *
 * Run: echo-busypoll --port 7000, then: nc 127.0.0.1 7000 (and watch top)
 */
#include "runtime.h"
#include "server.h"

static struct server_config cfg = {.name = "busypoll", .checks = CHECKS_READS};
static struct conn **conns; /* dense: a closed connection's slot is taken by the last one */
static size_t nconns, cap_conns;

/* Until EAGAIN, which is what almost every pass gets: the price of not waiting. */
static void accept_all(struct listener *lis)
{
	struct conn *c;
	while ((c = server_accept(lis, false, &cfg))) {
		if (nconns == cap_conns) {
			cap_conns = cap_conns * 2 + 64;
			if (!(conns = realloc(conns, cap_conns * sizeof *conns)))
				fatal_errno("realloc");
		}
		conns[nconns++] = c;
	}
}

/* The syscalls that ask a socket whether it has something: every read() and accept4() this
 * thread made so far, as the wrappers counted them (EINTR retries and the EMFILE shed's included).
 * The loop is the process's only counting thread, so its block is sys_count. */
static uint64_t asked(void)
{
	return counter_get(&sys_local->calls[SYS_READ]) + counter_get(&sys_local->calls[SYS_ACCEPT4]);
}

/* The loop: no wait, no wake-up fd; loop_running() checks the signal flags every pass. */
static void serve(struct loop *lp)
{
	while (loop_running(lp)) {
		STAT_ADD(loop_passes, 1);
		uint64_t before = asked();
		accept_all(lp->lis);
		size_t removed = 0;
		for (size_t i = 0; i < nconns;) {
			/* readable and writable, as far as we know: let the syscalls say EAGAIN */
			if (conn_serve(conns[i], true, true)) {
				i++;
			} else {
				conn_close(conns[i]);
				conns[i] = conns[--nconns]; /* look at slot i again: it holds another now */
				removed++;
			}
		}
		/* Readiness checks: this pass's reads and accepts as the wrappers counted them, so a
		 * connection left unread (at its backpressure cap) adds none and a retry adds one. */
		STAT_ADD(checks, asked() - before);
		STAT_ADD(scanned, nconns + removed); /* connections visited: each turn of the walk */
	}
	free(conns);
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	return runtime_run(&cfg, &(struct runtime_config){.threads = 1, .signals = SIGNALS_POLLED},
			   serve);
}
