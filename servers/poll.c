/* poll.c - echo server on poll(): one syscall per pass, but the whole set crosses into the kernel
 * and back every time.
 *
 * What it shows:
 *  - the interest set lives in user space, as an array of struct pollfd rebuilt by nobody: each
 *    connection keeps its slot and its `events` are updated in place when its wishes change;
 *  - every pass copies all N pollfds into the kernel, which polls every one of them (the cost that
 *    grows with N, idle or not), then the loop scans all N `revents` to find the few that are ready;
 *  - there is no FD_SETSIZE limit: the array is as long as the fd limit allows.
 * Readiness checks (stats "checks"): nfds per call, since the kernel polls every entry; "scanned":
 * the revents the loop looked at, which stops once it has seen all n ready ones.
 * Slot 0 is the listener, slot 1 the wake-up fd (the signalfd). A closed connection's slot is
 * filled by the last one (swap-remove), so the array stays dense; the loop then looks at the same
 * index again, since it now holds another fd.
 *
 * Run: echo-poll --port 7000, then: nc 127.0.0.1 7000
 */
#include "runtime.h"
#include "server.h"

static struct server_config cfg = {.name = "poll", .checks = CHECKS_NFDS};
static struct pollfd *pfds; /* [0] listener, [1] wake-up fd, then pfds[i] belongs to conns[i] */
static struct conn **conns;
static nfds_t nfds, cap_fds;

static short interest(const struct conn *c)
{
	return (short)((conn_wants_read(c) ? POLLIN : 0) | (conn_wants_write(c) ? POLLOUT : 0));
}

static void add(int fd, short events, struct conn *c)
{
	if (nfds == cap_fds) {
		cap_fds = cap_fds * 2 + 64;
		pfds = realloc(pfds, cap_fds * sizeof *pfds);
		conns = realloc(conns, cap_fds * sizeof *conns);
		if (!pfds || !conns)
			fatal_errno("realloc");
	}
	pfds[nfds] = (struct pollfd){.fd = fd, .events = events};
	conns[nfds++] = c;
}

static void remove_slot(nfds_t i)
{
	conn_close(conns[i]);
	pfds[i] = pfds[--nfds];
	conns[i] = conns[nfds];
}

static void accept_all(struct listener *lis)
{
	struct conn *c;
	while ((c = server_accept(lis, false, &cfg)))
		add(c->fd, interest(c), c);
}

/* The loop: slot 0 the listener, slot 1 the wake-up fd (runtime.h), then the connections. */
static void serve(struct loop *lp)
{
	add(lp->lis->fd, POLLIN, NULL);
	add(lp->wake_fd, POLLIN, NULL);

	while (loop_running(lp)) {
		STAT_ADD(loop_passes, 1);
		int n = sys_poll(pfds, nfds);
		if (n < 0)
			fatal_errno("poll");
		stats_wakeup(n);
		STAT_ADD(checks, nfds); /* do_poll() polls every entry, ready or not (walked: the same) */
		if (pfds[1].revents) {
			n--;
			loop_woken(lp); /* loop_running() acts on it before the next wait */
		}
		if (pfds[0].revents) {
			n--;
			accept_all(lp->lis); /* appends: the new slots have revents 0 and are skipped below */
		}
		nfds_t i = 2, removed = 0;
		while (i < nfds && n > 0) { /* stop once all n ready ones were seen */
			if (!pfds[i].revents) {
				i++;
				continue;
			}
			n--;
			struct conn *c = conns[i];
			short re = pfds[i].revents;
			bool readable = re & (POLLIN | POLLERR | POLLHUP);
			bool writable = re & (POLLOUT | POLLERR | POLLHUP);
			if (conn_serve(c, readable, writable)) { /* one read or one write per readiness */
				pfds[i++].events = interest(c);
			} else {
				remove_slot(i); /* slot i now holds the last connection: look at it again */
				removed++;
			}
		}
		/* The revents looked at: slots 0 and 1, and one per turn of the walk, which moved on
		 * (i - 2 turns) or looked at the same slot again (removed). */
		STAT_ADD(scanned, i + removed);
	}
	free(pfds);
	free(conns);
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	return runtime_run(&cfg, &(struct runtime_config){.threads = 1}, serve);
}
