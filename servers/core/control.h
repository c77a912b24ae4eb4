/* control.h - how the control side and T x P loops agree on stops and snapshots.
 *
 * With several loops, one place reads the signals (the main thread with --threads, the supervisor
 * with --workers) and the loops hear from it through their wake_fd (loop.h).
 *
 * Snapshots stay exact: a snapshot is taken between requests in every loop, as in a single loop.
 * The control side bumps a generation and wakes every loop; each answers at its next wake-up,
 * having finished whatever request it was in, by freezing a copy of its counts (counters.h), and
 * only when all have answered are the frozen copies summed. (Summing on the fly would race a loop
 * between its write() and its bytes_out += n: the client can already hold the echo that the
 * snapshot does not count yet.)
 *
 * pids/npids below: the workers' pidfds (npids 0 with threads alone), so that a worker that dies
 * during any wait ends it: the functions then return false.
 */
#ifndef MUXBENCH_CONTROL_H
#define MUXBENCH_CONTROL_H

#include "loop.h"
#include "options.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Shares the control block (MAP_SHARED, so forked workers see it) with loops[0 .. n), and gives
 * each loop its wake_fd. Exits 1 if the machine refuses (fatal_errno). */
void control_create(const struct server_config *cfg, struct loop *loops, size_t n);
/* Waits until every loop has set up, then prints the ready line for lis_fd. */
bool control_announce(int lis_fd, const struct pollfd *pids, size_t npids);
/* Signals in, snapshots out, until the server is told to stop (true). */
bool control_run(const struct pollfd *pids, size_t npids);
/* Tells every loop to return. */
void control_stop(void);
/* CLOCK_MONOTONIC in milliseconds: the control side's deadlines. */
int64_t control_now_ms(void);
/* Closes the wake-up fds and unmaps the block, once no loop runs. */
void control_destroy(void);

#endif
