/* stats.h - what a server reports about itself: one JSON object per line.
 *
 * A snapshot holds the syscall counts (sys.h), the echo work done (requests = reads that returned
 * data, bytes in and out), the connection churn, how many events each wake-up returned, every
 * refusal, and getrusage(). bench/ takes one snapshot at each end of a measured window (SIGUSR1)
 * and divides the differences by the requests in between.
 *
 * Counters are relaxed atomics for the same reason as in sys.h.
 */
#ifndef MUXBENCH_STATS_H
#define MUXBENCH_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct stats {
	_Atomic uint64_t requests;	    /* reads that returned data */
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t accepted;
	_Atomic uint64_t closed;
	_Atomic uint64_t conns;		    /* open right now */
	_Atomic uint64_t peak_conns;
	_Atomic uint64_t loop_passes;	    /* iterations of the event loop */
	_Atomic uint64_t wakeups;	    /* wait calls that returned (events / wakeups = batch size) */
	_Atomic uint64_t events;	    /* ready fds those calls reported */
	_Atomic uint64_t rejected_fd_setsize; /* select: fd too large for an fd_set */
	_Atomic uint64_t rejected_max_conns;  /* beyond --max-conns */
	_Atomic uint64_t accept_emfile;	      /* shed because the process ran out of fds */
	_Atomic uint64_t accept_errors;	      /* any other accept() failure */
	_Atomic uint64_t resets;	      /* connections that ended in an error (ECONNRESET, EPIPE) */
	_Atomic uint64_t threads;	      /* threads alive, the main one included */
};

extern struct stats stats;

#define STAT_ADD(field, n) atomic_fetch_add_explicit(&stats.field, (n), memory_order_relaxed)
#define STAT_SUB(field, n) atomic_fetch_sub_explicit(&stats.field, (n), memory_order_relaxed)

/* Identify the server in every line, and say whether sys.h's counters are used (libuv: no). */
void stats_init(const char *server, const char *variant, const char *path, bool counters);
void stats_conn_opened(void);
void stats_conn_closed(void);
/* Appends one line: type is "snapshot" or "final". Safe to call from any thread. */
void stats_write(const char *type);

#endif
