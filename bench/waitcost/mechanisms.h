/* mechanisms.h - one way per mechanism to learn which of the N registered fds are ready.
 *
 * A mechanism opens once per set (registering the interest set, not timed), then each call() is
 * what an event loop must do, per wake-up, to learn the ready set - exactly that and no more:
 *   select  copy the master fd_set (select overwrites it), select(maxfd + 1, &rd, NULL, NULL, NULL)
 *   poll    poll(pfds, N, -1) on a persistent array
 *   epoll   epoll_wait(epfd, events, N, -1) on a level-triggered set registered once
 *   uring   io_uring: a one-shot IORING_OP_POLL_ADD stays armed on each of the N fds; per call,
 *           re-arm the K that completed last call and reap K completions in one
 *           io_uring_submit_and_wait (the fds are still readable, so the re-armed polls complete
 *           during the submission): the io_uring analogue of a persistent interest set
 *   busy    read(fd, buf, 1) on every one of the N non-blocking fds (K get a byte, N - K EAGAIN)
 * Not included: the user-space scan a loop makes afterwards to find which fds select or poll
 * marked (FD_ISSET / revents over all N, about a nanosecond per fd) - the figure is the syscall.
 *
 * call() returns how many ready fds it learned of; the caller treats any count other than K as
 * fatal, so a broken set is never timed. With `seen`, call() also sets seen[i] for every index it
 * reported (the self-test's view; the timed loop passes NULL).
 */
#ifndef WAITCOST_MECHANISMS_H
#define WAITCOST_MECHANISMS_H

#include "fds.h"

#include <stdbool.h>

struct mech {
	const char *name;                            /* as in the CSV */
	bool consumes;                               /* a call reads a byte from each ready fd */
	const char *(*unusable)(const struct fdset *s); /* NULL, or why not on this set */
	void *(*open)(const struct fdset *s);
	int (*call)(void *st, bool *seen);
	void (*close)(void *st);
};

extern const struct mech mech_select, mech_poll, mech_epoll, mech_uring, mech_busy;

/* In CSV order; mech_find(NULL-terminated) by name. */
extern const struct mech *const mechs[];
const struct mech *mech_find(const char *name);

#endif
