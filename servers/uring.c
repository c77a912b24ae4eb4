/* uring.c - echo server on io_uring: the work is queued in shared rings, and one io_uring_enter()
 * per pass submits every queued operation and reaps every completion. Needs Linux 6.0.
 *
 * What it shows: epoll still costs a read() and a write() per request plus the wait; here a pass
 * costs one syscall however many requests it carries, so under load syscalls per request fall
 * well below one. The techniques, as in liburing's own echo examples:
 *  - multishot accept: one submission yields a completion per new connection, for as long as the
 *    completion carries IORING_CQE_F_MORE; re-armed when one does not.
 *  - receives on a provided-buffer ring (uring_bufs.h), copied at once into the connection's own
 *    --buffer (connbuf.h, as every server's) and the ring buffer handed back. -ENOBUFS (the ring
 *    ran dry) parks the connection until buffers come back, so an empty ring never spins the loop.
 *  - each recv armed only while a ring buffer's worth fits at the buffer's tail, and for at most
 *    that tail room: a multishot recv with the kernel's byte limit (Linux 6.16+) where it is
 *    taken, else one receive of at most a ring buffer per arm. Reading then stops at the cap, the
 *    same backpressure rule as every server's, and no client can hold ring buffers.
 *  - one send in flight per connection, so the echo keeps its order; a short send (or data that
 *    arrived meanwhile) is sent by the next one, from where the last stopped.
 *  - one io_uring_submit_and_wait() per pass; after a busy pass (--batch-min) the wait holds out
 *    (at most --batch-wait) for as many completions again, so one syscall carries many requests.
 *    Not after a quiet pass: a wait that times out at the end of a burst costs a timer wake-up,
 *    which on a VM costs more CPU than the syscalls the batch saves.
 *  - IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN where the kernel takes them (completions are run
 *    only when we wait, in our own context, not by interrupting us), else COOP_TASKRUN, else none;
 *    the variant in the stats says which one ran.
 *  - the signalfd is watched by a multishot poll, so signals arrive like any other completion.
 *  - at the fd limit, a poll on the listener and the core's accept with its EMFILE shed instead of
 *    the multishot accept, which would fail at once forever (it takes an fd before looking at the
 *    backlog).
 * Connections, their admission and their counts are the core's (conn_new, listener_admit,
 * conn_close). One is closed only once no operation of it is in flight (a send is awaited, a recv
 * cancelled): an fd closed under a live request would keep the socket open, and a reused fd number
 * would receive the old connection's completions. user_data: the fd in the high bits, the
 * operation in the low ones.
 *
 * Exit status 77 (and a message) where the kernel refuses io_uring (ENOSYS, EPERM) or is older than
 * 6.0; any other setup failure is a failure (exit 1, the error on stderr), never a skip.
 * Run: echo-uring --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"
#include "uring_bufs.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/utsname.h>

enum {
	RING_ENTRIES = 4096, /* submission queue; the completion queue is CQ_ENTRIES */
	CQ_ENTRIES = 16384,
	BATCH_MAX = 64,	     /* arrivals one wait may ask for */
	EXIT_UNSUPPORTED = 77,
};

enum op { OP_TAG_ACCEPT, OP_TAG_LISTEN, OP_TAG_RECV, OP_TAG_SEND, OP_TAG_CANCEL, OP_TAG_SIGNAL };
enum { OP_TAG_BITS = 8 };

enum flag { /* in conn.loop_state; conn.eof: the peer shut down, send what is pending, then close */
	RECV_ARMED = 1u << 0,	/* a recv is live */
	SENDING = 1u << 1,	/* a send is in flight: the pending output must not move */
	CANCELING = 1u << 2,	/* the recv was asked to stop (the connection is done) */
	FAILED = 1u << 3,	/* reset or error: close as soon as nothing is in flight */
	STARVED = 1u << 4,	/* its recv ended with -ENOBUFS: re-arm when buffers return */
	RECV_LIMITED = 1u << 5, /* the live recv was armed with the kernel's byte limit */
};

static struct server_config cfg = {.name = "uring"};
static struct io_uring ring;
static struct listener lis;
static struct conn **conns; /* by fd */
static size_t max_fds;
static uint32_t buf_size;	       /* of a ring buffer */
static uint64_t batch_wait_ns = 20000; /* --batch-wait */
static uint64_t batch_min = 16;	       /* --batch-min */
static unsigned sends_queued, recvs_reaped; /* this pass: what the next wait may count on */

/* The kernel's recv byte limit (Linux 6.16+: sqe->optlen, which liburing 2.3 still calls
 * file_index) ends a multishot recv once it delivered the tail room it was armed for. The room
 * is the *tail* room, not --buffer less what is pending: while a send is in flight the pending
 * bytes cannot move, and room counted from them was room the bytes could not go to, so they were
 * held in ring buffers (a client trickling single bytes after a partial echo pinned a ring
 * buffer per byte: make torture's trickle). Without the limit (older kernels, --recv-limit off)
 * each arm is a single receive of at most a ring buffer: a multishot recv stopped by a cancel
 * goes on delivering until the cancel lands, and clients that never read then filled the whole
 * ring (make torture's never_read). A kernel without the limit answers -EINVAL to every recv
 * armed with one: the first switches the server to single receives, the others are re-armed.
 * --recv-limit fake-einval meets exactly that on any kernel (a NOP that completes the recv's tag
 * with -EINVAL, IORING_NOP_INJECT_RESULT), so that path is tested here. */
static bool recv_limit = true;
static bool recv_limit_fake; /* --recv-limit fake-einval, until the first -EINVAL switches it off */
static const char *limit_opt = "auto";
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1u << 0) /* Linux 6.10; liburing 2.3 predates it */
#endif

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

/* Every prepared operation: its user_data, and its count (no syscall each: one enter submits all). */
static void queued(struct io_uring_sqe *sqe, int fd, enum op tag, enum sys_op counted)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uint32_t)fd << OP_TAG_BITS | tag);
	sys_op_counted(counted);
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_multishot_accept(sqe, lis.fd, NULL, NULL, SOCK_CLOEXEC);
	queued(sqe, 0, OP_TAG_ACCEPT, OP_ACCEPT);
}

/* The signalfd (multishot), or the listener at the fd limit (once: see accept_now()). */
static void arm_poll(int fd, enum op tag)
{
	struct io_uring_sqe *sqe = sqe_get();
	if (tag == OP_TAG_SIGNAL)
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	queued(sqe, 0, tag, OP_POLL);
}

/* Room at the tail of the buffer; first moves the pending bytes to the front when the tail is
 * short of a ring buffer and no send is reading them. */
static uint32_t tail_room(struct conn *c)
{
	if (!(c->loop_state & SENDING))
		connbuf_reserve(&c->buf, buf_size);
	return connbuf_tail_room(&c->buf);
}

static void arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	bool fake = recv_limit && recv_limit_fake;
	if (fake) {
		io_uring_prep_nop(sqe);
		sqe->rw_flags = IORING_NOP_INJECT_RESULT; /* nop_flags */
		sqe->len = (uint32_t)-EINVAL;
	} else if (recv_limit) {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	} else {
		io_uring_prep_recv(sqe, c->fd, NULL, buf_size, 0); /* fits: armed with that much room */
	}
	if (!fake) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUFS_GROUP;
	}
	/* The kernel stops once the total reaches the limit, and the recv that gets there may fill a
	 * whole buffer: so the limit leaves a buffer's room (progress() arms only with that much). */
	if (recv_limit)
		sqe->file_index = tail_room(c) - buf_size + 1; /* optlen */
	queued(sqe, c->fd, OP_TAG_RECV, OP_RECV);
	c->loop_state = (c->loop_state & ~RECV_LIMITED) | RECV_ARMED | (recv_limit ? RECV_LIMITED : 0);
}

static void cancel_recv(struct conn *c)
{
	if (!(c->loop_state & RECV_ARMED) || (c->loop_state & CANCELING))
		return;
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_cancel64(sqe, (uint64_t)(uint32_t)c->fd << OP_TAG_BITS | OP_TAG_RECV, 0);
	queued(sqe, c->fd, OP_TAG_CANCEL, OP_CANCEL);
	c->loop_state |= CANCELING;
}

static void send_pending(struct conn *c)
{
	struct io_uring_sqe *sqe = sqe_get();
	io_uring_prep_send(sqe, c->fd, connbuf_out(&c->buf), connbuf_pending(&c->buf), MSG_NOSIGNAL);
	queued(sqe, c->fd, OP_TAG_SEND, OP_SEND);
	c->loop_state |= SENDING;
	sends_queued++;
}

static void release(struct conn *c)
{
	bufs_forget(c->fd);
	conns[c->fd] = NULL;
	conn_close(c);
}

/* After every completion of a connection: start what it can do next, or close it once it is done
 * and nothing of it is in flight. */
static void progress(struct conn *c)
{
	if (!(c->loop_state & SENDING)) {
		bufs_take_held(c->fd, &c->buf);
		if (connbuf_pending(&c->buf) && !(c->loop_state & FAILED)) {
			tail_room(c); /* compact now, if the tail is short: the send pins it from here */
			send_pending(c);
		}
	}
	if ((c->loop_state & FAILED) || (c->eof && connbuf_pending(&c->buf) + bufs_held(c->fd) == 0)) {
		cancel_recv(c);
		if (!(c->loop_state & (RECV_ARMED | SENDING)))
			release(c);
		return;
	}
	/* Arm a receive only while the next buffer's worth fits at the tail and nothing is held:
	 * that is the backpressure rule (stop reading until the peer takes its echo), and what
	 * keeps every received byte out of the shared ring. Nothing to cancel: a limited multishot
	 * recv stops by itself within the tail room it was armed with, and a single receive takes
	 * at most the buffer's worth it was armed for. */
	if (tail_room(c) >= buf_size && bufs_held(c->fd) == 0 && !c->eof &&
	    !(c->loop_state & (RECV_ARMED | STARVED)))
		arm_recv(c);
}

static void adopt(int fd)
{
	if ((size_t)fd >= max_fds) { /* only if the fd limit was raised from outside since the start */
		sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return;
	}
	struct conn *c = conn_new(fd, (uint32_t)cfg.buffer); /* NULL: closed and counted */
	if (!c)
		return;
	conns[fd] = c;
	arm_recv(c);
}

/* Out of fds: io_uring's accept takes an fd before it looks at the backlog, so a multishot accept
 * re-armed at the limit would fail at once, forever. Instead wait for the listener to become
 * readable and accept with the core's listener_accept(), whose EMFILE path sheds the connection. */
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
		arm_poll(lis.fd, OP_TAG_LISTEN);
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

static void on_recv(struct conn *c, struct io_uring_cqe *cqe)
{
	uint32_t armed = c->loop_state;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->loop_state &= ~(RECV_ARMED | CANCELING | RECV_LIMITED);
	if (recv_limit_fake && (armed & RECV_LIMITED) && cqe->res != -EINVAL) {
		errno = cqe->res < 0 ? -cqe->res : 0; /* the NOP did not inject its result */
		server_fatal(&cfg, "--recv-limit fake-einval needs IORING_NOP_INJECT_RESULT (Linux 6.10)");
	}
	if (cqe->res > 0) {
		STAT_ADD(requests, 1);
		STAT_ADD(bytes_in, (uint64_t)cqe->res);
		recvs_reaped++;
		bufs_received(c->fd, &c->buf, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT),
			      (uint32_t)cqe->res, !(c->loop_state & SENDING));
	} else if (cqe->res == 0) {
		c->eof = true;
	} else if (cqe->res == -ENOBUFS) {
		c->loop_state |= STARVED;
		bufs_starved(c->fd);
	} else if (cqe->res == -EINVAL && (armed & RECV_LIMITED)) {
		if (recv_limit) /* the first: the others already in flight are just re-armed */
			fprintf(stderr, "echo-uring: this kernel has no multishot recv limit: one receive per "
					"arm instead\n");
		recv_limit = recv_limit_fake = false;
	} else if (cqe->res != -ECANCELED) {
		STAT_ADD(resets, 1);
		c->loop_state |= FAILED;
	}
	progress(c);
}

static void on_send(struct conn *c, struct io_uring_cqe *cqe)
{
	c->loop_state &= ~SENDING;
	if (cqe->res >= 0) {
		STAT_ADD(bytes_out, (uint64_t)cqe->res);
		connbuf_consume(&c->buf, (uint32_t)cqe->res); /* short or not, the next starts here */
	} else if (!(c->loop_state & FAILED)) {
		STAT_ADD(resets, 1); /* EPIPE, ECONNRESET: the peer left */
		c->loop_state |= FAILED;
	}
	progress(c);
}

/* A connection that found the ring empty may read again (bufs_rearm_starved() says which). */
static void rearm(int fd)
{
	conns[fd]->loop_state &= ~STARVED;
	progress(conns[fd]);
}

static void handle(struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct conn *c = conns[ud >> OP_TAG_BITS];
	switch ((enum op)(ud & ((1u << OP_TAG_BITS) - 1))) {
	case OP_TAG_ACCEPT:
		on_accept(cqe);
		break;
	case OP_TAG_LISTEN:
		accept_now();
		break;
	case OP_TAG_SIGNAL:
		signals_on_readable(); /* server_running() acts on it before the next wait */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_poll(signals_fd(), OP_TAG_SIGNAL);
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
	struct rlimit rl; /* listener_open() raises the soft limit to the hard one: fds stay below */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		server_fatal(&cfg, "getrlimit");
	max_fds = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_max;
	if (!(conns = calloc(max_fds, sizeof *conns)))
		server_fatal(&cfg, "calloc");
	require_kernel();
	cfg.variant = ring_init();
	int rc;
	if (!(buf_size = bufs_init(&ring, (uint32_t)cfg.buffer, max_fds, &rc)))
		setup_failed("io_uring_register_buf_ring", -rc, " (a bug: this kernel has buffer rings)");
	server_start(&cfg, SIGNALS_FD, false, &lis);

	arm_accept();
	arm_poll(signals_fd(), OP_TAG_SIGNAL);
	while (server_running()) {
		STAT_ADD(loop_passes, 1);
		rc = submit_and_wait();
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
		bufs_rearm_starved(rearm);
	}
	stats_write("final");
	io_uring_queue_exit(&ring); /* first: no request in flight may outlive the buffers it uses */
	conn_close_all();
	listener_close(&lis);
	free(conns);
	bufs_exit();
	return 0;
}
