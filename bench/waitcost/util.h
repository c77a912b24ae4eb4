/* util.h - what every waitcost file shares besides lib/ (fatal.h: errors, clock.h: now_ns).
 *
 * A benchmark that meets an unexpected syscall failure has nothing honest left to report, so
 * errors are fatal (fatal.h: exit 1, with strerror), as in Redis' ae backends. EINTR and EAGAIN
 * are handled where they can happen; anything else ends the run.
 */
#ifndef WAITCOST_UTIL_H
#define WAITCOST_UTIL_H

/* close() that fails loudly; EINTR is not retried, since Linux has released the fd by then. */
void xclose(int fd);

#endif
