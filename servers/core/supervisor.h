/* supervisor.h - P worker processes under one supervisor (echo-epoll --workers P).
 *
 * Workers are forked after every listener listens, so the port is known and the ready line is
 * printed once. The parent runs no loop: it is the control side (control.h), reading the
 * signalfd, and writing every stats line from the counter blocks the workers write in shared
 * memory (counters.h). A worker that dies makes it kill the rest and exit 1. It learns that a
 * worker died from the worker's pidfd (poll()able, unlike a SIGCHLD, which the signalfd would then
 * have to share with the stop signals).
 */
#ifndef MUXBENCH_SUPERVISOR_H
#define MUXBENCH_SUPERVISOR_H

#include "options.h"

#include <stddef.h>

struct supervisor_plan {
	size_t workers;
	int lis_fd; /* for the ready line */
	/* In worker w (0 ..): keep only worker w's share of the fds, run its loops, and return
	 * once they stopped; the worker then exits 0. */
	void (*worker)(size_t w);
	/* In the supervisor, once every worker is set up: close what the workers own now. */
	void (*handed_over)(void);
};

/* Runs the workers until the server is told to stop; the exit status: 0 once every worker exited
 * cleanly and the final line is written, 1 (and no final line) if one died. */
int supervisor_run(const struct server_config *cfg, const struct supervisor_plan *plan);

#endif
