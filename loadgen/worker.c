/* worker.c - one loadgen thread: its own epoll loop over its share of the connections (like wrk).
 *
 * First its connections are made (connect.c). Then traffic:
 *  - closed loop: each active connection keeps --pipeline requests in flight; a response sends the
 *    next request at once;
 *  - fixed rate: this thread's j-th request falls due at start + j * interval and goes to its active
 *    connection j mod M_t; with --pipeline K, in batches: requests j..j+K-1 (j a multiple of K)
 *    fall due together, at the first one's time, on connection (j / K) mod M_t, and leave in one
 *    write, as a pipelining client (redis-benchmark -P) sends them. The loop sleeps exactly until the next one is due (epoll_pwait2, with
 *    nanosecond timeouts and the timer slack set to 1 ns), so requests leave evenly spaced; or,
 *    with --tick, in one burst per tick.
 * Drain: when the window ends, no more requests are sent, and the loop runs on until every request
 * sent has been answered or has timed out. A response still missing at the window's end (a server
 * that dropped bytes, or hangs) is then counted as a timeout, not forgotten: without this, a
 * connection that stalled less than --timeout before the end passed as a clean run.
 * Level-triggered epoll, EPOLLIN always, EPOLLOUT only while a request is half-written: per request
 * the loadgen makes one write, one read and a share of one wait, the same as the server it drives.
 */
#include "loadgen.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { SEND_BATCH = 16 };

/* Abortive close (SO_LINGER 0: RST, no TIME_WAIT), so that back-to-back runs of 10,000
 * connections do not exhaust the ephemeral ports. The server sees a reset, after the window. */
static void close_all(struct worker *w)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	for (size_t i = 0; i < w->nconns; i++) {
		struct lconn *c = &w->conns[i];
		if (c->fd >= 0) {
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			close(c->fd);
			c->fd = -1;
		}
		free(c->q);
		c->q = NULL;
	}
}

/* When this thread's j-th request is due: evenly spaced, or with --tick, every request that falls
 * within a tick is due at the tick's start (the load arrives in bursts, as wrk2's millisecond
 * timers make it). Latency counts from this time either way. */
static uint64_t due(const struct worker *w, uint64_t j)
{
	j -= j % w->cfg->pipeline; /* a pipelined batch falls due at once, at its first request's time */
	uint64_t t = (uint64_t)((unsigned __int128)j * w->rate_num / w->rate_den);
	if (w->cfg->tick_ns)
		t -= t % w->cfg->tick_ns;
	return w->rate_start_ns + t;
}

/* A request that waited --timeout for its response: the connection is given up. */
static void scan_timeouts(struct worker *w, uint64_t now)
{
	for (size_t i = 0; i < w->nactive; i++) {
		if (lconn_overdue(w, w->actives[i], now))
			lconn_fail(w, w->actives[i], ERR_TIMEOUT);
	}
}

/* Requests held back while this wake-up's responses are read (conn.c) go out in batches of
 * SEND_BATCH: one batch wakes the server once, and the next arrives while it is still busy with
 * the last, so it neither sleeps between requests nor starves while we read. */
void worker_flush_sends(struct worker *w, uint64_t now)
{
	for (size_t i = 0; i < w->nsendq; i++) {
		w->sendq[i]->send_queued = false;
		lconn_send(w, w->sendq[i], now);
	}
	w->nsendq = 0;
}

/* A periodic tick, so that the loop checks timeouts and the phase even when nothing arrives. In
 * closed loop it lets epoll_wait() block without a timeout: a wait with one arms a timer on
 * every call that sleeps, which on a VM costs as much as the rest of a request. */
static int tick_fd(struct worker *w)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {.it_interval = {0, SCAN_NS}, .it_value = {0, SCAN_NS}};
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) != 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal_errno("timerfd");
	return fd;
}

static void traffic(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct epoll_event evs[MAX_EVENTS];
	uint64_t now = now_ns(), next_scan = now + SCAN_NS;
	int tick = tick_fd(w);

	if (!cfg->rate) {
		for (size_t i = 0; i < w->nactive; i++) {
			for (uint64_t k = 0; k < cfg->pipeline; k++)
				lconn_schedule(w, w->actives[i], now);
			lconn_send(w, w->actives[i], now);
		}
	}
	while (atomic_load_explicit(&run_phase, memory_order_relaxed) < PHASE_DONE) {
		int n;
		if (cfg->rate && w->nactive) { /* sleep exactly until the next request is due */
			uint64_t wake = due(w, w->next_req);
			struct timespec ts = {0, 0};
			if (wake > now)
				ts = (struct timespec){(time_t)((wake - now) / 1000000000u),
						       (long)((wake - now) % 1000000000u)};
			n = epoll_pwait2(w->ep, evs, MAX_EVENTS, &ts, NULL);
		} else {
			n = epoll_wait(w->ep, evs, MAX_EVENTS, -1);
		}
		if (n < 0 && errno != EINTR)
			fatal_errno("epoll_wait");
		now = now_ns(); /* one clock read per wake-up: every event in it arrived before now */
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			if (!c) {
				uint64_t expirations;
				if (read(tick, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
					perror("loadgen: timerfd read");
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				lconn_receive(w, c, now);
			if (w->nsendq >= SEND_BATCH)
				worker_flush_sends(w, now);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				lconn_send(w, c, now);
		}
		worker_flush_sends(w, now);
		if (cfg->rate && w->nactive) {
			for (uint64_t d; (d = due(w, w->next_req)) <= now; w->next_req++) {
				/* --pipeline K: K consecutive requests to one connection, one batch */
				struct lconn *c = w->actives[(w->next_req / cfg->pipeline) % w->nactive];
				if (c->dead)
					continue;
				lconn_schedule(w, c, d);
				/* a batch leaves whole, in one write, once its last request is scheduled */
				if ((w->next_req + 1) % cfg->pipeline == 0)
					lconn_send(w, c, now);
			}
		}
		if (now >= next_scan) {
			scan_timeouts(w, now);
			next_scan = now + SCAN_NS;
		}
	}
	close(tick);
}

/* Wait for the requests in flight (see the top of this file). Bounded: each is answered or given up
 * --timeout after it was sent. Responses read here are checked but not counted (phase DONE). */
static void drain(struct worker *w)
{
	struct epoll_event evs[MAX_EVENTS];
	for (size_t i = 0; i < w->nactive; i++)
		if (!w->actives[i]->dead)
			lconn_drain(w, w->actives[i]);
	for (;;) {
		size_t waiting = 0;
		for (size_t i = 0; i < w->nactive; i++)
			waiting += !w->actives[i]->dead && w->actives[i]->rx_seq < w->actives[i]->tx_seq;
		if (!waiting)
			return;
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, SCAN_NS / 1000000);
		if (n < 0 && errno != EINTR)
			fatal_errno("epoll_wait");
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			if (c && !c->dead && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				lconn_receive(w, c, now);
		}
		w->nsendq = 0; /* lconn_receive queues nothing now (lconn_drain), but never send here */
		scan_timeouts(w, now);
	}
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	/* sleep until the next request is due, not 50 µs (the default slack) later */
	if (prctl(PR_SET_TIMERSLACK, 1UL) != 0)
		perror("loadgen: prctl PR_SET_TIMERSLACK");
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->sendq = calloc(w->nconns + 1, sizeof *w->sendq);
	if (w->ep < 0 || !w->sendq) {
		w->connect_errno = errno;
	} else if (connect_all(w)) {
		atomic_fetch_add(&workers_connected, 1);
		while (atomic_load(&run_phase) == PHASE_CONNECT) /* the others are still connecting */
			sleep_ns(1000000);
		traffic(w);
		drain(w);
	}
	atomic_fetch_add(&workers_drained, 1);
	while (atomic_load(&run_phase) < PHASE_EXIT) /* the window is being closed: keep still */
		sleep_ns(1000000);
	close_all(w);
	free(w->sendq);
	if (w->ep >= 0)
		close(w->ep);
	return NULL;
}
