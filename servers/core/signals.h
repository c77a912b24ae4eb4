/* signals.h - SIGTERM/SIGINT stop a server (final stats, exit 0), SIGUSR1 asks for a snapshot.
 *
 * Three styles, one per kind of loop:
 *  SIGNALS_FD      the loop sleeps in select/poll/epoll_wait. The signals are blocked and arrive
 *                  on a signalfd that the loop watches like any socket (signals_fd()), and handles
 *                  with signals_on_readable(). No race between a flag check and the wait, and no
 *                  delay under load: ppoll/epoll_pwait with a signal mask would deliver a pending
 *                  signal only when the call finds nothing else ready (on a successful return the
 *                  kernel restores the mask first), so a saturated server would take its
 *                  snapshot seconds late.
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

enum signal_style { SIGNALS_FD, SIGNALS_POLLED, SIGNALS_THREAD };

void signals_init(enum signal_style style);
/* SIGNALS_FD: the signalfd to watch for readability, and what to do when it is readable. */
int signals_fd(void);
void signals_on_readable(void);
/* Writes a snapshot if one was asked for; false once the server was told to stop. */
bool server_running(void);
/* The same two questions apart, for a control side whose snapshot takes more than a
 * stats_write() (control.c first has every loop answer): true, once, per snapshot asked for since
 * the last call; and whether the server was told to stop. */
bool signals_take_snapshot(void);
bool signals_stop_requested(void);

#endif
