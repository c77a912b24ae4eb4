/* clock.h - the one clock every muxbench program reads: CLOCK_MONOTONIC in nanoseconds.
 *
 * Monotonic, because a measured window must not stretch or shrink when NTP steps the wall clock;
 * nanoseconds in a uint64_t, because that is what the latency histograms and the units parser
 * (units.h: durations) speak, and it lasts centuries of uptime. now_ns() is inline: the loadgen
 * reads the clock once per wake-up and waitcost around every timed batch, and clock_gettime
 * through the vDSO is not a syscall, so the call itself should be the only cost. Also here:
 * sleeping on that clock, and getrusage's CPU times in the same kind of integer.
 */
#ifndef MUXBENCH_CLOCK_H
#define MUXBENCH_CLOCK_H

#include "fatal.h"

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) /* only with a bad clock id: never, but say so */
		fatal_errno("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A struct timeval (getrusage's CPU times) in microseconds. */
static inline uint64_t timeval_us(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

/* Sleeps until now_ns() >= t; a signal does not cut the sleep short. */
void sleep_until_ns(uint64_t t);

/* Sleeps for about ns (relative; a signal does not cut it short): for polling loops. */
void sleep_ns(uint64_t ns);

#endif
