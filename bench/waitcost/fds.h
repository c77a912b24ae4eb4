/* fds.h - the registered set: N connected, non-blocking sockets of which exactly K are readable.
 *
 * The peer ends live in a child process (the "peer"), so the parent's fd table holds only the N
 * registered fds: 19,000 of them plus their peers would not fit under this machine's hard limit of
 * 20,000 fds per process, and a peer in the same process would also sit in select's fd range.
 * The peer writes PRELOAD bytes to the peers of K fds spread evenly over the N; nothing else is
 * ever written, and select/poll/epoll/io_uring never read, so the same K stay ready for every call.
 */
#ifndef WAITCOST_FDS_H
#define WAITCOST_FDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sock_kind { SOCK_TCP, SOCK_UNIX };

/* Bytes queued on each ready fd. The busy pass reads one byte per ready fd per call, so this caps
 * the busy calls a set can serve (measure.c budgets them). 64 KiB is one write, which a loopback
 * TCP socket takes into its receive queue whole at the default tcp_rmem. */
#define PRELOAD 65536

struct fdset {
	int n, k;
	enum sock_kind kind;
	int *fd;         /* [n] the registered fds, non-blocking */
	bool *ready;     /* [n] the claimed ready set: ready[i] iff PRELOAD bytes were queued on fd[i] */
	int *ready_idx;  /* [k] the indices i with ready[i], ascending */
	unsigned *id;    /* [n] how the peer names fd[i]'s other end: peer_tcp_id(), or i for unix */
	int maxfd;       /* the highest fd[i]: select needs maxfd < FD_SETSIZE */
	size_t consumed; /* bytes read so far from each ready fd (by the busy pass) */
	pid_t peer;      /* the child holding the other ends */
	int ctl;         /* SOCK_SEQPACKET to the peer */
};

/* The index of the j-th ready fd (0 <= j < k <= n): the centre of the j-th of k equal strides.
 * Not index 0: select and poll stop queueing themselves on wait queues once they meet a ready
 * fd, so a ready fd at the front would spare them the per-fd wait-queue work a real loop pays. */
int fdset_ready_index(int j, int n, int k);

/* Build the set (exits 1 on any failure, never returns a partial set). */
void fdset_build(struct fdset *s, int n, int k, enum sock_kind kind);

/* Close everything, reset TCP connections (no TIME_WAIT left for the next set), reap the peer. */
void fdset_free(struct fdset *s);

const char *sock_kind_name(enum sock_kind kind);

#endif
