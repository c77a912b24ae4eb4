/* uring.c - echo server on io_uring: the work is queued in shared rings, and one io_uring_enter()
 * per pass submits every queued operation and reaps every completion. Needs Linux 6.0.
 *
 * What it shows: epoll still costs a read() and a write() per request plus the wait; here a pass
 * costs one syscall however many requests it carries, so under load syscalls per request fall
 * well below one. The techniques, as in liburing's own echo examples:
 *  - multishot accept: one submission yields a completion per new connection, for as long as the
 *    completion carries IORING_CQE_F_MORE; re-armed when one does not.
 *  - multishot recv with a provided-buffer ring (io_uring_register_buf_ring): the kernel picks a
 *    buffer when data arrives, so 10,000 idle connections pin no buffer at all. Re-armed when a
 *    completion lacks IORING_CQE_F_MORE; -ENOBUFS (the ring ran dry) parks the connection until
 *    buffers come back, then re-arms it, so an empty ring never makes the loop spin.
 *  - the data is copied out of the ring buffer into the connection's own --buffer at once and the
 *    ring buffer handed back: a client that never reads then holds its own buffer, not the shared
 *    ring that every other connection needs (sending straight from ring buffers saves a 64-byte
 *    memcpy but lets a few stalled clients starve everyone). Each multishot recv is armed for at
 *    most the room at the tail of that buffer (the kernel's recv byte limit, Linux 6.16+), so
 *    reading stops by itself at the cap, the same backpressure rule as conn.h, and every byte
 *    received fits at once. On older kernels (or --recv-limit off) each arm is one receive of at
 *    most a ring buffer, armed only while that fits: no client can hold ring buffers either way.
 *  - one send in flight per connection, so the echo keeps its order; a short send (or data that
 *    arrived meanwhile) is sent by the next one, from where the last stopped.
 *  - one io_uring_submit_and_wait() per pass: the sends and re-arms queued while handling a batch
 *    of completions all go in together. After a pass that reaped --batch-min requests or more,
 *    the wait holds out (at most --batch-wait) for as many again: DEFER_TASKRUN wakes us only
 *    once that many completions are pending, so under sustained load one syscall carries dozens
 *    of requests. Not after a quiet pass: a wait that times out at the end of a burst costs a
 *    timer wake-up, which on a VM costs more CPU than the syscalls the batch saves.
 *  - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN where the kernel takes them (completions are run
 *    only when we wait, in our own context, not by interrupting us), else COOP_TASKRUN, else none;
 *    the variant in the stats says which one ran.
 *  - the signalfd is watched by a multishot poll, so signals arrive like any other completion.
 *  - at the fd limit, a poll on the listener and accept4()'s shedding instead of the multishot
 *    accept, which would fail at once forever (it takes an fd before looking at the backlog).
 * A connection is closed only once no operation of it is in flight (a send is awaited, a recv is
 * cancelled): an fd closed under a live request would keep the socket open, and a reused fd number
 * would receive the old connection's completions.
 * user_data of every operation: the connection's fd in the high bits, the operation in the low ones.
 *
 * Exit status 77 (and a message) where the kernel refuses io_uring (ENOSYS, EPERM) or is older than
 * 6.0; any other setup failure is a failure (exit 1, the error on stderr), never a skip.
 * Run: echo-uring --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

#include <errno.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/utsname.h>

enum {
	RING_ENTRIES = 4096,  /* submission queue; the completion queue is CQ_ENTRIES */
	CQ_ENTRIES = 16384,
	BUF_COUNT = 512,      /* provided buffers, a power of two */
	BUF_SIZE_MAX = 4096,  /* each; no bigger than --buffer, so one always fits in an empty conn */
	BUF_GROUP = 0,
	BATCH_MAX = 64,	      /* arrivals one wait may ask for */
	NO_BUF = 0xffff,
	EXIT_UNSUPPORTED = 77,
};

enum op { OP_TAG_ACCEPT, OP_TAG_LISTEN, OP_TAG_RECV, OP_TAG_SEND, OP_TAG_CANCEL, OP_TAG_SIGNAL };
enum { OP_TAG_BITS = 8 };

enum flag {
	RECV_ARMED = 1u << 0, /* a multishot recv is live */
	SENDING = 1u << 1,    /* a send is in flight: buf[off, ...) must not move */
	CANCELING = 1u << 2,  /* the recv was asked to stop (the connection is done) */
	PEER_EOF = 1u << 3,   /* the peer shut down its side: send what is pending, then close */
	FAILED = 1u << 4,     /* reset or error: close as soon as nothing is in flight */
	STARVED = 1u << 5,    /* its recv ended with -ENOBUFS: re-arm when buffers return */
	RECV_LIMITED = 1u << 6, /* the live recv was armed with the kernel's byte limit */
};

struct uconn {
	int fd;
	uint32_t flags;
	uint32_t off, len;	     /* pending output: buf[off, len) */
	uint16_t held_head, held_tail; /* ring buffers not yet copied in, oldest first (NO_BUF: none) */
	uint32_t held_bytes;
	struct uconn *next_starved;
	char buf[];
};

static struct server_config cfg = {.name = "uring"};
static struct io_uring ring;
static struct listener lis;
static struct uconn **conns; /* by fd */
static size_t max_fds;

static struct io_uring_buf_ring *br;
static char *bufs;
static uint32_t buf_size;
static uint16_t buf_len[BUF_COUNT], buf_next[BUF_COUNT]; /* for held buffers */
static unsigned buffers_out;				 /* taken by the kernel, not yet returned */
static struct uconn *starved, *starved_tail;		 /* first come, first re-armed */
static uint64_t batch_wait_ns = 20000; /* --batch-wait */
static uint64_t batch_min = 16;	       /* --batch-min */
static unsigned sends_queued, recvs_reaped; /* this pass: what the next wait may count on */

static uint32_t pending(const struct uconn *c)
{
	return c->len - c->off + c->held_bytes;
}

static uint64_t tag(int fd, enum op op)
{
	return (uint64_t)(uint32_t)fd << OP_TAG_BITS | op;
}

/* The next free submission entry; when the queue is full, submit what is there to make room. */
static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&ring))) {
		sys_counted(SYS_IO_URING_ENTER); /* submits: always enters the kernel */
		int rc = io_uring_submit(&ring);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			errno = -rc;
			server_fatal(&cfg, "io_uring_submit");
		}
	}
	return sqe;
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_multishot_accept(sqe, lis.fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, tag(0, OP_TAG_ACCEPT));
	sys_op_counted(OP_ACCEPT);
}

static void arm_signals(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_poll_multishot(sqe, signals_fd(), POLLIN);
	io_uring_sqe_set_data64(sqe, tag(0, OP_TAG_SIGNAL));
	sys_op_counted(OP_POLL);
}

/* Where the kernel takes it (Linux 6.16+: sqe->optlen, which liburing 2.3 still calls file_index),
 * a multishot recv is armed for at most the room at the tail of the connection's buffer: it ends
 * by itself once that much has come in, so every byte it delivers is copied in at once and its
 * ring buffer handed back. A client that sends without reading never gets more than --buffer into
 * the server, and no client can hold ring buffers. The room is the *tail* room, not --buffer less
 * what is pending: while a send is in flight the pending bytes cannot be moved to the front, so
 * room counted from the pending bytes was room the bytes could not go to. They were then held in
 * ring buffers, one per completion: a client that stopped reading after a partial echo and
 * trickled 1-byte segments pinned a 4 KiB ring buffer per byte (make torture's trickle).
 * Without the limit (older kernels, or --recv-limit off), each arm is a single receive of at most
 * one ring buffer, re-armed after each completion while a buffer's worth fits: one submission per
 * receive instead of one per connection, and still nothing held in the ring. (Stopping a multishot
 * recv by cancelling it at the cap, as an earlier version did, let what arrived before the cancel
 * landed sit in ring buffers: make torture's never_read found new clients unserved once 50 clients
 * had stopped reading, and with the cancel at a buffer's room, 200 such clients held 5 MB.)
 * The kernel's answer to a limit it does not know is -EINVAL for every recv armed with one: the
 * first switches the whole server to single receives, and each of the others is simply re-armed.
 * --recv-limit fake-einval makes this server meet exactly that, on any kernel (a NOP that
 * completes the recv's tag with -EINVAL, IORING_NOP_INJECT_RESULT), so the path is tested here. */
static bool recv_limit = true;
static bool recv_limit_fake; /* --recv-limit fake-einval, until the first -EINVAL switches it off */
static const char *limit_opt = "auto";
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1u << 0) /* Linux 6.10; liburing 2.3 predates it */
#endif

/* Room at the tail of the buffer, where received bytes are copied to; first moves the pending
 * bytes to the front when the tail is short and no send is reading them. */
static uint32_t tail_room(struct uconn *c)
{
	if (cfg.buffer - c->len < buf_size && c->off > 0 && !(c->flags & SENDING)) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	return (uint32_t)cfg.buffer - c->len;
}

static void arm_recv(struct uconn *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (recv_limit && recv_limit_fake) {
		io_uring_prep_nop(sqe);
		sqe->rw_flags = IORING_NOP_INJECT_RESULT; /* nop_flags */
		sqe->len = (uint32_t)-EINVAL;
	} else if (recv_limit) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	} else {
		/* No limit: one receive of at most a buffer per arm, so it always fits (progress()
		 * arms only with a buffer's room at the tail). A multishot recv stopped by a cancel
		 * goes on delivering buffers until the cancel lands, several per connection per pass:
		 * 200 clients that never read held 5 MB, the whole ring, with no client left served. */
		io_uring_prep_recv(sqe, c->fd, NULL, buf_size, 0);
	}
	if (!(recv_limit && recv_limit_fake)) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUF_GROUP;
	}
	/* The kernel stops once the total reaches the limit, and the recv that gets there may fill a
	 * whole buffer: so the limit leaves a buffer's room (progress() arms only with that much). */
	if (recv_limit)
		sqe->file_index = tail_room(c) - buf_size + 1; /* optlen */
	io_uring_sqe_set_data64(sqe, tag(c->fd, OP_TAG_RECV));
	sys_op_counted(OP_RECV);
	c->flags = (c->flags & ~RECV_LIMITED) | RECV_ARMED | (recv_limit ? RECV_LIMITED : 0);
}

static void cancel_recv(struct uconn *c)
{
	if (!(c->flags & RECV_ARMED) || (c->flags & CANCELING))
		return;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_cancel64(sqe, tag(c->fd, OP_TAG_RECV), 0);
	io_uring_sqe_set_data64(sqe, tag(c->fd, OP_TAG_CANCEL));
	sys_op_counted(OP_CANCEL);
	c->flags |= CANCELING;
}

static void send_pending(struct uconn *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag(c->fd, OP_TAG_SEND));
	sys_op_counted(OP_SEND);
	c->flags |= SENDING;
	sends_queued++;
}

static void buffer_return(uint16_t bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * buf_size, buf_size, bid,
			      io_uring_buf_ring_mask(BUF_COUNT), 0);
	io_uring_buf_ring_advance(br, 1); /* visible to the kernel now: a store and a release */
	buffers_out--;
}

/* Copy n bytes into the connection's buffer if they fit, moving the pending bytes to the front
 * first when no send is reading them. */
static bool take(struct uconn *c, const char *data, uint32_t n)
{
	if (c->len + n > cfg.buffer && !(c->flags & SENDING) && c->len - c->off + n <= cfg.buffer) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len + n > cfg.buffer)
		return false;
	memcpy(c->buf + c->len, data, n);
	c->len += n;
	return true;
}

/* Held ring buffers, oldest first, into the connection's buffer as far as they fit. */
static void take_held(struct uconn *c)
{
	while (c->held_head != NO_BUF) {
		uint16_t bid = c->held_head;
		if (!take(c, bufs + (size_t)bid * buf_size, buf_len[bid]))
			return;
		c->held_bytes -= buf_len[bid];
		c->held_head = buf_next[bid];
		if (c->held_head == NO_BUF)
			c->held_tail = NO_BUF;
		buffer_return(bid);
	}
}

static void conn_free(struct uconn *c)
{
	if (c->flags & STARVED) { /* rare: unlink it from the starved list */
		struct uconn **p = &starved, *prev = NULL;
		while (*p != c) {
			prev = *p;
			p = &(*p)->next_starved;
		}
		*p = c->next_starved;
		if (starved_tail == c)
			starved_tail = prev;
	}
	while (c->held_head != NO_BUF) {
		uint16_t bid = c->held_head;
		c->held_head = buf_next[bid];
		buffer_return(bid);
	}
	conns[c->fd] = NULL;
	sys_close(c->fd);
	stats_conn_closed();
	free(c);
}

/* After every completion of a connection: start what it can do next, or close it once it is done
 * and nothing of it is in flight. */
static void progress(struct uconn *c)
{
	if (!(c->flags & SENDING)) {
		take_held(c);
		if (c->off == c->len)
			c->off = c->len = 0;
		else if (!(c->flags & FAILED)) {
			tail_room(c); /* compact now, if the tail is short: the send pins it from here */
			send_pending(c);
		}
	}
	bool done = (c->flags & FAILED) || ((c->flags & PEER_EOF) && pending(c) == 0);
	if (done) {
		cancel_recv(c);
		if (!(c->flags & (RECV_ARMED | SENDING)))
			conn_free(c);
		return;
	}
	/* Arm a receive only while the next buffer's worth fits at the tail and nothing is held:
	 * that is the backpressure rule (stop reading until the peer takes its echo), and what
	 * keeps every received byte out of the shared ring. Nothing to cancel: a limited multishot
	 * recv stops by itself within the tail room it was armed with, and a single receive takes
	 * at most the buffer's worth it was armed for. */
	if (tail_room(c) >= buf_size && c->held_head == NO_BUF &&
	    !(c->flags & (RECV_ARMED | PEER_EOF | STARVED)))
		arm_recv(c);
}

static void adopt(int fd)
{
	if ((size_t)fd >= max_fds) { /* cannot happen: fds stay below the limit read at start */
		sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return;
	}
	struct uconn *c = malloc(sizeof *c + cfg.buffer);
	if (!c) {
		sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return;
	}
	*c = (struct uconn){.fd = fd, .held_head = NO_BUF, .held_tail = NO_BUF};
	conns[fd] = c;
	stats_conn_opened();
	arm_recv(c);
}

/* Out of fds: io_uring's accept takes an fd before it looks at the backlog, so a multishot accept
 * re-armed at the limit would fail at once, forever. Instead wait for the listener to become
 * readable and accept with accept4(), whose EMFILE path sheds the connection (listener.h); go
 * back to the multishot accept once a pass of accepting sheds nothing. */
static void arm_listen_poll(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_poll_add(sqe, lis.fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(0, OP_TAG_LISTEN));
	sys_op_counted(OP_POLL);
}

static void accept_now(void)
{
	int fd;
	while ((fd = listener_accept(&lis, false)) >= 0 || errno == ECONNABORTED)
		if (fd >= 0)
			adopt(fd);
	/* EAGAIN: the backlog is empty and an fd was free, so the multishot accept can go back.
	 * EMFILE (every fd in use, nothing left to shed) or a resource error: keep waiting on the
	 * listener. Deciding by whether this pass shed anything, as an earlier version did, spun at
	 * the limit with one client leaving and another arriving: the arrival took the freed fd, the
	 * pass shed nothing, and the re-armed multishot accept failed with -EMFILE at once, forever. */
	if (errno == EAGAIN)
		arm_accept();
	else
		arm_listen_poll();
}

static void on_accept(struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->res >= 0) {
		if (listener_admit(&lis, cqe->res))
			adopt(cqe->res);
	} else if (cqe->res == -EMFILE || cqe->res == -ENFILE) {
		if (!more) /* it stopped: accept by hand until the fds suffice again */
			accept_now();
		return;
	} else if (cqe->res != -ECONNABORTED && cqe->res != -EINTR) {
		STAT_ADD(accept_errors, 1);
	}
	if (!more)
		arm_accept();
}

static void on_recv(struct uconn *c, struct io_uring_cqe *cqe)
{
	uint32_t armed = c->flags;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->flags &= ~(RECV_ARMED | CANCELING | RECV_LIMITED);
	if (recv_limit_fake && (armed & RECV_LIMITED) && cqe->res != -EINVAL) {
		errno = cqe->res < 0 ? -cqe->res : 0; /* the NOP did not inject its result */
		server_fatal(&cfg, "--recv-limit fake-einval needs IORING_NOP_INJECT_RESULT (Linux 6.10)");
	}
	if (cqe->res > 0) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		uint32_t n = (uint32_t)cqe->res;
		buffers_out++;
		STAT_ADD(requests, 1);
		STAT_ADD(bytes_in, n);
		recvs_reaped++;
		if (c->held_head == NO_BUF && take(c, bufs + (size_t)bid * buf_size, n)) {
			buffer_return(bid);
		} else { /* arrived after the reading stopped: hold it, in order, until it fits */
			buf_len[bid] = (uint16_t)n;
			buf_next[bid] = NO_BUF;
			if (c->held_tail != NO_BUF)
				buf_next[c->held_tail] = bid;
			else
				c->held_head = bid;
			c->held_tail = bid;
			c->held_bytes += n;
		}
	} else if (cqe->res == 0) {
		c->flags |= PEER_EOF;
	} else if (cqe->res == -ENOBUFS) {
		c->flags |= STARVED;
		c->next_starved = NULL;
		if (starved_tail)
			starved_tail->next_starved = c;
		else
			starved = c;
		starved_tail = c;
	} else if (cqe->res == -EINVAL && (armed & RECV_LIMITED)) {
		/* A kernel without the recv limit refuses every recv armed with one: the first switches
		 * the server to single receives, the ones already in flight are just re-armed. */
		if (recv_limit)
			fprintf(stderr, "echo-uring: this kernel has no multishot recv limit: one receive per "
					"arm instead\n");
		recv_limit = recv_limit_fake = false;
	} else if (cqe->res != -ECANCELED) {
		STAT_ADD(resets, 1);
		c->flags |= FAILED;
	}
	progress(c);
}

static void on_send(struct uconn *c, struct io_uring_cqe *cqe)
{
	c->flags &= ~SENDING;
	if (cqe->res >= 0) {
		STAT_ADD(bytes_out, (uint64_t)cqe->res);
		c->off += (uint32_t)cqe->res; /* short or not, the next send starts from here */
	} else if (!(c->flags & FAILED)) {
		STAT_ADD(resets, 1); /* EPIPE, ECONNRESET: the peer left */
		c->flags |= FAILED;
	}
	progress(c);
}

/* As many connections that found the ring empty as it now has buffers may read again, in the
 * order they starved: each re-armed recv takes at least one buffer, so re-arming them all would
 * only have the rest fail again, and no buffer coming back must not leave any of them waiting
 * while buffers sit free. */
static void rearm_starved(void)
{
	for (unsigned n = BUF_COUNT - buffers_out; starved && n > 0; n--) {
		struct uconn *c = starved;
		starved = c->next_starved;
		if (!starved)
			starved_tail = NULL;
		c->flags &= ~STARVED;
		progress(c);
	}
}

static void handle(struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(ud & ((1u << OP_TAG_BITS) - 1));
	struct uconn *c = conns[ud >> OP_TAG_BITS];
	switch (op) {
	case OP_TAG_ACCEPT:
		on_accept(cqe);
		break;
	case OP_TAG_LISTEN:
		accept_now();
		break;
	case OP_TAG_SIGNAL:
		signals_on_readable(); /* server_running() acts on it before the next wait */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_signals();
		break;
	case OP_TAG_RECV:
		on_recv(c, cqe);
		break;
	case OP_TAG_SEND:
		on_send(c, cqe);
		break;
	case OP_TAG_CANCEL:
		break; /* the recv's own last completion says it is over */
	}
}

/* One io_uring_enter(): submit what the pass queued, and wait. How long to wait is the batching
 * decision: waking for every single arrival makes each pass carry few requests. So wait for the
 * completions of the sends just queued (they usually complete during the submission itself) plus
 * as many arrivals as the last pass reaped, but no longer than --batch-wait: under load the
 * kernel wakes us once per batch (DEFER_TASKRUN counts the pending completions against what we
 * wait for), and a quiet server still wakes for its first arrival at once. */
static int submit_and_wait(void)
{
	unsigned want = recvs_reaped > BATCH_MAX ? BATCH_MAX : recvs_reaped;
	unsigned wait_nr = sends_queued + (want > 1 ? want : 1);
	bool batching = want >= batch_min && want > 1 && batch_wait_ns > 0;
	sends_queued = recvs_reaped = 0;
	sys_counted(SYS_IO_URING_ENTER); /* either call makes exactly one io_uring_enter() */
	if (!batching)
		return io_uring_submit_and_wait(&ring, 1);
	struct __kernel_timespec ts = {.tv_sec = (long long)(batch_wait_ns / 1000000000u),
				       .tv_nsec = (long long)(batch_wait_ns % 1000000000u)};
	struct io_uring_cqe *cqe;
	return io_uring_submit_and_wait_timeout(&ring, &cqe, wait_nr, &ts, NULL);
}

/* Exit 77 is for a reason outside this code: the kernel refuses io_uring (ENOSYS: not built in;
 * EPERM: kernel.io_uring_disabled, or a seccomp or LSM policy) or is older than what this needs.
 * Anything else (EINVAL from our own parameters on a kernel that has everything, ENOMEM, ...) is a
 * failure, exit 1: a skip there would hide a bug behind every uring test, bench row and gate check. */
static _Noreturn void setup_failed(const char *what, int err, const char *needs)
{
	bool refused = err == ENOSYS || err == EPERM;
	fprintf(stderr, "echo-uring: %s: %s%s\n", what, strerror(err),
		refused ? " (io_uring disabled or not built in: skipped)" : needs);
	exit(refused ? EXIT_UNSUPPORTED : 1);
}

/* This needs Linux 6.0 (multishot recv, provided-buffer rings): on an older kernel the setup's
 * EINVALs mean "not there", which is a skip, not a failure. */
static void require_kernel(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		server_fatal(&cfg, "uname");
	if (major < 6) {
		fprintf(stderr, "echo-uring: Linux %s: needs Linux 6.0 (multishot recv, buffer rings): "
				"skipped\n", u.release);
		exit(EXIT_UNSUPPORTED);
	}
}

/* The strongest setup the kernel takes. Returns the variant name. */
static const char *ring_init(void)
{
	static const struct {
		unsigned flags;
		const char *name;
	} tries[] = {
		{IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "defer_taskrun"},
		{IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
		{0, "plain"},
	};
	int rc = -EINVAL;
	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		struct io_uring_params p = {.flags = tries[i].flags | IORING_SETUP_CQSIZE,
					    .cq_entries = CQ_ENTRIES};
		sys_counted(SYS_IO_URING_SETUP);
		rc = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
		if (rc == 0)
			return tries[i].name;
		if (rc != -EINVAL)
			break; /* EINVAL: flags this kernel does not know; anything else is final */
	}
	setup_failed("io_uring_setup", -rc, "");
}

static void buffers_init(void)
{
	buf_size = cfg.buffer < BUF_SIZE_MAX ? (uint32_t)cfg.buffer : BUF_SIZE_MAX;
	size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
	br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = malloc((size_t)BUF_COUNT * buf_size);
	if (br == MAP_FAILED || !bufs)
		server_fatal(&cfg, "buffer ring memory");
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)br, .ring_entries = BUF_COUNT, .bgid = BUF_GROUP};
	/* Test hook (tests/uring/test_setup.sh): a count that is not a power of two, which every
	 * kernel refuses with EINVAL: the path where our own parameters are wrong must fail. */
	if (getenv("MUXBENCH_TEST_URING_BAD_BUF_RING"))
		reg.ring_entries = BUF_COUNT - 1;
	sys_counted(SYS_IO_URING_REGISTER);
	int rc = io_uring_register_buf_ring(&ring, &reg, 0);
	if (rc != 0)
		setup_failed("io_uring_register_buf_ring", -rc, " (a bug: this kernel has buffer rings)");
	io_uring_buf_ring_init(br);
	for (uint16_t bid = 0; bid < BUF_COUNT; bid++)
		io_uring_buf_ring_add(br, bufs + (size_t)bid * buf_size, buf_size, bid,
				      io_uring_buf_ring_mask(BUF_COUNT), bid);
	io_uring_buf_ring_advance(br, BUF_COUNT);
}

int main(int argc, char **argv)
{
	const struct server_option options[] = {
		{"batch-wait", OPT_DURATION, &batch_wait_ns, 0, 1000000000u, "TIME",
		 "longest a wait holds out for a batch of completions (20us; 0: never)"},
		{"batch-min", OPT_COUNT, &batch_min, 1, BATCH_MAX, "N",
		 "hold out only after a pass that reaped at least N requests (16)"},
		{"recv-limit", OPT_STRING, &limit_opt, 0, 0, "auto|off|fake-einval",
		 "cap each recv at the tail room (auto: if the kernel takes it; fake-einval: act as "
		 "a kernel without it, for tests)"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	if (strcmp(limit_opt, "off") == 0)
		recv_limit = false;
	else if (strcmp(limit_opt, "fake-einval") == 0)
		recv_limit_fake = true;
	else if (strcmp(limit_opt, "auto") != 0) {
		fprintf(stderr, "echo-uring: --recv-limit: must be auto, off or fake-einval (see --help)\n");
		exit(2);
	}
	require_kernel();
	cfg.variant = ring_init();
	buffers_init();
	server_start(&cfg, SIGNALS_FD, false, &lis);

	struct rlimit rl; /* listener_open() raised it: no accepted fd can be at or above this */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		server_fatal(&cfg, "getrlimit");
	max_fds = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_cur;
	if (!(conns = calloc(max_fds, sizeof *conns)))
		server_fatal(&cfg, "calloc");

	arm_accept();
	arm_signals();
	while (server_running()) {
		STAT_ADD(loop_passes, 1);
		int rc = submit_and_wait();
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
			errno = -rc; /* EAGAIN/EBUSY: completions to reap first, which is what follows */
			server_fatal(&cfg, "io_uring_submit_and_wait");
		}
		unsigned head, n = 0;
		struct io_uring_cqe *cqe;
		io_uring_for_each_cqe(&ring, head, cqe) {
			handle(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		stats_wakeup((int)n);
		rearm_starved();
	}
	stats_write("final");
	io_uring_queue_exit(&ring); /* first: no request in flight may outlive the buffers it uses */
	for (size_t fd = 0; fd < max_fds; fd++)
		if (conns[fd])
			conn_free(conns[fd]);
	listener_close(&lis);
	free(conns);
	free(bufs);
	munmap(br, BUF_COUNT * sizeof(struct io_uring_buf));
	return 0;
}
