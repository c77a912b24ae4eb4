/* stats.h - what a server reports about itself: one JSON object per line.
 *
 * A snapshot holds the syscall counts (sys.h), the echo work done (requests = reads that returned
 * data, bytes in and out), the connection churn, how many events each wake-up returned, every
 * refusal, and getrusage(). bench/ takes one snapshot at each end of a measured window (SIGUSR1)
 * and divides the differences by the requests in between.
 *
 * Counters are relaxed atomics for the same reason as in sys.h. They live in two kinds of block:
 *  - per-request counters (requests ... loop_closed below) go to the calling thread's block,
 *    stats_local: the process's `stats` unless an event-loop thread attached its own (counters.h).
 *    Two loops on two cores bumping one shared line on every request would bounce it between the
 *    cores and inflate the very CPU per request the benchmark publishes;
 *  - per-connection gauges (accepted ... threads) stay in one shared block, stats_gauges (`stats`,
 *    or shared memory across --workers processes): --max-conns and peak_conns need one true total,
 *    and they are touched once per connection, not per request.
 * STAT_ADD(field, n) picks the block from the field's offset, a compile-time constant, so call
 * sites do not change and the choice costs nothing at run time.
 */
#ifndef MUXBENCH_STATS_H
#define MUXBENCH_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stats {
	/* per request: in the calling thread's block */
	_Atomic uint64_t requests;	    /* reads that returned data */
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t loop_passes;	    /* iterations of the event loop */
	_Atomic uint64_t wakeups;	    /* wait calls that returned (events / wakeups = batch size) */
	_Atomic uint64_t events;	    /* ready fds those calls reported */
	_Atomic uint64_t resets;	    /* connections that ended in an error (ECONNRESET, EPIPE) */
	_Atomic uint64_t loop_accepted;	    /* this loop's share of accepted and closed: the "loops" */
	_Atomic uint64_t loop_closed;	    /* breakdown shows how connections spread over the loops */
	/* per connection: in the one shared block */
	_Atomic uint64_t accepted;
	_Atomic uint64_t closed;
	_Atomic uint64_t conns;		    /* open right now */
	_Atomic uint64_t peak_conns;
	_Atomic uint64_t rejected_fd_setsize; /* select: fd too large for an fd_set */
	_Atomic uint64_t rejected_max_conns;  /* beyond --max-conns */
	_Atomic uint64_t accept_emfile;	      /* shed because the process ran out of fds */
	_Atomic uint64_t accept_errors;	      /* any other accept() failure */
	_Atomic uint64_t threads;	      /* threads alive, the main one included */
};

/* Every field of struct stats, for sums and copies (counters.c); stats.c asserts it is complete. */
#define STATS_FIELDS(X)                                                                            \
	X(requests) X(bytes_in) X(bytes_out) X(loop_passes) X(wakeups) X(events) X(resets)         \
	X(loop_accepted) X(loop_closed) X(accepted) X(closed) X(conns) X(peak_conns)               \
	X(rejected_fd_setsize) X(rejected_max_conns) X(accept_emfile) X(accept_errors) X(threads)
/* The process's block: the gauges, and the per-request counters of every thread that has not
 * attached a block of its own (the thread-per-connection server, every single-loop server). */
extern struct stats stats;
extern struct stats *stats_gauges;		/* &stats, or the workers' shared block */
extern _Thread_local struct stats *stats_local; /* &stats, or this loop's own block */

#define STATS_PER_REQUEST_END offsetof(struct stats, accepted)
#define STATS_BLOCK(field) \
	(offsetof(struct stats, field) < STATS_PER_REQUEST_END ? stats_local : stats_gauges)
#define STAT_ADD(field, n) \
	atomic_fetch_add_explicit(&STATS_BLOCK(field)->field, (n), memory_order_relaxed)
#define STAT_SUB(field, n) \
	atomic_fetch_sub_explicit(&STATS_BLOCK(field)->field, (n), memory_order_relaxed)
/* A gauge's current value (a per-request counter's would only be this thread's share). */
#define STAT_GAUGE(field) atomic_load_explicit(&stats_gauges->field, memory_order_relaxed)

/* Identify the server in every line, and say whether sys.h's counters are used (libuv: no). */
void stats_init(const char *server, const char *variant, const char *path, bool counters);
void stats_conn_opened(void);
void stats_conn_closed(void);
/* Appends one line: type is "snapshot" or "final". Safe to call from any thread. */
void stats_write(const char *type);

#endif
