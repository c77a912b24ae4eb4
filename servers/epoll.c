/* epoll.c - echo server on epoll: the kernel keeps the interest list and reports only ready fds.
 *
 * What it shows:
 *  - epoll_ctl() once per connection (plus once per change of interest), epoll_wait() once per pass,
 *    and then work only on the fds that are ready: the cost of a pass does not grow with the number
 *    of idle connections, which is the whole argument for epoll.
 *  - level-triggered (default): a ready fd is reported again on every wait until it is drained, so
 *    one read per event is enough; EPOLLOUT is armed only while output is pending (otherwise an
 *    always-writable socket would wake every wait), and EPOLLIN is dropped while the pending output
 *    is at its cap (otherwise an unread socket would wake every wait too).
 *  - --edge (EPOLLET): a fd is reported once per change, so each must be read until EAGAIN or it is
 *    never reported again. Interest is registered once (IN|OUT) and never changed: no epoll_ctl
 *    per request. To stay fair, a connection gets at most EDGE_BUDGET reads per pass; one that still
 *    has data goes on a queue served on the next pass, which then waits with timeout 0.
 *  - --oneshot (EPOLLONESHOT, level-triggered otherwise): every reported event disarms the fd, and
 *    the loop re-arms it with one epoll_ctl(MOD) per event, what many servers that hand fds to
 *    worker threads do so that no two threads get one fd's event. The price shows directly: one
 *    more syscall per request than the level-triggered loop, which changes interest only when
 *    output is pending or at its cap.
 *  - --threads T: T copies of the loop below, each on its own thread with its own epoll set, its
 *    own connections (and --edge queue: the loop's state is _Thread_local) and its own counters;
 *    --workers P: P processes of T loops each, so one server holds more connections than one
 *    process's fd limit allows. runtime.h does the spawning, the signals and the summed stats;
 *    the loop itself only watches one more fd (wake_fd), which is the signalfd with one loop.
 *    Accepting (--accept): reuseport (default), a SO_REUSEPORT listener per loop, or exclusive,
 *    one listener in every set with EPOLLEXCLUSIVE. Exclusive hands the next connection to
 *    whichever loop is waiting, i.e. the idler one, which then keeps it: the connections pile up
 *    on one loop, and it costs less CPU per request only by leaving the other loop nearly idle,
 *    like a single loop. Spreading the load is the point of several loops: reuseport it is
 *    (results/README.md has the measurements).
 * Pitfalls handled: EPOLLERR/EPOLLHUP are "go find out": the read or write says what happened. An
 * fd closed during a batch cannot reappear later in the same batch here, because each fd is
 * reported at most once per epoll_wait and a connection is only closed while handling its own event.
 *
 * Run: echo-epoll [--edge | --oneshot] [--threads T] [--workers P] --port 7000, then: nc 127.0.0.1 7000
 */
#include "runtime.h"
#include "server.h"

enum { MAX_EVENTS = 256, EDGE_BUDGET = 8, QUEUED = 1u << 31 };

/* Readiness checks: the events each epoll_wait() returned (stats.c shows `events` as checks,
 * walked and scanned): ep_send_events() polls only the ready list's items, and the loop iterates
 * exactly those n. Level-triggered, a reported item goes back on the ready list, so the next wait
 * polls it once more, which can add at most the previous wait's events (results/README.md). */
static struct server_config cfg = {.name = "epoll", .checks = CHECKS_EVENTS};
static bool edge, oneshot;
/* --oneshot: EPOLLONESHOT, else 0. OR-ed into the events armed and into loop_state, where it makes
 * the level-triggered check below fail every time (interest() never has it), so each event
 * re-arms the fd; the level-triggered path runs exactly the instructions it did before --oneshot
 * existed (make regress counts them per request). */
static uint32_t oneshot_bit;
/* Each loop's own (--threads: one per loop thread). */
static _Thread_local int ep;
static _Thread_local struct conn **queue, **spare_queue; /* --edge: data left after the budget */
static _Thread_local size_t queued, queue_cap;

/* Level-triggered: ask for exactly what the connection can use now (conn.h's two questions). */
static uint32_t interest(const struct conn *c)
{
	if (edge)
		return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	return (conn_wants_read(c) ? EPOLLIN : 0u) | (conn_wants_write(c) ? EPOLLOUT : 0u);
}

static void rearm(struct conn *c)
{
	uint32_t want = interest(c);
	if (want == c->loop_state) /* --oneshot: never (the event disarmed it, whatever it was) */
		return;
	struct epoll_event ev = {.events = want | oneshot_bit, .data.ptr = c};
	if (sys_epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		fatal_errno("epoll_ctl MOD");
	c->loop_state = want | oneshot_bit;
}

static void accept_all(struct listener *lis)
{
	struct conn *c;
	while ((c = server_accept(lis, false, &cfg))) {
		/* loop_state: level-triggered, the interest armed; --edge, only the QUEUED mark */
		c->loop_state = edge ? 0 : EPOLLIN | oneshot_bit;
		struct epoll_event ev = {.events = interest(c) | oneshot_bit, .data.ptr = c};
		if (sys_epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			fatal_errno("epoll_ctl ADD");
	}
}

/* Level-triggered: one read or one write per reported event; epoll will tell us again. */
static void serve_level(struct conn *c, uint32_t events)
{
	bool readable = events & (EPOLLIN | EPOLLERR | EPOLLHUP);
	bool writable = events & (EPOLLOUT | EPOLLERR | EPOLLHUP);
	if (conn_serve(c, readable, writable))
		rearm(c);
	else
		conn_close(c); /* closing the fd also removes it from the epoll set */
}

static void enqueue(struct conn *c)
{
	if (queued == queue_cap) {
		queue_cap = queue_cap * 2 + 64;
		queue = realloc(queue, queue_cap * sizeof *queue);
		spare_queue = realloc(spare_queue, queue_cap * sizeof *queue);
		if (!queue || !spare_queue)
			fatal_errno("realloc");
	}
	c->loop_slot = queued;
	queue[queued++] = c;
	c->loop_state |= QUEUED;
}

static void dequeue(struct conn *c)
{
	queue[c->loop_slot] = queue[--queued];
	queue[c->loop_slot]->loop_slot = c->loop_slot;
	c->loop_state &= ~QUEUED;
}

/* Edge-triggered: go on until the socket says EAGAIN, or the budget is spent (then queue it). */
static void serve_edge(struct conn *c)
{
	enum conn_rc rc = CONN_MORE;
	if (conn_wants_write(c))
		rc = conn_on_writable(c);
	for (int i = 0; rc != CONN_CLOSE && !conn_wants_write(c) && conn_wants_read(c); i++) {
		if (i == EDGE_BUDGET) {
			if (!(c->loop_state & QUEUED))
				enqueue(c);
			return;
		}
		rc = conn_on_readable(c);
		if (rc == CONN_AGAIN)
			break; /* drained: the next edge will tell us */
	}
	if (rc == CONN_CLOSE || (c->eof && !conn_wants_write(c))) {
		if (c->loop_state & QUEUED)
			dequeue(c);
		conn_close(c);
	}
}

/* Serve the connections queued last pass (after the batch's events, which may point at them). */
static void serve_queue(void)
{
	struct conn **batch = queue;
	size_t n = queued;
	queue = spare_queue; /* connections that spend their budget again are queued for next pass */
	spare_queue = batch;
	queued = 0;
	for (size_t i = 0; i < n; i++) {
		batch[i]->loop_state &= ~QUEUED;
		serve_edge(batch[i]);
	}
}

/* One event loop: its own epoll set, holding its listener, its wake-up fd and its connections. */
static void serve(struct loop *lp)
{
	ep = sys_epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal_errno("epoll_create1");
	/* A listener in every loop's set (--accept exclusive): EPOLLEXCLUSIVE wakes one of the loops
	 * waiting on it, not all of them, per connection. */
	struct epoll_event ev = {.events = EPOLLIN | (lp->lis->exclusive ? EPOLLEXCLUSIVE : 0u),
				 .data.ptr = lp->lis};
	if (sys_epoll_ctl(ep, EPOLL_CTL_ADD, lp->lis->fd, &ev) != 0)
		fatal_errno("epoll_ctl ADD listener");
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the wake fd */
	if (sys_epoll_ctl(ep, EPOLL_CTL_ADD, lp->wake_fd, &ev) != 0)
		fatal_errno("epoll_ctl ADD wake fd");

	struct epoll_event events[MAX_EVENTS];
	while (loop_running(lp)) {
		STAT_ADD(loop_passes, 1);
		int n = sys_epoll_wait(ep, events, MAX_EVENTS, queued ? 0 : -1);
		if (n < 0)
			fatal_errno("epoll_wait"); /* no EINTR: the signals come on a signalfd */
		stats_wakeup(n);
		for (int i = 0; i < n; i++) {
			void *p = events[i].data.ptr;
			if (p == lp->lis)
				accept_all(lp->lis);
			else if (!p)
				loop_woken(lp); /* loop_running() acts on it before the next wait */
			else if (edge)
				serve_edge(p);
			else
				serve_level(p, events[i].events);
		}
		if (queued)
			serve_queue();
	}
	sys_close(ep);
	free(queue);
	free(spare_queue);
}

int main(int argc, char **argv)
{
	const char *accept = "reuseport";
	struct runtime_config rc = {.threads = 1, .workers = 0};
	const struct server_option options[] = {
		{"edge", OPT_FLAG, &edge, 0, 0, NULL, "edge-triggered (EPOLLET): drain each socket to EAGAIN"},
		{"oneshot", OPT_FLAG, &oneshot, 0, 0, NULL,
		 "EPOLLONESHOT: each event disarms the fd, re-armed with one epoll_ctl per event"},
		{"threads", OPT_COUNT, &rc.threads, 1, RUNTIME_MAX_LOOPS, "T", "T event loops, one per thread (1)"},
		{"workers", OPT_COUNT, &rc.workers, 0, RUNTIME_MAX_LOOPS, "P",
		 "P processes of T loops each, under a supervisor (0: none)"},
		{"accept", OPT_STRING, &accept, 0, 0, "HOW",
		 "with several loops: reuseport (a listener per loop) or exclusive (one, EPOLLEXCLUSIVE)"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	if (edge && oneshot) {
		fprintf(stderr, "echo-epoll: --edge and --oneshot: pick one (see --help)\n");
		exit(2);
	}
	oneshot_bit = oneshot ? EPOLLONESHOT : 0u;
	rc.accept = accept;
	cfg.variant = edge ? "edge" : oneshot ? "oneshot" : "level";
	return runtime_run(&cfg, &rc, serve);
}
