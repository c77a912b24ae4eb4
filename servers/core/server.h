/* server.h - everything a server loop needs from the core, in one include.
 *
 * The readiness loops (select, poll, busypoll, epoll) start through runtime.h, which calls
 * server_start() itself and runs the loop once or on several threads and processes. A server
 * that is not one such loop (thread-per-connection blocking, echo-uring, echo-libuv) starts here:
 *
 *     options_parse(&cfg, argc, argv, my_options);
 *     server_start(&cfg, SIGNALS_FD, false, &lis);   // stats, signals, listen, ready line
 *     while (server_running()) { wait; accept; conn_on_readable / conn_on_writable; }
 *     stats_write("final");
 */
#ifndef MUXBENCH_SERVER_H
#define MUXBENCH_SERVER_H

#include "clock.h"
#include "conn.h"
#include "fatal.h"
#include "listener.h"
#include "options.h"
#include "signals.h"
#include "stats.h"
#include "sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void server_start(const struct server_config *cfg, enum signal_style style, bool blocking,
		  struct listener *lis);

/* The next connection, accepted and wrapped: NULL once the backlog is empty (non-blocking) or an
 * accept failed for want of resources (counted by the listener; retried on the next readiness).
 * Refused connections (--max-conns, fd_limit, EMFILE) are skipped over here. */
struct conn *server_accept(struct listener *lis, bool blocking, const struct server_config *cfg);

/* A wait call returned n events (n may be 0). */
static inline void stats_wakeup(int n)
{
	STAT_ADD(wakeups, 1);
	STAT_ADD(events, (uint64_t)n);
}

#endif
