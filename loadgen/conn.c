/* conn.c - one connection's request stream: what to send, and whether what came back is right.
 *
 * Every request carries content the loadgen can check: request `seq` of connection `id` is `size`
 * bytes of a shared random pool, starting at an offset hashed from (id, seq). A response byte that
 * differs (a flipped bit, another connection's bytes, a reordered request) fails a memcmp against
 * the pool; bytes beyond what was sent are "extra". Checking costs one memcmp per read, so the
 * loadgen adds no work to the stream beyond what the server does (a read and a write).
 *
 * Requests go out in order and the echo comes back in order, so each connection keeps a ring of
 * slots indexed by sequence number: [rx_seq, tx_seq) are in flight, [tx_seq, q_end) are scheduled
 * but not yet sent (at a fixed rate, a request falls due while the previous one is still in
 * flight: it waits, and its latency still counts from when it was due).
 */
#include "loadgen.h"

#include "fatal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

const char *const err_names[ERR__COUNT] = {
	[ERR_VERIFY] = "verify", [ERR_EXTRA] = "extra", [ERR_TIMEOUT] = "timeout",
	[ERR_CLOSED] = "closed", [ERR_IO] = "io"};

static unsigned char *pool; /* 2 * pool_size bytes: the second half repeats the first */
static uint64_t pool_size, req_size, pool_seed;

static uint64_t mix(uint64_t x) /* splitmix64's finalizer */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

void payload_init(uint64_t seed, uint64_t size)
{
	pool_size = 1u << 20;
	while (pool_size < size)
		pool_size <<= 1;
	req_size = size;
	pool_seed = seed;
	pool = malloc(2 * pool_size);
	if (!pool)
		fatal_errno("payload pool");
	uint64_t x = seed;
	for (uint64_t i = 0; i < pool_size; i += 8) {
		x = mix(x);
		memcpy(pool + i, &x, 8);
	}
	memcpy(pool + pool_size, pool, pool_size);
}

void payload_free(void)
{
	free(pool);
}

static const unsigned char *payload(const struct lconn *c, uint64_t seq)
{
	return pool + (mix(pool_seed ^ ((uint64_t)c->id << 40) ^ seq) & (pool_size - 1));
}

static struct slot *slot_of(struct lconn *c, uint64_t seq)
{
	return &c->q[seq & (c->q_cap - 1)];
}

void lconn_schedule(struct worker *w, struct lconn *c, uint64_t sched_ns)
{
	if (c->q_end - c->rx_seq == c->q_cap) { /* full: double the ring, keeping each seq's slot */
		uint64_t cap = c->q_cap ? c->q_cap * 2 : 8;
		struct slot *q = malloc(cap * sizeof *q);
		if (!q) {
			lconn_fail(w, c, ERR_IO);
			return;
		}
		for (uint64_t s = c->rx_seq; s < c->q_end; s++)
			q[s & (cap - 1)] = *slot_of(c, s);
		free(c->q);
		c->q = q;
		c->q_cap = cap;
	}
	slot_of(c, c->q_end++)->sched_ns = sched_ns;
}

bool lconn_overdue(const struct worker *w, const struct lconn *c, uint64_t now)
{
	return !c->dead && !c->connecting && c->rx_seq < c->tx_seq &&
	       now - c->q[c->rx_seq & (c->q_cap - 1)].sent_ns > w->cfg->timeout_ns;
}

void lconn_fail(struct worker *w, struct lconn *c, enum err_kind kind)
{
	if (c->dead)
		return;
	int phase = atomic_load_explicit(&run_phase, memory_order_relaxed);
	/* After the window too: the requests still in flight at its end are waited for (drain), and a
	 * fault in their answers is as much the server's as one inside it. */
	if (phase < PHASE_EXIT)
		w->errors[kind]++;
	if (phase == PHASE_CONNECT)
		w->settled++;
	/* Abortive close (RST, no TIME_WAIT): see worker.c's close_all(). */
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
}

static void set_want_out(struct worker *w, struct lconn *c, bool want)
{
	if (c->want_out == want || c->dead)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return lconn_fail(w, c, ERR_IO);
	c->want_out = want;
}

/* The window is over: send nothing more (not even the rest of a half-written request, whose echo
 * can then never be whole and is not waited for), so that only [rx_seq, tx_seq) is awaited. */
void lconn_drain(struct worker *w, struct lconn *c)
{
	c->q_end = c->tx_seq;
	set_want_out(w, c, false);
}

/* Send what is due, up to --pipeline requests in flight, in one writev() per call: requests that
 * fall due together (a pipelined batch at a fixed rate, or the closed loop's first K) leave in one
 * write, as a pipelining client writes them, so that the server's read can take the batch. */
bool lconn_send(struct worker *w, struct lconn *c, uint64_t now)
{
	enum { IOVS = 64 };
	while (!c->dead && c->tx_seq < c->q_end && c->tx_seq - c->rx_seq < w->cfg->pipeline) {
		struct iovec iov[IOVS];
		uint64_t limit = c->rx_seq + w->cfg->pipeline, end = c->q_end < limit ? c->q_end : limit;
		int k = 0;
		for (uint64_t seq = c->tx_seq; seq < end && k < IOVS; seq++, k++) {
			uint64_t off = seq == c->tx_seq ? c->tx_off : 0;
			if (off == 0)
				slot_of(c, seq)->sent_ns = now;
			iov[k] = (struct iovec){(void *)(payload(c, seq) + off), req_size - off};
		}
		ssize_t n = writev(c->fd, iov, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			lconn_fail(w, c, errno == EPIPE || errno == ECONNRESET ? ERR_CLOSED : ERR_IO);
			return false;
		}
		if (atomic_load_explicit(&run_phase, memory_order_relaxed) == PHASE_MEASURE)
			w->bytes_out += (uint64_t)n;
		uint64_t left = (uint64_t)n;
		while (left > 0) { /* advance over whole requests, then into the one cut short */
			uint64_t rest = req_size - c->tx_off;
			if (left < rest) {
				c->tx_off += left;
				break;
			}
			left -= rest;
			c->tx_seq++;
			c->tx_off = 0;
		}
		if (c->tx_off > 0)
			break; /* the socket is full: wait for EPOLLOUT */
	}
	set_want_out(w, c, !c->dead && c->tx_off > 0);
	return !c->dead;
}

static void response_done(struct worker *w, struct lconn *c, uint64_t now)
{
	struct slot *s = slot_of(c, c->rx_seq);
	int phase = atomic_load_explicit(&run_phase, memory_order_relaxed);
	c->rx_seq++;
	c->rx_off = 0;
	c->rx_bad = false;
	if (phase == PHASE_CONNECT) { /* the connection's first echo (worker.c): it is served */
		w->settled++;
		return;
	}
	c->responded = true;
	if (phase == PHASE_MEASURE) {
		hist_record(&w->lat, now - s->sched_ns);
		if (w->cfg->rate) /* in closed loop a request is sent when scheduled: the same figure */
			hist_record(&w->lat_uncorrected, now - s->sent_ns);
		w->responses++;
		if (w->cfg->requests) {
			uint64_t done = atomic_fetch_add_explicit(&window_responses, 1, memory_order_relaxed) + 1;
			int measure = PHASE_MEASURE;
			if (done >= w->cfg->requests)
				atomic_compare_exchange_strong(&run_phase, &measure, PHASE_DONE);
		}
	}
	/* closed loop: the next request goes as soon as this one is answered (until the window ends) */
	if (!w->cfg->rate && phase < PHASE_DONE)
		lconn_schedule(w, c, now);
}

void lconn_receive(struct worker *w, struct lconn *c, uint64_t now)
{
	static _Thread_local unsigned char buf[65536];
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		return lconn_fail(w, c, n == 0 || errno == ECONNRESET ? ERR_CLOSED : ERR_IO);
	}
	if (atomic_load_explicit(&run_phase, memory_order_relaxed) == PHASE_MEASURE)
		w->bytes_in += (uint64_t)n;
	const unsigned char *p = buf;
	size_t left = (size_t)n;
	while (left > 0) {
		/* How much of the current response has been sent: only that can come back. */
		uint64_t limit = c->rx_seq < c->tx_seq ? req_size : c->tx_off;
		if (c->rx_off >= limit) {
			lconn_fail(w, c, ERR_EXTRA);
			return;
		}
		size_t k = left < limit - c->rx_off ? left : (size_t)(limit - c->rx_off);
		if (!c->rx_bad && memcmp(p, payload(c, c->rx_seq) + c->rx_off, k) != 0) {
			c->rx_bad = true; /* one error per corrupted response; its length keeps us aligned */
			w->errors[ERR_VERIFY]++;
		}
		p += k;
		left -= k;
		c->rx_off += k;
		if (c->rx_off == req_size)
			response_done(w, c, now);
	}
	/* The next request goes out after every read of this wake-up is done (worker.c): writes
	 * interleaved with reads would wake the server for each one, and a wake-up on the other
	 * core costs the writer more than the request itself. */
	if (c->tx_seq < c->q_end && !c->send_queued) {
		c->send_queued = true;
		w->sendq[w->nsendq++] = c;
	}
}
