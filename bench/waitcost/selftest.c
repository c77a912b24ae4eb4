/* selftest.c - waitcost --self-test: the set it builds is the set it claims, and every mechanism
 * reports exactly that set.
 *
 * A wait-cost figure is only worth something if the K fds the CSV says were ready were the ones
 * ready, and no other. So for TCP and unix sets at several N and K (K = 1, K = N, and N placed so
 * that the highest fd is just under FD_SETSIZE, where select is still allowed):
 *  1. the claim is well formed: K distinct indices, ascending, the centre of each of K strides;
 *  2. an independent poll() (timeout 0, its own array) finds POLLIN on exactly the claimed fds and
 *     nothing on the others, and FIONREAD agrees (the claimed ones hold the preload, the others 0);
 *  3. each mechanism, through the very call() that is timed, reports exactly the claimed set,
 *     twice in a row (the set must survive a call; io_uring's second call is the re-armed one);
 *  4. the comparison itself catches a set that is off by one fd, and a timed run whose calls
 *     report the wrong count exits 1 instead of producing a figure.
 * Prints one line per set; exit 0 when all pass, 1 otherwise.
 */
#include "waitcost.h"

#include "fds.h"
#include "measure.h"
#include "mechanisms.h"
#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                      \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			printf("\n  FAIL %s:%d: ", __FILE__, __LINE__);                       \
			printf(__VA_ARGS__);                                                  \
			failures++;                                                           \
		}                                                                             \
	} while (0)

/* The first index where two sets differ, or -1. */
static int first_difference(const bool *a, const bool *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

static void check_claim(const struct fdset *s)
{
	int count = 0;
	for (int i = 0; i < s->n; i++)
		count += s->ready[i];
	CHECK(count == s->k, "ready[] has %d fds, K is %d\n", count, s->k);
	for (int j = 0; j < s->k; j++) {
		int i = s->ready_idx[j], lo = (int)((int64_t)j * s->n / s->k),
		    hi = (int)((int64_t)(j + 1) * s->n / s->k);
		CHECK(s->ready[i], "ready_idx[%d] = %d is not in ready[]\n", j, i);
		CHECK(j == 0 || i > s->ready_idx[j - 1], "ready_idx not ascending at %d\n", j);
		CHECK(i >= lo && i < hi, "ready fd %d at index %d, outside its stride [%d, %d)\n", j, i, lo, hi);
	}
}

/* The kernel's view, asked without any of the code under test. */
static void check_kernel_view(const struct fdset *s)
{
	struct pollfd *p = calloc((size_t)s->n, sizeof *p);
	if (!p)
		fatal_errno("calloc");
	for (int i = 0; i < s->n; i++)
		p[i] = (struct pollfd){.fd = s->fd[i], .events = POLLIN | POLLOUT};
	int r = poll(p, (nfds_t)s->n, 0);
	CHECK(r == s->n, "independent poll: %d of %d fds writable or readable\n", r, s->n);
	for (int i = 0; i < s->n; i++) {
		/* POLLOUT everywhere (idle connections); POLLIN exactly on the claimed; no HUP/ERR. */
		short want = (short)(POLLOUT | (s->ready[i] ? POLLIN : 0));
		int queued = -1;
		if (ioctl(s->fd[i], FIONREAD, &queued) < 0)
			fatal_errno("ioctl FIONREAD");
		int want_q = s->ready[i] ? PRELOAD - (int)s->consumed : 0;
		CHECK(p[i].revents == want, "index %d (fd %d): revents %#x, expected %#x\n", i, s->fd[i],
		      (unsigned)p[i].revents, (unsigned)want);
		CHECK(queued == want_q, "index %d (fd %d): %d bytes queued, expected %d\n", i, s->fd[i], queued,
		      want_q);
		CHECK(fcntl(s->fd[i], F_GETFL) & O_NONBLOCK, "fd %d is blocking\n", s->fd[i]);
	}
	free(p);
}

static void check_mechanism(const struct mech *m, struct fdset *s, bool *seen)
{
	void *st = m->open(s);
	for (int call = 0; call < 2; call++) {
		memset(seen, 0, (size_t)s->n);
		int got = m->call(st, seen);
		int d = first_difference(seen, s->ready, s->n);
		CHECK(got == s->k, "%s call %d reported %d ready, expected %d\n", m->name, call, got, s->k);
		CHECK(d < 0, "%s call %d: index %d (fd %d) %s\n", m->name, call, d, d < 0 ? -1 : s->fd[d],
		      d >= 0 && seen[d] ? "reported but not claimed" : "claimed but not reported");
		if (m->consumes)
			s->consumed++;
	}
	m->close(st);
}

/* A timed run on a set whose claim is wrong (one more ready fd than there is) must exit 1. */
static void check_wrong_count_is_fatal(struct fdset *s)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fatal_errno("fork");
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (devnull < 0 || dup2(devnull, STDERR_FILENO) < 0) /* the expected complaint */
			_exit(3);
		s->k++;
		struct summary sum;
		measure(&mech_poll, s, 3, 100000, &sum);
		_exit(0); /* measured a wrong set: the failure this test exists for */
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal_errno("waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a wrong count was timed (status %#x)\n", status);
}

static bool run_case(enum sock_kind kind, int n, int k, bool expect_select)
{
	struct fdset s;
	int before = failures;
	fdset_build(&s, n, k, kind);
	printf("self-test: %-4s N=%-5d K=%-5d max fd %-5d", sock_kind_name(kind), n, k, s.maxfd);
	check_claim(&s);
	check_kernel_view(&s);
	bool *seen = malloc((size_t)n);
	if (!seen)
		fatal_errno("malloc");
	bool select_ran = false;
	for (int i = 0; mechs[i]; i++) {
		const char *why = mechs[i]->unusable(&s);
		if (why) {
			printf(" %s skipped (%s)", mechs[i]->name, why);
			/* select must be refused exactly when an fd is beyond FD_SETSIZE */
			CHECK(mechs[i] != &mech_select || s.maxfd >= FD_SETSIZE, "select refused at max fd %d\n",
			      s.maxfd);
			continue;
		}
		check_mechanism(mechs[i], &s, seen);
		select_ran |= mechs[i] == &mech_select;
		printf(" %s", mechs[i]->name);
	}
	CHECK(select_ran == expect_select, "select %s at max fd %d\n", select_ran ? "ran" : "did not run",
	      s.maxfd);
	check_kernel_view(&s); /* the mechanisms left the set as it was (less what busy read) */

	/* The comparison catches a set off by one fd. */
	memcpy(seen, s.ready, (size_t)n);
	seen[(s.ready_idx[0] + 1) % n] ^= 1;
	CHECK(first_difference(seen, s.ready, n) >= 0, "a set off by one fd compared equal\n");
	if (n == 100)
		check_wrong_count_is_fatal(&s);
	free(seen);
	fdset_free(&s);
	printf(failures == before ? ": ok\n" : "\n");
	return failures == before;
}

int self_test(void)
{
	/* The lowest free fd: a set's fds start just above it, so N can be placed for the highest
	 * registered fd to land just under FD_SETSIZE. (N = 9,000 is there for TCP connections from
	 * two source addresses, peer.c.) */
	int low = dup(STDIN_FILENO);
	if (low < 0)
		fatal_errno("dup");
	xclose(low);
	int near = FD_SETSIZE - low - 4;
	static const struct {
		int n, k;
	} cases[] = {{1, 1}, {10, 1}, {10, 10}, {100, 3}, {100, 100}, {1000, 1}, {1000, 100}, {2000, 7}, {9000, 9}};
	for (int kind = SOCK_TCP; kind <= SOCK_UNIX; kind++) {
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
			run_case(kind, cases[c].n, cases[c].k, cases[c].n <= 1000);
		run_case(kind, near, 1, true);
		run_case(kind, near, near, true);
	}
	printf("self-test: %s\n", failures ? "FAILED" : "all passed");
	return failures ? 1 : 0;
}
