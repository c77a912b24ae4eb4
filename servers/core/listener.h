/* listener.h - the listening socket and accept(), with the failure modes solved once:
 *  - EMFILE/ENFILE: the pending connection would stay in the backlog and keep the listener readable,
 *    so a loop would spin. We keep a spare fd: close it, accept, close the new connection, reopen
 *    the spare. The client sees the connection closed; the refusal is counted (accept_emfile).
 *  - --max-conns: a connection beyond the limit is accepted and closed at once, and counted.
 *  - fd_limit: a connection whose fd is too large for the loop (select's FD_SETSIZE) likewise,
 *    counted in rejected_fd_setsize and reported once on stderr.
 *  - every accepted socket gets TCP_NODELAY, so a small echo is never held back by Nagle's algorithm
 *    (set on the listener too, whose accepted sockets inherit it: those without an fd need that).
 */
#ifndef MUXBENCH_LISTENER_H
#define MUXBENCH_LISTENER_H

#include "options.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct listener {
	int fd;
	int spare;	     /* /dev/null, given up to make room for one accept() at EMFILE */
	uint64_t max_conns;  /* 0: no limit */
	int fd_limit;	     /* 0, or refuse (close and count) an fd >= this: select's FD_SETSIZE */
	const char *name;    /* for the messages */
	/* NULL, or one lock for every loop thread accepting in this process: accept() takes it
	 * shared, the EMFILE shed exclusive. Otherwise another loop's accept() can take the fd slot
	 * the spare just gave up, and the spare, once lost, cannot be had back while every fd is in
	 * use: that loop's backlog would then never be shed. Taken once per connection, never per
	 * request. */
	pthread_rwlock_t *fd_lock;
	bool arrival_pending; /* blocking listener at EMFILE: poll() saw a connection to shed */
	/* One listening socket in every loop's set (--accept exclusive): register it with
	 * EPOLLEXCLUSIVE, so one connection wakes one loop. Set by the runtime, not by
	 * listener_open*(); listener_share() copies it. */
	bool exclusive;
};

/* Binds and listens; the listener is non-blocking unless blocking is asked for. Exits 1 on failure.
 * Prints the ready line 'listening on ADDR:PORT' on stdout. */
void listener_open(struct listener *l, const struct server_config *cfg, bool blocking);

/* A non-blocking listener bound to port (0 picks a free one) without the ready line: the caller
 * prints it once, when every listener it needs listens. With reuseport, one of a SO_REUSEPORT
 * group, one per event loop: open the first at port 0, then the rest at its listener_port(); the
 * kernel spreads incoming connections over the group by a hash of their addresses. */
void listener_open_at(struct listener *l, const struct server_config *cfg, uint16_t port,
		      bool reuseport);
uint16_t listener_port(const struct listener *l);

/* Another event loop's handle on the same listening socket (one listener in every epoll set, with
 * EPOLLEXCLUSIVE): the same fd, but a spare of its own, because the EMFILE trick closes and reopens
 * the spare, which two threads must not do to one fd. listener_unshare() closes that spare only. */
void listener_share(struct listener *copy, const struct listener *l);
void listener_unshare(struct listener *copy);

/* The ready line for a listening fd, 'listening on ADDR:PORT' on stdout, and a warning on stderr
 * when ADDR is not a loopback address. listener_open() calls it; with listener_open_at(), the
 * caller does, once every listener listens. */
void listener_ready(const struct server_config *cfg, int fd);

/* Accepts one connection: its fd, non-blocking unless blocking is asked for. Otherwise -1 and errno:
 * EAGAIN: nothing pending; ECONNABORTED: a connection was refused or gone (call again);
 * EMFILE: out of fds with nothing pending to shed (wait for the next readiness: an arrival is
 * shed then); anything else: a resource error (counted; wait for the next readiness). */
int listener_accept(struct listener *l, bool blocking);

/* The checks every accepted fd goes through (fd_limit, --max-conns, TCP_NODELAY), for an fd that was
 * accepted elsewhere (echo-uring's multishot accept). False: the fd was closed and counted, and
 * errno is ECONNABORTED. listener_accept() applies it itself. */
bool listener_admit(struct listener *l, int fd);

/* The same for a socket that has no fd (echo-uring --fixed-files: a direct accept put it in a slot
 * of the ring's file table): --max-conns only, counted; false: the caller closes the slot. No
 * setsockopt() can reach such a socket: it has TCP_NODELAY from the listener, which every
 * listener here sets (Linux copies it into accepted sockets). fd_limit does not apply: a slot is
 * not an fd number. */
bool listener_admit_direct(struct listener *l);

void listener_close(struct listener *l);

#endif
