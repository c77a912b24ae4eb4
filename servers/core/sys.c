/* sys.c - counting syscall wrappers; see sys.h for why they exist. */
#include "sys.h"

#include "plant.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void count_eagain(_Atomic uint64_t *v)
{
	atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

ssize_t sys_read(int fd, void *buf, size_t len)
{
	ssize_t n;
	do {
		sys_counted(SYS_READ);
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		count_eagain(&sys_local->read_eagain);
	if (PLANT_SYSCALL) { /* plant.h: one more syscall per read, counted; what it returns is moot */
		int saved = errno;
		sys_counted(SYS_READ);
		ssize_t moot = read(fd, buf, 0);
		(void)moot;
		errno = saved; /* the caller reads the first read's errno */
	}
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
		count_eagain(&sys_local->write_eagain);
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

int sys_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	sys_counted(SYS_GETSOCKOPT);
	return getsockopt(fd, level, name, val, len);
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
	return sys_poll_ms(fds, n, -1);
}

/* A retry after EINTR waits the whole timeout again: the callers' timeouts are deadlines they
 * re-check themselves, and an EINTR here is a stray (see sys.h). */
int sys_poll_ms(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	int r;
	do {
		sys_counted(SYS_POLL);
		r = poll(fds, n, timeout_ms);
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

int sys_eventfd_ring(int fd)
{
	uint64_t one = 1;
	ssize_t n = sys_write(fd, &one, sizeof one);
	if (n == (ssize_t)sizeof one)
		return 0;
	if (n >= 0)
		errno = EIO; /* an eventfd takes 8 bytes or none */
	return -1; /* EAGAIN only past 2^64 - 2 untaken rings */
}

int sys_eventfd_take(int fd)
{
	uint64_t n;
	if (sys_read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}
