/* uring_ring.h - echo-uring's ring itself: setting it up, queueing, one enter per pass with its
 * batching, and the provided-buffer ring every connection shares. uring.c is the echo server on
 * top: which operations to queue, and what their completions mean.
 *
 * Set-up takes the strongest flags the kernel knows: SINGLE_ISSUER | DEFER_TASKRUN (completions
 * run only when we wait, in our own context, not by interrupting us), else COOP_TASKRUN, else
 * none; the stats' variant says which. With --sqpoll (struct ring_sqpoll) a kernel thread polls the
 * submission queue instead: then a pass makes a syscall only to wait when no completion is ready,
 * or to wake that thread after it slept (ring_pass()). Exit 77 (a skip) only for a reason outside
 * this code: the kernel refuses io_uring (ENOSYS: not built in; EPERM: kernel.io_uring_disabled,
 * a seccomp or LSM policy) or is older than 6.0 (multishot recv, buffer rings). Anything else
 * (EINVAL from our own parameters on a kernel that has everything, ENOMEM, ...) exits 1: a skip
 * there would hide a bug behind every uring test, bench row and gate check.
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
#ifndef MUXBENCH_URING_RING_H
#define MUXBENCH_URING_RING_H

#include "connbuf.h"

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1u << 0) /* Linux 6.10; liburing 2.3 predates it */
#endif

enum { BUFS_GROUP = 0, RING_BATCH_MAX = 64 /* arrivals one wait may ask for */ };

extern struct io_uring ring;

/* --sqpoll: IORING_SETUP_SQPOLL. A kernel thread (iou-sqp-PID, one of this process's threads, so
 * its CPU time is in the process's) takes submissions off the queue as they are published, and
 * posts their completions; after idle_ms without any it sleeps, and the next submission wakes it
 * with one io_uring_enter(). cpu >= 0 pins it to that CPU (IORING_SETUP_SQ_AFF); -1 leaves it
 * where the kernel puts it, which may be any CPU, the loadgen's too. */
struct ring_sqpoll {
	bool on;
	int cpu;
	uint32_t idle_ms;
};

/* Sets the ring up; returns the variant that ran ("defer_taskrun", "coop_taskrun", "plain", or
 * with sq->on "sqpoll"). */
const char *ring_init(const struct ring_sqpoll *sq);
/* --fixed-files: a sparse registered file table of `slots` entries (a direct accept installs each
 * connection in a free one; recv and send name the slot, with IOSQE_FIXED_FILE) and the ring's own
 * fd registered, so that neither an operation nor an io_uring_enter() looks its file up in the
 * process's fd table and takes a reference on it: what io_uring saves beyond the syscalls. */
void ring_register_files(unsigned slots);
/* An option's kernel feature, probed once the ring is set up: exits 77 (bench/run:
 * unsupported:kernel) naming the option, the feature and the errno a request would meet, when the
 * kernel lacks it. --bundle: IORING_FEAT_RECVSEND_BUNDLE (6.10); --zc: IORING_OP_SEND_ZC (6.0) and
 * its usage report (6.2, which only a send could refuse: judged by the release). */
void ring_need_bundle(void); /* and the multishot recv byte limit (6.16): see uring.c */
void ring_need_send_zc(void);
/* The next free submission entry; when the queue is full, submits what is there to make room. */
struct io_uring_sqe *ring_sqe(void);

/* What a pass tells the next wait: the sends it queued and the arrivals it reaped (both reset by
 * ring_enter()), and the options that decide whether to hold out for a batch. */
struct ring_batch {
	uint64_t wait_ns; /* --batch-wait: the longest a wait holds out (0: never) */
	uint64_t min;	  /* --batch-min: hold out only after a pass reaped this many */
	unsigned sends, arrivals;
};
/* One pass: one io_uring_enter() submits what was queued and waits; then handle() for each
 * completion. Returns how many there were. With --sqpoll: the queue is published with a store, and
 * the pass enters the kernel only to wait when no completion is ready or to wake the sleeping SQ
 * thread (one call does both); b's batching is not used. */
unsigned ring_pass(struct ring_batch *b, void (*handle)(struct io_uring_cqe *cqe));

/* Registers the buffer ring as group BUFS_GROUP, each buffer min(--buffer, a page): no bigger than
 * --buffer, so one always fits in an empty connection; fds below max_fds. Returns the size. */
uint32_t bufs_init(uint32_t buffer, size_t max_fds);
void bufs_exit(void);

/* A receive of fd's completed into ring buffer bid with n bytes: copied into b (moving b's pending
 * output only if may_move) and the buffer handed back; or, if fd holds some already or it does not
 * fit, held behind them. */
void bufs_received(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move);
/* The same for a bundle (--bundle: IORING_RECVSEND_BUNDLE): n bytes in as many ring buffers as
 * they fill, the first bid, the others the ring entries after it. The kernel takes buffers from
 * the ring's head in order and a completion names only the first, so this counts the head along
 * with the kernel (every receive is a bundle then) and reads the others' ids from the entries,
 * which no buffer handed back can have overwritten yet (uring_ring.c). Exits 1 if the entry at
 * the head is not bid: the count and the kernel disagree, and the bytes would go astray. */
void bufs_received_bundle(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move);
/* As much of what fd holds as fits now, oldest first, into b; those buffers go back to the ring.
 * _pinned: without moving b's pending output (--zc: the kernel still reads it). */
void bufs_take_held(int fd, struct connbuf *b);
void bufs_take_held_pinned(int fd, struct connbuf *b);
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
