/* signals.h - SIGTERM/SIGINT stop a server (final stats, exit 0), SIGUSR1 asks for a snapshot.
 *
 * Three styles, one per kind of loop:
 *  SIGNALS_WAIT    the loop sleeps in ppoll/pselect/epoll_pwait. The signals stay blocked except
 *                  inside that call (signals_wait_mask()), so one arriving just before the loop goes
 *                  to sleep is not lost: the call returns EINTR at once. The classic race of a flag
 *                  checked before select() cannot happen.
 *  SIGNALS_POLLED  the loop never sleeps (busy-poll): handlers set flags it checks every pass.
 *  SIGNALS_THREAD  thread-per-connection: every thread blocks the signals and one extra thread
 *                  takes them with sigwaitinfo(), writes the stats and, to stop, exits the process.
 * The handlers only set flags; the loop writes the stats (server_running()), so a snapshot of a
 * single-threaded server is taken between two requests, never in the middle of one.
 * SIGPIPE is ignored in every style: a peer that left shows up as EPIPE, handled per connection.
 */
#ifndef MUXBENCH_SIGNALS_H
#define MUXBENCH_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

enum signal_style { SIGNALS_WAIT, SIGNALS_POLLED, SIGNALS_THREAD };

void signals_init(enum signal_style style);
/* The mask to pass to the wait call (SIGNALS_WAIT): the signals unblocked. */
const sigset_t *signals_wait_mask(void);
/* Writes a snapshot if one was asked for; false once the server was told to stop. */
bool server_running(void);

#endif
