/* util.h - what every waitcost file shares: fatal errors and the clock.
 *
 * A benchmark that meets an unexpected syscall failure has nothing honest left to report, so
 * errors are fatal (exit 1, with strerror), as in Redis' ae backends. EINTR and EAGAIN are handled
 * where they can happen; anything else ends the run.
 */
#ifndef WAITCOST_UTIL_H
#define WAITCOST_UTIL_H

#include <stdint.h>
#include <time.h>

/* "waitcost: WHAT: strerror(errno)" on stderr, exit 1. */
_Noreturn void die(const char *what, ...) __attribute__((format(printf, 1, 2)));
/* The same without errno: the program found something wrong (a count, a set). */
_Noreturn void fail(const char *what, ...) __attribute__((format(printf, 1, 2)));

/* close() that fails loudly; EINTR is not retried, since Linux has released the fd by then. */
void xclose(int fd);

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO; cannot fail with a valid clock id */
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
