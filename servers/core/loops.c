/* loops.c - one loop, T loop threads, or P worker processes; stop and snapshots (see loops.h).
 *
 * The control side (the main thread with --threads, the supervisor with --workers) and the loops
 * share a small struct control in MAP_SHARED memory: a snapshot generation and a stop flag. The
 * control side changes one and writes every loop's eventfd; a loop reads its eventfd when its
 * epoll_wait reports it, which happens between two requests, and acts. Nothing is ever sent to a
 * loop as a signal: the signals are blocked everywhere and read from one signalfd, in one place.
 *
 * The supervisor learns that a worker died from the worker's pidfd (poll()able, unlike a
 * SIGCHLD, which the signalfd would then have to share with the stop signals).
 */
#include "loops.h"

#include "server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A loop that has not answered a snapshot in this long is stuck: write the line anyway (late
 * counts beat no line, since bench/run waits for it), and say so. */
#define SNAPSHOT_TIMEOUT_MS 2000
/* How long the loops get to set up before the ready line (a sanitizer build starts slowly). */
#define READY_TIMEOUT_MS 10000
/* How long the workers get to exit once told to stop before they are killed. */
#define STOP_TIMEOUT_MS 5000

struct control {
	_Atomic uint64_t ready;	       /* loops set up and about to wait for the first time */
	_Atomic uint64_t snapshot_gen; /* the snapshot asked for last */
	_Atomic bool stop;
};

static struct control *ctl;
static int ack_fd = -1; /* eventfd: a loop answered a snapshot */
static struct loop *loops;
static struct listener *listeners;
static size_t nloops, per_process;
static bool exclusive;
static pthread_rwlock_t fd_lock = PTHREAD_RWLOCK_INITIALIZER; /* listener.h: several loops */
static loop_fn *body;
static const struct server_config *config;

static _Noreturn void die(const char *what)
{
	server_fatal(config, what);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The control side's waits need a timeout, which sys_poll() does not take; counted all the same,
 * so that the server's count and the kernel's still agree. */
static int counted_poll(struct pollfd *fds, size_t n, int timeout_ms)
{
	sys_counted(SYS_POLL);
	return poll(fds, n, timeout_ms);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		die("eventfd");
	return fd;
}

static void notify(int fd)
{
	uint64_t one = 1;
	if (sys_write(fd, &one, sizeof one) != sizeof one)
		die("write eventfd"); /* EAGAIN only past 2^64 - 2 unread wake-ups */
}

static void drain(int fd)
{
	uint64_t n;
	if (sys_read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
		die("read eventfd");
}

/* --- the loop's side --- */

bool loop_running(struct loop *lp)
{
	if (lp->single)
		return server_running();
	if (!lp->announced) {
		/* Set up (its epoll set made): the ready line waits for every loop's, or a client
		 * could fill the fd table before a late loop has made its epoll fd. */
		lp->announced = true;
		atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_release);
		notify(ack_fd);
	}
	return !atomic_load_explicit(&ctl->stop, memory_order_acquire);
}

void loop_woken(struct loop *lp)
{
	if (lp->single) {
		signals_on_readable();
		return;
	}
	drain(lp->wake_fd);
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
	notify(ack_fd);
	counters_freeze(lp->counters);
	atomic_store_explicit(&lp->counters->snapshot_gen, gen, memory_order_release);
}

/* --- the control side --- */

static void wake_all(void)
{
	for (size_t i = 0; i < nloops; i++)
		notify(loops[i].wake_fd);
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

/* Wait until done(arg), woken by the loops' acks (ack_fd). pids: the workers' pidfds (npids 0
 * with threads), so that a worker that dies meanwhile ends the wait. */
static enum wait_rc await(bool (*done)(uint64_t), uint64_t arg, const struct pollfd *pids,
			  size_t npids, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	while (!done(arg)) {
		if (now_ms() >= deadline)
			return WAIT_TIMEOUT;
		struct pollfd fds[LOOPS_MAX + 1] = {{.fd = ack_fd, .events = POLLIN}};
		if (npids) /* (pids is NULL with threads: memcpy's arguments must not be) */
			memcpy(fds + 1, pids, npids * sizeof *pids);
		/* 1 ms: a loop notifies before it publishes (loop_woken), so re-check soon. */
		if (counted_poll(fds, npids + 1, 1) < 0 && errno != EINTR)
			die("poll");
		if (fds[0].revents)
			drain(ack_fd);
		for (size_t w = 0; w < npids; w++)
			if (fds[w + 1].revents)
				return WAIT_WORKER_DIED;
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

/* Every loop set up: print the ready line. False if a worker died first. */
static bool announce(const struct pollfd *pids, size_t npids)
{
	enum wait_rc rc = await(all_ready, 0, pids, npids, READY_TIMEOUT_MS);
	if (rc == WAIT_WORKER_DIED)
		return false;
	if (rc == WAIT_TIMEOUT) {
		errno = ETIMEDOUT;
		die("waiting for the loops to start");
	}
	listener_ready(config, listeners[0].fd);
	return true;
}

/* Signals in, snapshots out, until the server must stop: true; false if a worker died. */
static bool control(const struct pollfd *pids, size_t npids)
{
	for (;;) {
		struct pollfd fds[LOOPS_MAX + 1] = {{.fd = signals_fd(), .events = POLLIN}};
		if (npids)
			memcpy(fds + 1, pids, npids * sizeof *pids);
		if (counted_poll(fds, npids + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (fds[0].revents)
			signals_on_readable();
		for (size_t w = 0; w < npids; w++)
			if (fds[w + 1].revents)
				return false;
		if (signals_take_snapshot() && !snapshot(pids, npids))
			return false;
		if (signals_stop_requested())
			return true;
	}
}

static void stop_all(void)
{
	atomic_store_explicit(&ctl->stop, true, memory_order_release);
	wake_all();
}

/* --- threads --- */

static void *loop_thread(void *arg)
{
	struct loop *lp = arg;
	counters_attach(lp->counters);
	body(lp);
	return NULL;
}

/* Runs loops [first, first + n): with control, on n new threads while this one is the control
 * side; without (a worker), the first on this thread. True unless a worker died. */
static bool run_threads(size_t first, size_t n, bool with_control)
{
	pthread_t t[LOOPS_MAX];
	size_t from = with_control ? 0 : 1;
	for (size_t i = from; i < n; i++) {
		STAT_ADD(threads, 1); /* never taken back: the final line shows what ran */
		int err = pthread_create(&t[i], NULL, loop_thread, &loops[first + i]);
		if (err) {
			errno = err;
			die("pthread_create");
		}
	}
	if (with_control) {
		announce(NULL, 0);
		control(NULL, 0); /* no worker to lose */
		stop_all();
	} else {
		loop_thread(&loops[first]);
	}
	for (size_t i = from; i < n; i++) {
		int err = pthread_join(t[i], NULL);
		if (err) {
			errno = err;
			die("pthread_join");
		}
	}
	return true;
}

/* --- worker processes --- */

/* keep_fd: a worker other than the first drops listener 0's spare but not the one shared fd. */
static void close_listener(size_t i, bool keep_fd)
{
	if (exclusive && (i > 0 || keep_fd))
		listener_unshare(&listeners[i]);
	else
		listener_close(&listeners[i]);
}

static _Noreturn void worker(size_t w, pid_t supervisor)
{
	/* Die with the supervisor: a worker left behind would hold the port and its connections. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != supervisor)
		_exit(1);
	size_t first = w * per_process;
	/* Keep only what this worker uses: every listener has one owner, so one that dies with its
	 * worker is gone from the SO_REUSEPORT group, not left holding connections. */
	close(signals_fd());
	for (size_t i = 0; i < nloops; i++) {
		if (i >= first && i < first + per_process)
			continue;
		close_listener(i, true);
		close(loops[i].wake_fd);
	}
	STAT_ADD(threads, 1); /* this process's main thread, which runs its first loop */
	run_threads(first, per_process, false);
	/* No conn_close_all(): the supervisor writes the final line once every worker is gone, and
	 * closing thousands of connections here would only change the counts it is about to read.
	 * exit() closes the fds; the connections stay reachable, so LeakSanitizer has nothing to say. */
	exit(0);
}

static void describe_exit(size_t w, pid_t pid, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "echo-%s: worker %zu (pid %d) exited with status %d\n", config->name, w,
			(int)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "echo-%s: worker %zu (pid %d) killed by signal %d (%s)\n", config->name,
			w, (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
}

/* Reap every worker: their resource usage goes into their slots, for the final line. Those
 * that have not exited by the deadline are killed. True if all exited with status 0. */
static bool reap(const pid_t *pids, struct pollfd *pfds, size_t n, int64_t deadline)
{
	const struct counters *c = counters_get();
	bool ok = true;
	for (size_t w = 0; w < n; w++) {
		int left = (int)(deadline - now_ms());
		int r;
		while ((r = counted_poll(&pfds[w], 1, left > 0 ? left : 0)) < 0 && errno == EINTR)
			;
		if (r == 0) {
			fprintf(stderr, "echo-%s: worker %zu (pid %d) did not stop: killing it\n",
				config->name, w, (int)pids[w]);
			kill(pids[w], SIGKILL);
		}
		int status;
		struct rusage ru;
		while (wait4(pids[w], &status, 0, &ru) < 0)
			if (errno != EINTR)
				die("wait4");
		counters_record_usage(&c->workers[w], &ru);
		close(pfds[w].fd);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			describe_exit(w, pids[w], status);
			ok = false;
		}
	}
	return ok;
}

static int run_workers(size_t nworkers)
{
	pid_t pids[LOOPS_MAX], supervisor = getpid();
	struct pollfd pfds[LOOPS_MAX];
	fflush(stdout); /* nothing buffered may be written twice */
	fflush(stderr);
	for (size_t w = 0; w < nworkers; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			int err = errno;
			for (size_t k = 0; k < w; k++)
				kill(pids[k], SIGKILL); /* they die with us anyway (PDEATHSIG) */
			errno = err;
			die("fork");
		}
		if (pid == 0)
			worker(w, supervisor);
		pids[w] = pid;
		pfds[w] = (struct pollfd){.fd = pidfd_open(pid, 0), .events = POLLIN};
		if (pfds[w].fd < 0)
			die("pidfd_open");
	}
	bool stopped = announce(pfds, nworkers);
	for (size_t i = 0; i < nloops; i++)
		close_listener(i, false); /* the workers own them now */
	stopped = stopped && control(pfds, nworkers);
	if (stopped) {
		stop_all();
	} else {
		fprintf(stderr, "echo-%s: a worker died: stopping the others\n", config->name);
		for (size_t w = 0; w < nworkers; w++)
			kill(pids[w], SIGKILL);
	}
	bool clean = reap(pids, pfds, nworkers, now_ms() + STOP_TIMEOUT_MS);
	if (!stopped || !clean)
		return 1; /* no final line: the run failed */
	stats_write("final");
	return 0;
}

/* --- set-up --- */

static void name_variant(struct server_config *cfg, const struct loops_config *lc)
{
	static char variant[64];
	const char *base = cfg->variant ? cfg->variant : "default";
	const char *ex = exclusive ? "-exclusive" : "";
	if (!lc->workers)
		snprintf(variant, sizeof variant, "%s-t%llu%s", base, (unsigned long long)lc->threads, ex);
	else if (lc->threads == 1)
		snprintf(variant, sizeof variant, "%s-w%llu%s", base, (unsigned long long)lc->workers, ex);
	else
		snprintf(variant, sizeof variant, "%s-w%llut%llu%s", base, (unsigned long long)lc->workers,
			 (unsigned long long)lc->threads, ex);
	cfg->variant = variant;
}

static int run_single(struct server_config *cfg)
{
	struct listener lis;
	server_start(cfg, SIGNALS_FD, false, &lis);
	struct loop lp = {.index = 0, .lis = &lis, .wake_fd = signals_fd(), .single = true};
	body(&lp);
	stats_write("final");
	conn_close_all();
	listener_close(&lis);
	return 0;
}

static void open_listeners(const struct server_config *cfg)
{
	listeners = calloc(nloops, sizeof *listeners);
	if (!listeners)
		die("calloc");
	listener_open_at(&listeners[0], cfg, (uint16_t)cfg->port, !exclusive);
	uint16_t port = listener_port(&listeners[0]); /* --port 0: the rest join the first */
	for (size_t i = 1; i < nloops; i++) {
		if (exclusive)
			listener_share(&listeners[i], &listeners[0]);
		else
			listener_open_at(&listeners[i], cfg, port, true);
	}
	for (size_t i = 0; per_process > 1 && i < nloops; i++)
		listeners[i].fd_lock = &fd_lock; /* one per process: fork() copies it, unlocked */
}

int loops_run(struct server_config *cfg, const struct loops_config *lc, loop_fn *fn)
{
	config = cfg;
	body = fn;
	exclusive = strcmp(lc->accept, "exclusive") == 0;
	if (!exclusive && strcmp(lc->accept, "reuseport") != 0) {
		fprintf(stderr, "echo-%s: --accept '%s': want reuseport or exclusive (see --help)\n",
			cfg->name, lc->accept);
		exit(2);
	}
	per_process = lc->threads;
	nloops = lc->threads * (lc->workers ? lc->workers : 1);
	if (lc->threads < 1 || nloops > LOOPS_MAX) {
		fprintf(stderr, "echo-%s: --threads x --workers must be 1..%d (see --help)\n", cfg->name,
			LOOPS_MAX);
		exit(2);
	}
	if (nloops == 1 && !lc->workers)
		return run_single(cfg); /* exactly the single-loop server */

	name_variant(cfg, lc);
	stats_init(cfg->name, cfg->variant, cfg->stats_path, true);
	signals_init(SIGNALS_FD); /* blocks the signals: every thread and worker inherits that */
	const struct counters *c = counters_create(nloops, lc->workers);
	ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		die("mmap");
	ack_fd = new_eventfd();
	loops = calloc(nloops, sizeof *loops);
	if (!loops)
		die("calloc");
	open_listeners(cfg);
	for (size_t i = 0; i < nloops; i++)
		loops[i] = (struct loop){
		    .index = (unsigned)i,
		    .lis = &listeners[i],
		    .exclusive = exclusive,
		    .wake_fd = new_eventfd(),
		    .counters = &c->loops[i],
		    .usage = lc->workers && i % per_process == 0 ? &c->workers[i / per_process] : NULL,
		};

	int status;
	if (lc->workers) {
		status = run_workers(lc->workers);
	} else {
		run_threads(0, nloops, true);
		stats_write("final");
		conn_close_all();
		for (size_t i = 0; i < nloops; i++)
			close_listener(i, false);
		status = 0;
	}
	for (size_t i = 0; i < nloops; i++)
		sys_close(loops[i].wake_fd);
	sys_close(ack_fd);
	free(loops);
	free(listeners);
	munmap(ctl, sizeof *ctl);
	return status;
}
