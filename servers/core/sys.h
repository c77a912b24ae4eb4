/* sys.h - the syscalls a server makes, each one counted.
 *
 * Servers call these instead of read(), write(), ... so that the server's own count of every syscall
 * it makes is exact, and can be checked against the kernel's count (perf's raw_syscalls tracepoint).
 * The names in sys_names[] are the kernel's syscall names, so the two counts line up kind by kind.
 *
 * Counters are relaxed atomics: the thread-per-connection server increments them from thousands of
 * threads, and a snapshot may be taken from another thread. Uncontended, an atomic add costs a few
 * nanoseconds against a syscall's ~70 ns, and every server pays it alike. "Uncontended" is the
 * point of sys_local: a thread counts into the block it points at, the process's sys_count unless
 * an event-loop thread attached a block of its own (counters.h), so two loops on two cores never
 * share a counter's cache line; the snapshot sums the blocks.
 *
 * Every wrapper retries EINTR itself (each attempt is counted: the kernel saw it). The servers'
 * own signals come on a signalfd (signals.h), so an EINTR is only ever a stray: a debugger or
 * strace attaching, SIGSTOP and SIGCONT.
 */
#ifndef MUXBENCH_SYS_H
#define MUXBENCH_SYS_H

#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

enum sys_kind {
	SYS_READ,
	SYS_WRITE,
	SYS_ACCEPT4,
	SYS_CLOSE,
	SYS_SETSOCKOPT,
	SYS_OPENAT,
	SYS_POLL,
	SYS_PSELECT6, /* what glibc's select() calls */
	SYS_EPOLL_CREATE1,
	SYS_EPOLL_CTL,
	SYS_EPOLL_WAIT,
	SYS_IO_URING_SETUP,
	SYS_IO_URING_REGISTER,
	SYS_IO_URING_ENTER, /* echo-uring's only syscall per pass: submit the queued work and wait */
	SYS__COUNT
};

extern const char *const sys_names[SYS__COUNT];

/* Operations handed to the kernel without a syscall each: io_uring submission queue entries. One
 * io_uring_enter() submits many of them, so they are counted apart from the syscalls. */
enum sys_op { OP_ACCEPT, OP_RECV, OP_SEND, OP_POLL, OP_CANCEL, OP__COUNT };

extern const char *const sys_op_names[OP__COUNT];

struct sys_counters {
	_Atomic uint64_t calls[SYS__COUNT];
	_Atomic uint64_t read_eagain;  /* read() that found nothing: the busy-poll server's waste */
	_Atomic uint64_t write_eagain; /* write() that found the socket's send buffer full */
	_Atomic uint64_t ops[OP__COUNT]; /* io_uring operations submitted, by kind */
};

extern struct sys_counters sys_count;			   /* the process's block */
extern _Thread_local struct sys_counters *sys_local; /* this thread's: &sys_count by default */

static inline void sys_counted(enum sys_kind k)
{
	atomic_fetch_add_explicit(&sys_local->calls[k], 1, memory_order_relaxed);
}

static inline void sys_op_counted(enum sys_op op)
{
	atomic_fetch_add_explicit(&sys_local->ops[op], 1, memory_order_relaxed);
}

ssize_t sys_read(int fd, void *buf, size_t len);
ssize_t sys_write(int fd, const void *buf, size_t len);
int sys_accept4(int fd, int flags);
int sys_close(int fd);
int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int sys_open_devnull(void);
int sys_poll(struct pollfd *fds, nfds_t n);		    /* no timeout */
int sys_select(int nfds, fd_set *rd, fd_set *wr);	    /* no timeout, no exceptfds */
int sys_epoll_create1(int flags);
int sys_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int sys_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms);

#endif
