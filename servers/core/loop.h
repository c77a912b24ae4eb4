/* loop.h - what a server's event loop sees of the runtime (runtime.h): one struct and two calls.
 *
 * A server writes its loop as one function of a struct loop:
 *
 *     static void serve(struct loop *lp)
 *     {
 *         watch lp->lis->fd and lp->wake_fd;
 *         while (loop_running(lp)) {
 *             wait;
 *             if (lp->wake_fd is readable) loop_woken(lp);
 *             accept on lp->lis, serve the connections that are ready;
 *         }
 *     }
 *
 * The same function runs as the whole server (one loop: wake_fd is the signalfd) or as one of T
 * loops on T threads in P processes (wake_fd is an eventfd of its own, through which the control
 * side asks it to stop or to answer a snapshot). Either way the loop's wake-up is just one more
 * fd in its set, and a stop or a snapshot is acted on between two requests, never inside one.
 */
#ifndef MUXBENCH_LOOP_H
#define MUXBENCH_LOOP_H

#include "counters.h"
#include "listener.h"

#include <stdbool.h>

struct loop {
	unsigned index;	      /* 0 .. threads x workers - 1 */
	struct listener *lis; /* this loop's (lis->exclusive: one listener in every loop's set) */
	int wake_fd;	      /* watch for readability, then call loop_woken(); -1: the loop never
			       * sleeps (SIGNALS_POLLED), and loop_running() alone takes the signals */
	/* the runtime's own */
	bool single;		    /* the whole server: wake_fd is the signalfd */
	bool announced;		    /* has told the control side it is set up */
	struct loop_block *counters;
	struct worker_usage *usage; /* a worker's first loop: publishes its process's getrusage() */
};

typedef void loop_fn(struct loop *lp);

/* False once the loop must return (the server is stopping). Call it once per pass, the first time
 * once the loop is set up: the ready line waits for every loop's first call. */
bool loop_running(struct loop *lp);
/* wake_fd was readable: take the signal (one loop), or answer a snapshot (control.h). */
void loop_woken(struct loop *lp);

#endif
