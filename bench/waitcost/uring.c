/* uring.c - the io_uring mechanism (mechanisms.h): one-shot POLL_ADD armed on every fd, re-armed
 * as it completes, K completions reaped per io_uring_submit_and_wait.
 *
 * Why one-shot polls and not multishot (IORING_POLL_ADD_MULTI): a multishot poll posts a
 * completion when the socket's wait queue is woken, i.e. when new data arrives; these fds stay
 * readable without new data, so a multishot poll would report them once and then never again.
 * Re-arming a one-shot poll on a readable fd completes at once, inside the same submission, which
 * is what a loop that keeps its interest set armed pays per wake-up: K SQEs in, K CQEs out.
 * A recv per fd would consume the preload, so the ready set would drain; POLL_ADD keeps it.
 */
#include "mechanisms.h"

#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 4096 /* one call submits K SQEs at once, so K must fit in the SQ ring */

struct ur {
	const struct fdset *s;
	struct io_uring ring;
	int *rearm, nrearm; /* the indices that completed last call */
};

static const char *uring_unusable(const struct fdset *s)
{
	static int probed; /* 0 not yet, 1 works, -errno refused */
	static char why[96];
	if (!probed) {
		struct io_uring ring;
		int r = io_uring_queue_init(8, &ring, 0);
		if (r == 0)
			io_uring_queue_exit(&ring);
		probed = r == 0 ? 1 : r;
		snprintf(why, sizeof why, "io_uring_queue_init: %s", strerror(-r));
	}
	if (probed < 0)
		return why; /* io_uring_disabled, a seccomp filter, an old kernel */
	return s->k > MAX_ENTRIES ? "K > 4096 (one submission per call)" : NULL;
}

/* Take every completion there is: record its fd for re-arming (and in seen). */
static int reap(struct ur *st, bool *seen)
{
	struct io_uring_cqe *cqe;
	unsigned head, got = 0;
	io_uring_for_each_cqe(&st->ring, head, cqe) {
		if (cqe->res < 0) {
			errno = -cqe->res;
			fatal_errno("io_uring poll completion");
		}
		uint64_t i = io_uring_cqe_get_data64(cqe);
		if (i >= (uint64_t)st->s->n || !(cqe->res & POLLIN))
			fatal("io_uring: completion for index %llu, mask %#x", (unsigned long long)i, cqe->res);
		st->rearm[st->nrearm++] = (int)i; /* each fd has one poll armed: nrearm <= n */
		if (seen)
			seen[i] = true;
		got++;
	}
	io_uring_cq_advance(&st->ring, got);
	return (int)got;
}

static struct io_uring_sqe *sqe_for(struct ur *st, int i)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);
	if (!sqe)
		fatal("io_uring: SQ ring full");
	io_uring_prep_poll_add(sqe, st->s->fd[i], POLLIN);
	io_uring_sqe_set_data64(sqe, (uint64_t)i);
	return sqe;
}

static void *uring_open(const struct fdset *s)
{
	struct ur *st = calloc(1, sizeof *st);
	unsigned entries = 8;
	while (entries < (unsigned)s->k)
		entries *= 2;
	if (!st || !(st->rearm = calloc((size_t)s->n, sizeof *st->rearm)))
		fatal_errno("calloc");
	st->s = s;
	int r = io_uring_queue_init(entries, &st->ring, 0); /* CQ ring: 2 x entries >= 2K */
	if (r < 0) {
		errno = -r;
		fatal_errno("io_uring_queue_init(%u)", entries);
	}
	/* Arm all N (not timed). The K ready complete at once; reaping after every chunk keeps
	 * the CQ ring from overflowing. */
	for (int i = 0; i < s->n;) {
		for (unsigned c = 0; c < entries && i < s->n; c++, i++)
			sqe_for(st, i);
		while ((r = io_uring_submit(&st->ring)) == -EINTR)
			;
		if (r < 0) {
			errno = -r;
			fatal_errno("io_uring_submit (arming)");
		}
		reap(st, NULL);
	}
	uint64_t deadline = now_ns() + 5000000000;
	while (st->nrearm < s->k && now_ns() < deadline) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_nsec = 10000000};
		r = io_uring_wait_cqe_timeout(&st->ring, &cqe, &ts);
		if (r < 0 && r != -ETIME && r != -EINTR) {
			errno = -r;
			fatal_errno("io_uring_wait_cqe_timeout");
		}
		reap(st, NULL);
	}
	if (st->nrearm != s->k)
		fatal("io_uring: %d of %d polls completed on arming", st->nrearm, s->k);
	return st;
}

static int uring_call(void *p, bool *seen)
{
	struct ur *st = p;
	for (int j = 0; j < st->nrearm; j++)
		sqe_for(st, st->rearm[j]);
	unsigned want = (unsigned)st->nrearm;
	st->nrearm = 0;
	int r;
	/* Returns the number submitted once anything was submitted, even if the wait was then
	 * interrupted; so -EINTR means nothing went in, and the loop below finishes any wait. */
	while ((r = io_uring_submit_and_wait(&st->ring, want)) == -EINTR)
		;
	if (r < 0) {
		errno = -r;
		fatal_errno("io_uring_submit_and_wait");
	}
	struct io_uring_cqe *cqe;
	while (io_uring_cq_ready(&st->ring) < want)
		if ((r = io_uring_wait_cqe_nr(&st->ring, &cqe, want)) < 0 && r != -EINTR) {
			errno = -r;
			fatal_errno("io_uring_wait_cqe_nr");
		}
	return reap(st, seen);
}

static void uring_close(void *p)
{
	struct ur *st = p;
	io_uring_queue_exit(&st->ring); /* cancels the N - K polls still armed */
	free(st->rearm);
	free(st);
}

const struct mech mech_uring = {"uring", false, uring_unusable, uring_open, uring_call, uring_close};
