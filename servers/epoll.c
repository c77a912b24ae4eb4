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
 *  - --epoll2, the layout Gammo et al. (OLS 2004) called epoll2: level-triggered, IN|OUT registered
 *    once at accept and never changed, so no epoll_ctl per request either; the price is that every
 *    connection with room in its send buffer (all of them, idle ones too) is reported writable by
 *    every wait, so the loop wakes for sockets it has nothing to write to and never sleeps while it
 *    holds a connection (the table of servers marks it as spinning).
 *  - --busy-poll USECS (EPIOCSPARAMS, Linux 6.9+): epoll_wait busy-polls the device queue of the
 *    NAPI id its sockets carry for up to USECS before sleeping. A socket only carries one if its
 *    packets came through a NAPI device; loopback has none, so here it changes nothing. Each
 *    accepted connection is asked (SO_INCOMING_NAPI_ID, as liburing's napi-busy-poll example
 *    does); those without an id are counted (no_napi_conns), and bench/run calls such a row
 *    unsupported:no_napi instead of publishing a figure for busy polling that did not happen.
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
 * Run: echo-epoll [--edge | --oneshot | --epoll2] [--busy-poll USECS] [--threads T] [--workers P]
 *      --port 7000, then: nc 127.0.0.1 7000
 */
#include "runtime.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* <linux/eventpoll.h> has these from Linux 6.9 on; the build machine's headers may be older than
 * the kernel the server runs on, which is what the probe asks. */
#ifndef EPIOCSPARAMS
struct epoll_params {
	uint32_t busy_poll_usecs;
	uint16_t busy_poll_budget;
	uint8_t prefer_busy_poll;
	uint8_t pad; /* must be 0 */
};
#define EPIOCSPARAMS _IOW(0x8A, 0x01, struct epoll_params)
#endif
#ifndef SO_INCOMING_NAPI_ID
#define SO_INCOMING_NAPI_ID 56
#endif
/* The kernel's own default for busy-poll sockets (include/net/busy_poll.h): packets per poll. */
enum { BUSY_POLL_BUDGET = 8 };

enum { MAX_EVENTS = 256, EDGE_BUDGET = 8, QUEUED = 1u << 31 };

/* Readiness checks: the events each epoll_wait() returned (stats.c shows `events` as checks,
 * walked and scanned): ep_send_events() polls only the ready list's items, and the loop iterates
 * exactly those n. Level-triggered, a reported item goes back on the ready list, so the next wait
 * polls it once more, which can add at most the previous wait's events (results/README.md). */
static struct server_config cfg = {.name = "epoll", .checks = CHECKS_EVENTS};
static bool edge, oneshot, epoll2;
static uint64_t busy_poll_us;
/* --edge and --epoll2: the interest every connection keeps for its life (0: level-triggered, it
 * follows the connection's needs). One value, so interest() tests one thing, as with --edge alone. */
static uint32_t fixed_interest;
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
	if (fixed_interest)
		return fixed_interest;
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

/* --busy-poll: a connection whose socket carries no NAPI id gives epoll nothing to busy-poll. */
static void check_napi(int fd)
{
	unsigned id = 0;
	socklen_t len = sizeof id;
	if (sys_getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &len) != 0)
		fatal_errno("getsockopt SO_INCOMING_NAPI_ID");
	if (id == 0)
		STAT_ADD(no_napi_conns, 1);
}

/* --busy-poll: the epoll set's busy-poll parameters; false (errno set) where the kernel refuses. */
static bool set_busy_poll(int fd)
{
	struct epoll_params p = {.busy_poll_usecs = (uint32_t)busy_poll_us, .busy_poll_budget = BUSY_POLL_BUDGET};
	return ioctl(fd, EPIOCSPARAMS, &p) == 0;
}

static void accept_all(struct listener *lis)
{
	struct conn *c;
	while ((c = server_accept(lis, false, &cfg))) {
		/* loop_state: level-triggered, the interest armed (--epoll2: the fixed one, so rearm()
		 * never changes it); --edge, only the QUEUED mark */
		c->loop_state = edge ? 0 : interest(c) | oneshot_bit;
		if (busy_poll_us)
			check_napi(c->fd);
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
	if (busy_poll_us && !set_busy_poll(ep))
		fatal_errno("ioctl EPIOCSPARAMS"); /* main's probe passed: not the kernel's refusal */
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

/* A kernel without EPIOCSPARAMS (before 6.9, or built without CONFIG_NET_RX_BUSY_POLL) is a fact
 * about the machine: exit 77 before listening, with its errno (bench/run: unsupported:kernel). */
static void probe_busy_poll(void)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		fatal_errno("epoll_create1");
	if (!set_busy_poll(fd)) {
		fprintf(stderr, "echo-epoll: --busy-poll: ioctl EPIOCSPARAMS: %s: this kernel cannot set "
				"epoll's busy-poll parameters (Linux 6.9+, CONFIG_NET_RX_BUSY_POLL)\n",
			strerror(errno));
		exit(77);
	}
	close(fd);
}

int main(int argc, char **argv)
{
	const char *accept = "reuseport";
	struct runtime_config rc = {.threads = 1, .workers = 0};
	const struct server_option options[] = {
		{"edge", OPT_FLAG, &edge, 0, 0, NULL, "edge-triggered (EPOLLET): drain each socket to EAGAIN"},
		{"oneshot", OPT_FLAG, &oneshot, 0, 0, NULL,
		 "EPOLLONESHOT: each event disarms the fd, re-armed with one epoll_ctl per event"},
		{"epoll2", OPT_FLAG, &epoll2, 0, 0, NULL,
		 "Gammo et al.'s epoll2: level-triggered, IN|OUT registered once (spins while it holds a connection)"},
		{"busy-poll", OPT_COUNT, &busy_poll_us, 1, 1000000, "USECS",
		 "epoll_wait busy-polls the sockets' NAPI device for USECS (EPIOCSPARAMS, Linux 6.9+)"},
		{"threads", OPT_COUNT, &rc.threads, 1, RUNTIME_MAX_LOOPS, "T", "T event loops, one per thread (1)"},
		{"workers", OPT_COUNT, &rc.workers, 0, RUNTIME_MAX_LOOPS, "P",
		 "P processes of T loops each, under a supervisor (0: none)"},
		{"accept", OPT_STRING, &accept, 0, 0, "HOW",
		 "with several loops: reuseport (a listener per loop) or exclusive (one, EPOLLEXCLUSIVE)"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	if (edge + oneshot + epoll2 > 1) {
		fprintf(stderr, "echo-epoll: --edge, --oneshot and --epoll2 are three layouts: pick one (see --help)\n");
		exit(2);
	}
	if (busy_poll_us)
		probe_busy_poll();
	fixed_interest = edge ? EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET : epoll2 ? EPOLLIN | EPOLLOUT : 0u;
	oneshot_bit = oneshot ? EPOLLONESHOT : 0u;
	rc.accept = accept;
	const char *layout = edge ? "edge" : oneshot ? "oneshot" : epoll2 ? "epoll2" : "level";
	/* busy polling level-triggered is "busypoll" (the row epoll-busypoll), with a layout e.g.
	 * "edge-busypoll" */
	static char variant[32];
	snprintf(variant, sizeof variant, "%s", layout);
	if (busy_poll_us)
		snprintf(variant, sizeof variant, "%s%sbusypoll", strcmp(layout, "level") ? layout : "",
			 strcmp(layout, "level") ? "-" : "");
	cfg.variant = variant;
	return runtime_run(&cfg, &rc, serve);
}
