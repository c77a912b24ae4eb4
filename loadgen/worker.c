/* worker.c - one loadgen thread: its own epoll loop over its share of the connections (like wrk).
 *
 * Connect phase: connections are opened non-blocking, at most MAX_CONNECTING at once (so that the
 * server's listen backlog never overflows, which would cost a 1 s SYN retransmission), paced by
 * --connect-rate. A connection counts as made when one request has been echoed on it: connect()
 * completes as soon as the kernel queued the connection, and a server that accepts slowly (a
 * thread per connection) would otherwise still be accepting during the measured window. A
 * connection whose first echo does not come back within --timeout is given up (and counted).
 * Then traffic:
 *  - closed loop: each active connection keeps --pipeline requests in flight; a response sends the
 *    next request at once;
 *  - fixed rate: this thread's j-th request falls due at start + j * interval and goes to its active
 *    connection j mod M_t. The loop sleeps exactly until the next one is due (epoll_pwait2, with
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

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { MAX_CONNECTING = 256, MAX_EVENTS = 512, SEND_BATCH = 16, SCAN_NS = 100 * 1000 * 1000 };

static void flush_sends(struct worker *w, uint64_t now);

static int open_socket(struct worker *w, struct lconn *c)
{
	const struct config *cfg = w->cfg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		goto fail;
	if (cfg->nsources) {
		/* Bind only the address; the port is picked at connect(), per destination, so the
		 * sources multiply the ports available instead of each binding its own. */
		struct sockaddr_in src = {.sin_family = AF_INET,
					  .sin_addr = cfg->source_addrs[c->id % cfg->nsources]};
		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
		    bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&cfg->dest, sizeof cfg->dest) != 0 && errno != EINPROGRESS)
		goto fail;
	c->fd = fd;
	c->connecting = true;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	return 0;
fail:;
	int err = errno;
	close(fd);
	return -err;
}

/* Returns false (and records why) when a connection could not be made. */
static bool connect_all(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct epoll_event evs[MAX_EVENTS];
	size_t next = 0, connecting = 0;
	uint64_t start = now_ns(), next_scan = start + SCAN_NS;
	/* --connect-rate is for the whole loadgen: each thread takes its share */
	double per_ns = cfg->connect_rate ? (double)cfg->connect_rate / (double)cfg->threads / 1e9 : 0;

	while (w->settled < w->nconns) {
		uint64_t now = now_ns();
		while (next < w->nconns && connecting < MAX_CONNECTING &&
		       (!per_ns || (double)next < (double)(now - start) * per_ns + 1)) {
			int err = open_socket(w, &w->conns[next]);
			if (err) {
				w->connect_errno = -err;
				return false;
			}
			next++;
			connecting++;
		}
		if (atomic_load(&run_phase) >= PHASE_DONE)
			return false; /* the main thread gave up on us (its connect deadline) */
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, per_ns ? 1 : 100);
		if (n < 0 && errno != EINTR) {
			w->connect_errno = errno;
			return false;
		}
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			if (c == NULL || c->dead)
				continue;
			if (!c->connecting) { /* its first echo, or its first request still going out */
				if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					lconn_receive(w, c, now);
				if (!c->dead && (evs[i].events & EPOLLOUT))
					lconn_send(w, c, now);
				continue;
			}
			int soerr = 0;
			socklen_t len = sizeof soerr;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
				soerr = errno;
			if (soerr) {
				w->connect_errno = soerr;
				return false;
			}
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
			if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
				w->connect_errno = errno;
				return false;
			}
			c->connecting = false;
			connecting--;
			w->connected++;
			lconn_schedule(w, c, now);
			lconn_send(w, c, now);
		}
		flush_sends(w, now);
		if (now >= next_scan) {
			for (size_t i = 0; i < next; i++) {
				struct lconn *c = &w->conns[i];
				if (!c->dead && !c->connecting && c->rx_seq < c->tx_seq &&
				    now - c->q[c->rx_seq & (c->q_cap - 1)].sent_ns > cfg->timeout_ns)
					lconn_fail(w, c, ERR_TIMEOUT);
			}
			next_scan = now + SCAN_NS;
		}
	}
	return true;
}

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
	uint64_t t = (uint64_t)((unsigned __int128)j * w->rate_num / w->rate_den);
	if (w->cfg->tick_ns)
		t -= t % w->cfg->tick_ns;
	return w->rate_start_ns + t;
}

/* A request that waited --timeout for its response: the connection is given up. */
static void scan_timeouts(struct worker *w, uint64_t now)
{
	for (size_t i = 0; i < w->nactive; i++) {
		struct lconn *c = w->actives[i];
		if (!c->dead && c->rx_seq < c->tx_seq &&
		    now - c->q[c->rx_seq & (c->q_cap - 1)].sent_ns > w->cfg->timeout_ns)
			lconn_fail(w, c, ERR_TIMEOUT);
	}
}

/* Requests held back while this wake-up's responses are read (conn.c) go out in batches of
 * SEND_BATCH: one batch wakes the server once, and the next arrives while it is still busy with
 * the last, so it neither sleeps between requests nor starves while we read. */
static void flush_sends(struct worker *w, uint64_t now)
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
	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) != 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		perror("loadgen: timerfd");
		exit(1);
	}
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
		if (n < 0 && errno != EINTR) {
			perror("loadgen: epoll_wait");
			exit(1);
		}
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
				flush_sends(w, now);
			if (!c->dead && (evs[i].events & EPOLLOUT))
				lconn_send(w, c, now);
		}
		flush_sends(w, now);
		if (cfg->rate && w->nactive) {
			for (uint64_t d; (d = due(w, w->next_req)) <= now; w->next_req++) {
				struct lconn *c = w->actives[w->next_req % w->nactive];
				if (c->dead)
					continue;
				lconn_schedule(w, c, d);
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
		if (n < 0 && errno != EINTR) {
			perror("loadgen: epoll_wait");
			exit(1);
		}
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
	prctl(PR_SET_TIMERSLACK, 1UL); /* sleep until the next request is due, not 50 µs later */
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->sendq = calloc(w->nconns + 1, sizeof *w->sendq);
	if (w->ep < 0 || !w->sendq) {
		w->connect_errno = errno;
	} else if (connect_all(w)) {
		atomic_fetch_add(&workers_connected, 1);
		while (atomic_load(&run_phase) == PHASE_CONNECT) /* the others are still connecting */
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		traffic(w);
		drain(w);
	}
	atomic_fetch_add(&workers_drained, 1);
	while (atomic_load(&run_phase) < PHASE_EXIT) /* the window is being closed: keep still */
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	close_all(w);
	free(w->sendq);
	if (w->ep >= 0)
		close(w->ep);
	return NULL;
}
