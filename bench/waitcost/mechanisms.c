/* mechanisms.c - select, poll, epoll and the busy pass, one small block each (mechanisms.h says
 * what a call includes); io_uring is in uring.c, built only with liburing. */
#include "mechanisms.h"

#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

static void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (!p)
		fatal_errno("calloc");
	return p;
}

/* ---- select: the set lives in user space and is rewritten by every call. */

struct sel {
	const struct fdset *s;
	fd_set master, rd;
};

static const char *select_unusable(const struct fdset *s)
{
	/* FD_SET on an fd >= FD_SETSIZE writes past the fd_set: undefined behaviour, not a limit. */
	return s->maxfd >= FD_SETSIZE ? "an fd >= FD_SETSIZE (1024)" : NULL;
}

static void *select_open(const struct fdset *s)
{
	struct sel *st = xzalloc(sizeof *st);
	st->s = s;
	FD_ZERO(&st->master);
	for (int i = 0; i < s->n; i++)
		FD_SET(s->fd[i], &st->master);
	return st;
}

static int select_call(void *p, bool *seen)
{
	struct sel *st = p;
	int r;
	do {
		st->rd = st->master; /* select overwrites its sets: every loop keeps a master copy */
		r = select(st->s->maxfd + 1, &st->rd, NULL, NULL, NULL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		fatal_errno("select");
	for (int i = 0; seen && i < st->s->n; i++)
		if (FD_ISSET(st->s->fd[i], &st->rd))
			seen[i] = true;
	return r; /* the bits set in rd, and only registered fds can be among them */
}

/* ---- poll: a persistent array; every call copies all N in and all N revents back out. */

struct pol {
	const struct fdset *s;
	struct pollfd *p;
};

static void *poll_open(const struct fdset *s)
{
	struct pol *st = xzalloc(sizeof *st);
	st->s = s;
	st->p = xzalloc((size_t)s->n * sizeof *st->p);
	for (int i = 0; i < s->n; i++)
		st->p[i] = (struct pollfd){.fd = s->fd[i], .events = POLLIN};
	return st;
}

static int poll_call(void *p, bool *seen)
{
	struct pol *st = p;
	int r;
	while ((r = poll(st->p, (nfds_t)st->s->n, -1)) < 0)
		if (errno != EINTR)
			fatal_errno("poll");
	for (int i = 0; seen && i < st->s->n; i++)
		if (st->p[i].revents)
			seen[i] = true;
	return r; /* the entries with non-zero revents */
}

static void poll_close(void *p)
{
	struct pol *st = p;
	free(st->p);
	free(st);
}

/* ---- epoll: the set lives in the kernel, registered once; a call returns only the ready. */

struct epo {
	const struct fdset *s;
	int ep;
	struct epoll_event *ev;
};

static void *epoll_open(const struct fdset *s)
{
	struct epo *st = xzalloc(sizeof *st);
	st->s = s;
	/* Room for all N: one call then reports every ready fd, as the count check requires. */
	st->ev = xzalloc((size_t)s->n * sizeof *st->ev);
	if ((st->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal_errno("epoll_create1");
	for (int i = 0; i < s->n; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i}; /* level-triggered */
		if (epoll_ctl(st->ep, EPOLL_CTL_ADD, s->fd[i], &e) < 0)
			fatal_errno("epoll_ctl ADD");
	}
	return st;
}

static int epoll_call(void *p, bool *seen)
{
	struct epo *st = p;
	int r;
	while ((r = epoll_wait(st->ep, st->ev, st->s->n, -1)) < 0)
		if (errno != EINTR)
			fatal_errno("epoll_wait");
	for (int j = 0; seen && j < r; j++)
		seen[st->ev[j].data.u32] = true;
	return r;
}

static void epoll_close(void *p)
{
	struct epo *st = p;
	xclose(st->ep);
	free(st->ev);
	free(st);
}

/* ---- busy: no wait syscall at all; ask every fd, and pay a failed read for each idle one. */

static void *busy_open(const struct fdset *s)
{
	return (void *)s;
}

static int busy_call(void *p, bool *seen)
{
	const struct fdset *s = p;
	int got = 0;
	char byte;
	for (int i = 0; i < s->n; i++) {
		ssize_t r = read(s->fd[i], &byte, 1);
		if (r == 1) {
			got++;
			if (seen)
				seen[i] = true;
		} else if (r == 0) {
			fatal("busy pass: EOF on fd %d (the peer closed it)", s->fd[i]);
		} else if (errno == EINTR) {
			i--; /* ask the same fd again */
		} else if (errno != EAGAIN) {
			fatal_errno("busy pass: read fd %d", s->fd[i]);
		}
	}
	return got;
}

static void nothing(void *st)
{
	(void)st;
}

static const char *always_usable(const struct fdset *s)
{
	(void)s;
	return NULL;
}

const struct mech mech_select = {"select", false, select_unusable, select_open, select_call, free};
const struct mech mech_poll = {"poll", false, always_usable, poll_open, poll_call, poll_close};
const struct mech mech_epoll = {"epoll", false, always_usable, epoll_open, epoll_call, epoll_close};
const struct mech mech_busy = {"busy", true, always_usable, busy_open, busy_call, nothing};

#ifndef HAVE_LIBURING
static const char *uring_missing(const struct fdset *s)
{
	(void)s;
	return "built without liburing";
}
const struct mech mech_uring = {"uring", false, uring_missing, NULL, NULL, NULL};
#endif

const struct mech *const mechs[] = {&mech_select, &mech_poll, &mech_epoll, &mech_uring, &mech_busy, NULL};

const struct mech *mech_find(const char *name)
{
	for (int i = 0; mechs[i]; i++)
		if (strcmp(mechs[i]->name, name) == 0)
			return mechs[i];
	return NULL;
}
