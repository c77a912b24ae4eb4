/* sys.c - counting syscall wrappers; see sys.h for why they exist. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

const char *const sys_names[SYS__COUNT] = {
	[SYS_READ] = "read",
	[SYS_WRITE] = "write",
	[SYS_ACCEPT4] = "accept4",
	[SYS_CLOSE] = "close",
	[SYS_SETSOCKOPT] = "setsockopt",
	[SYS_OPENAT] = "openat",
	[SYS_POLL] = "poll",
	[SYS_PSELECT6] = "pselect6",
	[SYS_EPOLL_CREATE1] = "epoll_create1",
	[SYS_EPOLL_CTL] = "epoll_ctl",
	[SYS_EPOLL_WAIT] = "epoll_wait",
	[SYS_IO_URING_SETUP] = "io_uring_setup",
	[SYS_IO_URING_REGISTER] = "io_uring_register",
	[SYS_IO_URING_ENTER] = "io_uring_enter",
};

const char *const sys_op_names[OP__COUNT] = {
	[OP_ACCEPT] = "accept",
	[OP_RECV] = "recv",
	[OP_SEND] = "send",
	[OP_POLL] = "poll",
	[OP_CANCEL] = "cancel",
};

struct sys_counters sys_count;
_Thread_local struct sys_counters *sys_local = &sys_count;

ssize_t sys_read(int fd, void *buf, size_t len)
{
	ssize_t n;
	do {
		sys_counted(SYS_READ);
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		atomic_fetch_add_explicit(&sys_local->read_eagain, 1, memory_order_relaxed);
	return n;
}

ssize_t sys_write(int fd, const void *buf, size_t len)
{
	ssize_t n;
	do {
		sys_counted(SYS_WRITE);
		n = write(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		atomic_fetch_add_explicit(&sys_local->write_eagain, 1, memory_order_relaxed);
	return n;
}

int sys_accept4(int fd, int flags)
{
	int c;
	do {
		sys_counted(SYS_ACCEPT4);
		c = accept4(fd, NULL, NULL, flags);
	} while (c < 0 && errno == EINTR);
	return c;
}

/* close() is not retried on EINTR: on Linux the fd is gone whatever close() returns. */
int sys_close(int fd)
{
	sys_counted(SYS_CLOSE);
	return close(fd);
}

int sys_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	sys_counted(SYS_SETSOCKOPT);
	return setsockopt(fd, level, name, val, len);
}

int sys_open_devnull(void)
{
	int fd;
	do {
		sys_counted(SYS_OPENAT);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	return fd;
}

int sys_poll(struct pollfd *fds, nfds_t n)
{
	int r;
	do {
		sys_counted(SYS_POLL);
		r = poll(fds, n, -1);
	} while (r < 0 && errno == EINTR);
	return r;
}

int sys_select(int nfds, fd_set *rd, fd_set *wr)
{
	int r;
	do {
		sys_counted(SYS_PSELECT6);
		r = select(nfds, rd, wr, NULL, NULL);
	} while (r < 0 && errno == EINTR); /* Linux leaves the sets unmodified on error */
	return r;
}

int sys_epoll_create1(int flags)
{
	sys_counted(SYS_EPOLL_CREATE1);
	return epoll_create1(flags);
}

int sys_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	int r;
	do {
		sys_counted(SYS_EPOLL_CTL);
		r = epoll_ctl(ep, op, fd, ev);
	} while (r < 0 && errno == EINTR);
	return r;
}

int sys_epoll_wait(int ep, struct epoll_event *evs, int max, int timeout_ms)
{
	int r;
	do {
		sys_counted(SYS_EPOLL_WAIT);
		r = epoll_wait(ep, evs, max, timeout_ms);
	} while (r < 0 && errno == EINTR);
	return r;
}
