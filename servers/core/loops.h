/* loops.h - run a server's event loop once, on T threads, or in P worker processes of T threads.
 *
 * A server file writes its loop as one function of a struct loop and hands it to loops_run(), which
 * does the rest: listeners, threads, worker processes, signals, snapshots and the final line.
 *
 *  - T = 1, no workers: the loop runs on the main thread and watches the signalfd itself, exactly
 *    as a single-loop server does (server_start(), server_running()).
 *  - T > 1: T loop threads, each with its own counter block (counters.h). The main thread runs no
 *    loop: it alone reads the signalfd. Each loop watches an eventfd of its own (wake_fd) through
 *    which the main thread tells it to stop or to answer a snapshot.
 *  - --workers P: P processes of T loops each, forked after every listener listens (so the port is
 *    known and the ready line printed once). The parent runs no loop: it is the supervisor, reading
 *    the signalfd, summing the counter blocks the workers write in shared memory, and writing every
 *    stats line. A worker that dies makes it kill the rest and exit 1.
 *
 * Accepting with several loops (--accept): "reuseport" gives every loop its own SO_REUSEPORT
 * listener, and the kernel spreads connections over them by a hash of their addresses; "exclusive"
 * puts one listener in every loop's epoll set with EPOLLEXCLUSIVE, so one connection wakes one
 * loop (not all of them: the thundering herd), whichever the kernel finds waiting first.
 *
 * --max-conns with several loops is checked against the shared count of open connections, but the
 * check and the count are two steps: loops accepting at the same instant can each pass it, so the
 * server may briefly hold up to (loops - 1) connections more than the limit.
 *
 * Snapshots stay exact: a snapshot is taken between requests in every loop, as in a single loop.
 * The control thread bumps a generation and wakes every loop; each answers at its next wake-up,
 * having finished whatever request it was in, and only when all have answered are the blocks
 * summed. (Summing on the fly would race a loop between its write() and its bytes_out += n: the
 * client can already hold the echo that the snapshot does not count yet.)
 */
#ifndef MUXBENCH_LOOPS_H
#define MUXBENCH_LOOPS_H

#include "counters.h"
#include "listener.h"
#include "options.h"

#include <stdbool.h>
#include <stdint.h>

struct loops_config {
	uint64_t threads;   /* event loops per process, 1.. */
	uint64_t workers;   /* 0: one process; otherwise this many worker processes */
	const char *accept; /* "reuseport" or "exclusive" (only matters with several loops) */
};

/* The default --accept, and why, is the server's to say (echo-epoll: see epoll.c). */
#define LOOPS_MAX 64 /* threads x workers: one stats line must hold every loop's figures */

struct loop {
	unsigned index;	      /* 0 .. threads x workers - 1 */
	struct listener *lis; /* this loop's listener */
	bool exclusive;	      /* lis is in every loop's set: register it with EPOLLEXCLUSIVE */
	int wake_fd;	      /* watch for readability; when readable, call loop_woken() */
	/* loops.c's own */
	bool single;		    /* T = 1, no workers: wake_fd is the signalfd */
	bool announced;		    /* has told loops_run() it is set up (first loop_running()) */
	struct loop_block *counters;
	struct worker_usage *usage; /* a worker's first loop: publishes its process's getrusage() */
};

typedef void loop_fn(struct loop *lp);

/* Starts the server, runs fn once per loop, and returns the exit status once the server has been
 * stopped and its final line written (0; 1 if a worker died). cfg->variant gains the layout
 * (level-t2, level-w2, level-w2t2, and -exclusive for a shared listener). Bad settings: one
 * line on stderr, exit 2. */
int loops_run(struct server_config *cfg, const struct loops_config *lc, loop_fn *fn);

/* False once the loop must return (the server is stopping). Call it once per pass, the first time
 * once the loop is set up: the ready line waits for every loop's first call. */
bool loop_running(struct loop *lp);
/* wake_fd was readable: take the signal (T = 1), or answer a snapshot. */
void loop_woken(struct loop *lp);

#endif
