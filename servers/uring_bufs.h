/* uring_bufs.h - echo-uring's provided-buffer ring: the receive buffers every connection shares.
 *
 * A recv armed with IOSQE_BUFFER_SELECT lets the kernel pick a buffer from this ring only when data
 * arrives, so an idle connection pins none. What a receive brought is copied into the connection's
 * own echo buffer (connbuf.h) at once and the ring buffer handed back: a client that never reads
 * then holds its own --buffer, not the ring every other connection needs. Bytes that do not fit
 * yet (they arrived after the connection stopped reading) are held, in order, in their ring
 * buffers until they do; uring.c never re-arms a connection that holds any. A connection whose
 * recv found the ring empty (-ENOBUFS) waits in a queue, first come first re-armed, as buffers
 * come back. Connections are known by fd, as in the ring's user_data.
 */
#ifndef MUXBENCH_URING_BUFS_H
#define MUXBENCH_URING_BUFS_H

#include "connbuf.h"

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { BUFS_GROUP = 0 };

/* Registers the ring as buffer group BUFS_GROUP, each buffer min(--buffer, a page): no bigger than
 * --buffer, so one always fits in an empty connection; fds below max_fds. Returns the buffer size,
 * or 0 with *rc the (negative) error of the registration. Exits 1 without memory for it. */
uint32_t bufs_init(struct io_uring *ring, uint32_t buffer, size_t max_fds, int *rc);
void bufs_exit(void);

/* A receive of fd's completed into ring buffer bid with n bytes: copied into b (moving b's pending
 * output only if may_move) and the buffer handed back; or, if fd holds some already or it does not
 * fit, held behind them. */
void bufs_received(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move);
/* As much of what fd holds as fits now, oldest first, into b; those buffers go back to the ring. */
void bufs_take_held(int fd, struct connbuf *b);
/* Bytes fd holds in ring buffers. */
uint32_t bufs_held(int fd);

/* fd's recv ended with -ENOBUFS: it waits for buffers. */
void bufs_starved(int fd);
/* The connections that may re-arm now, in the order they starved: as many as the ring has free
 * buffers (each re-armed recv takes at least one, so re-arming them all would only have the rest
 * fail again). Calls rearm(fd) for each. */
void bufs_rearm_starved(void (*rearm)(int fd));

/* fd's connection is gone: what it held goes back to the ring, and it waits for nothing. */
void bufs_forget(int fd);

#endif
