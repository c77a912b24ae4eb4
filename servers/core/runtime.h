/* runtime.h - run a server's event loop (loop.h) once, on T threads, or in P processes of T threads.
 *
 * A server file writes its loop as one function of a struct loop and hands it to runtime_run(),
 * which does the rest: the listeners, the signals, threads and worker processes, snapshots and
 * the final line. select, poll, busypoll and epoll all start here.
 *
 *  - T = 1, no workers: the loop runs on the main thread and is the whole server. Its wake_fd is
 *    the signalfd, and loop_running() writes a snapshot when asked: no control thread and no
 *    eventfd, so a single loop's counts are exactly its own work.
 *  - T > 1: T loop threads, each with its own counter block (counters.h). The main thread runs no
 *    loop: it alone reads the signalfd, and tells the loops through their wake_fd (control.h).
 *  - --workers P: P processes of T loops each, under a supervisor (supervisor.h).
 *
 * Accepting with several loops (--accept): "reuseport" gives every loop its own SO_REUSEPORT
 * listener, and the kernel spreads connections over them by a hash of their addresses; "exclusive"
 * puts one listener in every loop's set (listener.h's `exclusive`), so one connection wakes one
 * loop (not all of them: the thundering herd), whichever the kernel finds waiting first.
 *
 * --max-conns with several loops is checked against the shared count of open connections, but the
 * check and the count are two steps: loops accepting at the same instant can each pass it, so the
 * server may briefly hold up to (loops - 1) connections more than the limit.
 */
#ifndef MUXBENCH_RUNTIME_H
#define MUXBENCH_RUNTIME_H

#include "loop.h"
#include "options.h"
#include "signals.h"

#include <stdint.h>

struct runtime_config {
	uint64_t threads;	   /* event loops per process, 1.. */
	uint64_t workers;	   /* 0: one process; otherwise this many worker processes */
	const char *accept;	   /* several loops: "reuseport" (NULL: the same) or "exclusive" */
	enum signal_style signals; /* SIGNALS_FD; SIGNALS_POLLED for one loop that never sleeps */
};

#define RUNTIME_MAX_LOOPS COUNTERS_MAX_LOOPS /* threads x workers */

/* Starts the server, runs fn once per loop, and returns the exit status once the server has been
 * stopped and its final line written (0; 1 if a worker died). With several loops, cfg->variant
 * gains the layout (level-t2, level-w2, level-w2t2, and -exclusive for a shared listener). Bad
 * settings: one line on stderr, exit 2. */
int runtime_run(struct server_config *cfg, const struct runtime_config *rc, loop_fn *fn);

#endif
