/* control.c - stops and snapshots for several loops (see control.h), both sides of it.
 *
 * The control side and the loops share a small struct control in MAP_SHARED memory: a snapshot
 * generation, a stop flag, and how many loops are set up. The control side changes one and rings
 * every loop's eventfd; a loop takes its eventfd when its wait reports it, which happens between
 * two requests, and acts. Nothing is ever sent to a loop as a signal: the signals are blocked
 * everywhere and read from one signalfd, in one place.
 */
#include "control.h"

#include "server.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

/* A loop that has not answered a snapshot in this long is stuck: write the line anyway (late
 * counts beat no line, since bench/run waits for it), and say so. */
#define SNAPSHOT_TIMEOUT_MS 2000
/* How long the loops get to set up before the ready line (a sanitizer build starts slowly). */
#define READY_TIMEOUT_MS 10000

struct control {
	_Atomic uint64_t ready;	       /* loops set up and about to wait for the first time */
	_Atomic uint64_t snapshot_gen; /* the snapshot asked for last */
	_Atomic bool stop;
};

static struct control *ctl;
static int ack_fd = -1; /* eventfd: a loop answered a snapshot, or is set up */
static struct loop *loops;
static size_t nloops;
static const struct server_config *config;

static _Noreturn void die(const char *what)
{
	fatal_errno(what);
}

int64_t control_now_ms(void)
{
	return (int64_t)(now_ns() / 1000000u);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		die("eventfd");
	return fd;
}

static void ring(int fd)
{
	if (sys_eventfd_ring(fd) != 0)
		die("write eventfd");
}

static void take(int fd)
{
	if (sys_eventfd_take(fd) != 0)
		die("read eventfd");
}

void control_create(const struct server_config *cfg, struct loop *lps, size_t n)
{
	config = cfg;
	loops = lps;
	nloops = n;
	ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		die("mmap");
	ack_fd = new_eventfd();
	for (size_t i = 0; i < n; i++)
		loops[i].wake_fd = new_eventfd();
}

void control_destroy(void)
{
	for (size_t i = 0; i < nloops; i++)
		sys_close(loops[i].wake_fd);
	sys_close(ack_fd);
	munmap(ctl, sizeof *ctl);
}

/* --- the loop's side --- */

bool loop_running(struct loop *lp)
{
	if (lp->single)
		return server_running();
	if (!lp->announced) {
		/* Set up (its wait set made): the ready line waits for every loop's, or a client
		 * could fill the fd table before a late loop has made its own fds. */
		lp->announced = true;
		atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_release);
		ring(ack_fd);
	}
	return !atomic_load_explicit(&ctl->stop, memory_order_acquire);
}

void loop_woken(struct loop *lp)
{
	if (lp->single) {
		signals_on_readable();
		return;
	}
	take(lp->wake_fd);
	uint64_t gen = atomic_load_explicit(&ctl->snapshot_gen, memory_order_acquire);
	if (gen == atomic_load_explicit(&lp->counters->snapshot_gen, memory_order_relaxed))
		return; /* woken to stop: loop_running() says so next */
	if (lp->usage) {
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			counters_record_usage(lp->usage, &ru);
	}
	/* Tell the control side, freeze, publish: the write is then counted inside the snapshot it
	 * answers. The control side re-checks within a millisecond, so seeing the eventfd before
	 * the generation costs it at most that. */
	ring(ack_fd);
	counters_freeze(lp->counters);
	atomic_store_explicit(&lp->counters->snapshot_gen, gen, memory_order_release);
}

/* --- the control side --- */

static void wake_all(void)
{
	for (size_t i = 0; i < nloops; i++)
		ring(loops[i].wake_fd);
}

static bool all_answered(uint64_t gen)
{
	for (size_t i = 0; i < nloops; i++)
		if (atomic_load_explicit(&loops[i].counters->snapshot_gen, memory_order_acquire) != gen)
			return false;
	return true;
}

static bool all_ready(uint64_t unused)
{
	(void)unused;
	return atomic_load_explicit(&ctl->ready, memory_order_acquire) == nloops;
}

enum wait_rc { WAIT_DONE, WAIT_TIMEOUT, WAIT_WORKER_DIED };

/* Waits for `first` and the workers' pidfds: false if a worker died. */
static bool wait_fds(int first, const struct pollfd *pids, size_t npids, int timeout_ms,
		     bool *first_ready)
{
	struct pollfd fds[COUNTERS_MAX_LOOPS + 1] = {{.fd = first, .events = POLLIN}};
	if (npids) /* (pids is NULL with threads: memcpy's arguments must not be) */
		memcpy(fds + 1, pids, npids * sizeof *pids);
	if (sys_poll_ms(fds, npids + 1, timeout_ms) < 0)
		die("poll");
	*first_ready = fds[0].revents != 0;
	for (size_t w = 0; w < npids; w++)
		if (fds[w + 1].revents)
			return false;
	return true;
}

/* Wait until done(arg), woken by the loops' acks (ack_fd). */
static enum wait_rc await(bool (*done)(uint64_t), uint64_t arg, const struct pollfd *pids,
			  size_t npids, int timeout_ms)
{
	int64_t deadline = control_now_ms() + timeout_ms;
	while (!done(arg)) {
		if (control_now_ms() >= deadline)
			return WAIT_TIMEOUT;
		bool acked;
		/* 1 ms: a loop rings before it publishes (loop_woken), so re-check soon. */
		if (!wait_fds(ack_fd, pids, npids, 1, &acked))
			return WAIT_WORKER_DIED;
		if (acked)
			take(ack_fd);
	}
	return WAIT_DONE;
}

/* Have every loop answer, then write the sum. False if a worker died meanwhile. */
static bool snapshot(const struct pollfd *pids, size_t npids)
{
	uint64_t gen = atomic_fetch_add_explicit(&ctl->snapshot_gen, 1, memory_order_release) + 1;
	wake_all();
	enum wait_rc rc = await(all_answered, gen, pids, npids, SNAPSHOT_TIMEOUT_MS);
	if (rc == WAIT_WORKER_DIED)
		return false;
	if (rc == WAIT_TIMEOUT)
		fprintf(stderr, "echo-%s: a loop did not answer the snapshot within %d ms: its counts "
			"in this line may lag\n", config->name, SNAPSHOT_TIMEOUT_MS);
	stats_write("snapshot");
	return true;
}

bool control_announce(int lis_fd, const struct pollfd *pids, size_t npids)
{
	enum wait_rc rc = await(all_ready, 0, pids, npids, READY_TIMEOUT_MS);
	if (rc == WAIT_WORKER_DIED)
		return false;
	if (rc == WAIT_TIMEOUT) {
		errno = ETIMEDOUT;
		die("waiting for the loops to start");
	}
	listener_ready(config, lis_fd);
	return true;
}

bool control_run(const struct pollfd *pids, size_t npids)
{
	for (;;) {
		bool signalled;
		if (!wait_fds(signals_fd(), pids, npids, -1, &signalled))
			return false;
		if (signalled)
			signals_on_readable();
		if (signals_take_snapshot() && !snapshot(pids, npids))
			return false;
		if (signals_stop_requested())
			return true;
	}
}

void control_stop(void)
{
	atomic_store_explicit(&ctl->stop, true, memory_order_release);
	wake_all();
}
