/* clock.c - sleeping on the monotonic clock (clock.h). */
#include "clock.h"

#include <errno.h>

/* clock_nanosleep returns the error instead of setting errno. Absolute time, so that a retry
 * after EINTR does not add the time already slept. */
void sleep_until_ns(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
	int err;
	while ((err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR)
		;
	if (err) {
		errno = err;
		fatal_errno("clock_nanosleep");
	}
}

void sleep_ns(uint64_t ns)
{
	sleep_until_ns(now_ns() + ns);
}
