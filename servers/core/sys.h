/* sys.h - the syscalls a server makes, each one counted.
 *
 * Servers call these instead of read(), write(), ... so that the server's own count of every syscall
 * it makes is exact, and can be checked against the kernel's count (perf's raw_syscalls tracepoint).
 * The kinds and their kernel names are counters.h's SYS_CALLS; the counts are counters.h's too
 * (sys_counted() adds one to the calling thread's block).
 *
 * Every wrapper retries EINTR itself (each attempt is counted: the kernel saw it). The servers'
 * own signals come on a signalfd (signals.h), so an EINTR is only ever a stray: a debugger or
 * strace attaching, SIGSTOP and SIGCONT.
 */
#ifndef MUXBENCH_SYS_H
#define MUXBENCH_SYS_H

#include "counters.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

ssize_t sys_read(int fd, void *buf, size_t len);
ssize_t sys_write(int fd, const void *buf, size_t len);
int sys_accept4(int fd, int flags);
int sys_close(int fd);
int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int sys_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int sys_open_devnull(void);
int sys_poll(struct pollfd *fds, nfds_t n);		    /* no timeout */
int sys_poll_ms(struct pollfd *fds, nfds_t n, int timeout_ms); /* timed: control side, EMFILE wait */
int sys_select(int nfds, fd_set *rd, fd_set *wr);	    /* no timeout, no exceptfds */
int sys_epoll_create1(int flags);
int sys_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int sys_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms);
/* An eventfd used as a doorbell (the runtime's wake-ups): ring it once (a counted write), or take
 * every ring so far (a counted read; nothing there is not an error). 0, or -1 and errno. */
int sys_eventfd_ring(int fd);
int sys_eventfd_take(int fd);

#endif
