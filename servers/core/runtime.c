/* runtime.c - one loop, or T loops on T threads of this process (see runtime.h).
 *
 * With workers, supervisor.c forks the processes and each one comes back here (worker()) to run
 * its own T loops; control.c carries the stops and snapshots between the loops and whichever
 * thread or process reads the signals.
 */
#include "runtime.h"

#include "control.h"
#include "server.h"
#include "supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

static struct loop *loops;
static struct listener *listeners;
static size_t nloops, per_process;
static pthread_rwlock_t fd_lock = PTHREAD_RWLOCK_INITIALIZER; /* listener.h: several loops */
static loop_fn *body;
static const struct server_config *config;

/* keep_fd: a worker drops listener 0's spare but not the one fd every exclusive loop shares. */
static void close_listener(size_t i, bool keep_fd)
{
	if (listeners[i].exclusive && (i > 0 || keep_fd))
		listener_unshare(&listeners[i]);
	else
		listener_close(&listeners[i]);
}

static void *loop_thread(void *arg)
{
	struct loop *lp = arg;
	counters_attach(lp->counters);
	body(lp);
	return NULL;
}

/* Runs loops [first, first + n): with control, on n new threads while this one is the control
 * side; without (a worker), the first on this thread. */
static void run_threads(size_t first, size_t n, bool with_control)
{
	pthread_t t[RUNTIME_MAX_LOOPS];
	size_t from = with_control ? 0 : 1;
	for (size_t i = from; i < n; i++) {
		STAT_ADD(threads, 1); /* never taken back: the final line shows what ran */
		int err = pthread_create(&t[i], NULL, loop_thread, &loops[first + i]);
		if (err) {
			errno = err;
			fatal_errno("pthread_create");
		}
	}
	if (with_control) {
		control_announce(listeners[0].fd, NULL, 0);
		control_run(NULL, 0); /* no worker to lose */
		control_stop();
	} else {
		loop_thread(&loops[first]);
	}
	for (size_t i = from; i < n; i++) {
		int err = pthread_join(t[i], NULL);
		if (err) {
			errno = err;
			fatal_errno("pthread_join");
		}
	}
}

/* In worker w: keep only what it uses. Every listener has one owner, so one that dies with its
 * worker is gone from the SO_REUSEPORT group, not left holding connections. */
static void worker(size_t w)
{
	size_t first = w * per_process;
	for (size_t i = 0; i < nloops; i++) {
		if (i >= first && i < first + per_process)
			continue;
		close_listener(i, true);
		close(loops[i].wake_fd);
	}
	run_threads(first, per_process, false);
}

static void handed_over(void)
{
	for (size_t i = 0; i < nloops; i++)
		close_listener(i, false);
}

static void name_variant(struct server_config *cfg, const struct runtime_config *rc, bool exclusive)
{
	static char variant[64];
	const char *base = cfg->variant ? cfg->variant : "default";
	const char *ex = exclusive ? "-exclusive" : "";
	unsigned long long t = rc->threads, w = rc->workers;
	if (!w)
		snprintf(variant, sizeof variant, "%s-t%llu%s", base, t, ex);
	else if (t == 1)
		snprintf(variant, sizeof variant, "%s-w%llu%s", base, w, ex);
	else
		snprintf(variant, sizeof variant, "%s-w%llut%llu%s", base, w, t, ex);
	cfg->variant = variant;
}

/* The whole server is this one loop, on this thread. */
static int run_single(const struct server_config *cfg, enum signal_style signals)
{
	struct listener lis = {.fd = -1, .exclusive = false};
	server_start(cfg, signals, false, &lis);
	struct loop lp = {.index = 0,
			  .lis = &lis,
			  .wake_fd = signals == SIGNALS_FD ? signals_fd() : -1,
			  .single = true};
	body(&lp);
	stats_write("final");
	conn_close_all();
	listener_close(&lis);
	return 0;
}

static void open_listeners(const struct server_config *cfg, bool exclusive)
{
	listeners = calloc(nloops, sizeof *listeners);
	if (!listeners)
		fatal_errno("calloc");
	listener_open_at(&listeners[0], cfg, (uint16_t)cfg->port, !exclusive);
	listeners[0].exclusive = exclusive;
	uint16_t port = listener_port(&listeners[0]); /* --port 0: the rest join the first */
	for (size_t i = 1; i < nloops; i++) {
		if (exclusive)
			listener_share(&listeners[i], &listeners[0]);
		else
			listener_open_at(&listeners[i], cfg, port, true);
		listeners[i].exclusive = exclusive;
	}
	for (size_t i = 0; per_process > 1 && i < nloops; i++)
		listeners[i].fd_lock = &fd_lock; /* one per process: fork() copies it, unlocked */
}

static _Noreturn void refuse(const struct server_config *cfg, const char *why)
{
	fprintf(stderr, "echo-%s: %s (see --help)\n", cfg->name, why);
	exit(2);
}

int runtime_run(struct server_config *cfg, const struct runtime_config *rc, loop_fn *fn)
{
	config = cfg;
	body = fn;
	const char *accept = rc->accept ? rc->accept : "reuseport";
	bool exclusive = strcmp(accept, "exclusive") == 0;
	if (!exclusive && strcmp(accept, "reuseport") != 0) {
		fprintf(stderr, "echo-%s: --accept '%s': want reuseport or exclusive (see --help)\n",
			cfg->name, accept);
		exit(2);
	}
	per_process = rc->threads;
	nloops = rc->threads * (rc->workers ? rc->workers : 1);
	if (rc->threads < 1 || nloops > RUNTIME_MAX_LOOPS) {
		char why[64];
		snprintf(why, sizeof why, "--threads x --workers must be 1..%d", RUNTIME_MAX_LOOPS);
		refuse(cfg, why);
	}
	if (nloops == 1 && !rc->workers)
		return run_single(cfg, rc->signals);
	if (rc->signals != SIGNALS_FD)
		refuse(cfg, "a loop that never sleeps cannot share the server with others");

	name_variant(cfg, rc, exclusive);
	stats_init(cfg->name, cfg->variant, cfg->stats_path, true, cfg->checks);
	signals_init(SIGNALS_FD); /* blocks the signals: every thread and worker inherits that */
	const struct counters *c = counters_create(nloops, rc->workers);
	loops = calloc(nloops, sizeof *loops);
	if (!loops)
		fatal_errno("calloc");
	open_listeners(cfg, exclusive);
	for (size_t i = 0; i < nloops; i++)
		loops[i] = (struct loop){
		    .index = (unsigned)i,
		    .lis = &listeners[i],
		    .counters = &c->loops[i],
		    .usage = rc->workers && i % per_process == 0 ? &c->workers[i / per_process] : NULL,
		};
	control_create(cfg, loops, nloops);

	int status = 0;
	if (rc->workers) {
		struct supervisor_plan plan = {.workers = rc->workers,
					       .lis_fd = listeners[0].fd,
					       .worker = worker,
					       .handed_over = handed_over};
		status = supervisor_run(cfg, &plan);
	} else {
		run_threads(0, nloops, true);
		stats_write("final");
		conn_close_all();
		handed_over();
	}
	control_destroy();
	free(loops);
	free(listeners);
	return status;
}
