/* select.c - echo server on select(): the oldest interface, with the limits people quote.
 *
 * What it shows:
 *  - the interest sets are bitmaps indexed by fd value, and select() overwrites them with the
 *    result, so the loop keeps master copies and hands the kernel a fresh copy every pass;
 *  - the kernel checks every fd below maxfd+1, and so does the loop afterwards: both costs grow
 *    with the highest fd, not with the number of ready ones;
 *  - FD_SETSIZE (1024) limits the fd *value*, not the count: an fd_set cannot describe fd 1024,
 *    and FD_SET() on it writes past the end of the set (undefined behaviour). So a connection
 *    whose fd is >= FD_SETSIZE is refused: closed at once, counted (rejected_fd_setsize), and
 *    reported once on stderr. The server keeps serving the others.
 * Readiness checks (stats "checks"): the fds set in the sets, per call; "walked": nfds (maxfd+1),
 * the bits the kernel steps over to find them; "scanned": the bits the loop's FD_ISSET walk reads.
 *
 * Run: echo-select --port 7000, then: nc 127.0.0.1 7000
 */
#include "plant.h"
#include "runtime.h"
#include "server.h"

#include <errno.h>

static struct server_config cfg = {.name = "select", .checks = CHECKS_SET_FDS};
static fd_set want_rd, want_wr;	       /* master copies: select() overwrites what it is given */
static struct conn *by_fd[FD_SETSIZE]; /* the fd value is the index, as in the sets */
static int maxfd;
/* fds in want_rd | want_wr: the ones do_select() polls on every call (the stats' "checks"). Kept
 * where interest changes, which is rarely, rather than counted over the sets on every pass. */
static uint64_t nset;

enum { WANT_RD = 1, WANT_WR = 2 }; /* conn.loop_state: the connection's bits in the master sets */

static void set_interest(struct conn *c)
{
	uint32_t want = (conn_wants_read(c) ? WANT_RD : 0u) | (conn_wants_write(c) ? WANT_WR : 0u);
	uint32_t had = c->loop_state;
	if (want == had)
		return; /* the common case: still reading, nothing pending */
	if (want & WANT_RD)
		FD_SET(c->fd, &want_rd);
	else
		FD_CLR(c->fd, &want_rd);
	if (want & WANT_WR)
		FD_SET(c->fd, &want_wr);
	else
		FD_CLR(c->fd, &want_wr);
	nset = nset + (want != 0) - (had != 0);
	c->loop_state = want;
}

static void drop(struct conn *c)
{
	FD_CLR(c->fd, &want_rd);
	FD_CLR(c->fd, &want_wr);
	nset -= c->loop_state != 0;
	by_fd[c->fd] = NULL;
	while (maxfd > 0 && !FD_ISSET(maxfd, &want_rd) && !FD_ISSET(maxfd, &want_wr) && !by_fd[maxfd])
		maxfd--;
	conn_close(c);
}

static void accept_all(struct listener *lis)
{
	struct conn *c;
	while ((c = server_accept(lis, false, &cfg))) { /* none with fd >= FD_SETSIZE: see serve() */
		by_fd[c->fd] = c;
		set_interest(c);
		if (c->fd > maxfd)
			maxfd = c->fd;
	}
}

/* The loop: the listener, the wake-up fd (runtime.h) and every connection, in two master sets. */
static void serve(struct loop *lp)
{
	struct listener *lis = lp->lis;
	lis->fd_limit = FD_SETSIZE; /* FD_SET(1024) would write past the set: refuse such fds */
	if (lis->fd >= FD_SETSIZE || lp->wake_fd >= FD_SETSIZE) {
		errno = EMFILE;
		fatal_errno("the listener's fd does not fit an fd_set");
	}
	FD_SET(lis->fd, &want_rd);
	FD_SET(lp->wake_fd, &want_rd);
	nset = 2;
	maxfd = lis->fd > lp->wake_fd ? lis->fd : lp->wake_fd;

	while (loop_running(lp)) {
		STAT_ADD(loop_passes, 1);
		fd_set rd = want_rd, wr = want_wr; /* a fresh copy for the kernel to overwrite */
		int n = sys_select(maxfd + 1, &rd, &wr);
		if (n < 0)
			fatal_errno("select");
		stats_wakeup(n);
		STAT_ADD(checks, nset);	     /* do_select() polled each fd set in the sets ... */
		STAT_ADD(walked, (uint64_t)maxfd + 1); /* ... stepping over every bit below nfds to find them */
		if (FD_ISSET(lp->wake_fd, &rd))
			loop_woken(lp); /* loop_running() acts on it before the next wait */
		int last = maxfd; /* accept_all() may raise maxfd: new fds were not in this pass's sets */
		if (PLANT_LOOP) { /* plant.h: the walk below, once more for nothing */
			volatile int seen = 0;
			for (int fd = 0; fd <= last; fd++)
				seen += (FD_ISSET(fd, &rd) || FD_ISSET(fd, &wr)) && by_fd[fd];
		}
		for (int fd = 0; fd <= last; fd++) {
			bool r = FD_ISSET(fd, &rd), w = FD_ISSET(fd, &wr);
			struct conn *c = by_fd[fd];
			if (!(r || w) || !c)
				continue;
			if (conn_serve(c, r, w)) /* one read or one write per readiness, as in poll.c */
				set_interest(c);
			else
				drop(c);
		}
		STAT_ADD(scanned, (uint64_t)last + 1); /* the walk above looked at fds 0..last */
		/* Accept after the walk: the connections that left in this pass have freed their fds, and
		 * the lowest free fd is what a newcomer gets. Accepting first, while they still held every
		 * fd below FD_SETSIZE, gave it 1024 and refused it (torture crowd/select). */
		if (FD_ISSET(lis->fd, &rd))
			accept_all(lis);
	}
}

int main(int argc, char **argv)
{
	options_parse(&cfg, argc, argv, NULL);
	cfg.variant = "default";
	return runtime_run(&cfg, &(struct runtime_config){.threads = 1}, serve);
}
