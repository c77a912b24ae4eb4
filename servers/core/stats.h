/* stats.h - what a server reports about itself: one JSON object per line.
 *
 * A line holds the syscall counts, the echo work done (requests = reads that returned data, bytes
 * in and out), the connection churn, how many events each wake-up returned, the readiness checks
 * the kernel made (checks, walked, scanned), every refusal, and getrusage() (fields:
 * results/README.md). bench/ takes one snapshot at each end of a measured
 * window (SIGUSR1) and divides the differences by the requests in between.
 *
 * The counts themselves are counters.h's; this module only formats a snapshot of them. It is
 * included for the counting macros too (STAT_ADD, stats_conn_opened), which counters.h defines.
 */
#ifndef MUXBENCH_STATS_H
#define MUXBENCH_STATS_H

#include "counters.h"

#include <stdbool.h>

/* Identify the server in every line, say whether the syscall counts are kept (libuv: no), and
 * what its readiness checks are (counters.h's enum checks_model; CHECKS_NONE: null). */
void stats_init(const char *server, const char *variant, const char *path, bool counters,
		enum checks_model checks);
/* Appends one line: type is "snapshot" or "final". Safe to call from any thread. A snapshot of a
 * server with loop blocks sums what each loop froze when it answered (control.h). */
void stats_write(const char *type);

#endif
