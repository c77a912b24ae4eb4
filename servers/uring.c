/* uring.c - echo server on io_uring: one io_uring_enter() per pass submits every queued operation
 * and reaps every completion. Needs Linux 6.0.
 *
 * What it shows: epoll still costs a read() and a write() per request plus the wait; here a pass
 * costs one syscall however many requests it carries. The techniques, as in liburing's examples:
 *  - multishot accept, re-armed when a completion lacks IORING_CQE_F_MORE. At the fd limit it
 *    would fail at once, forever (it takes an fd before looking at the backlog): then a poll on
 *    the listener and the core's listener_accept(), with its EMFILE shed, until a real EAGAIN.
 *  - receives into a provided-buffer ring, copied at once into the connection's own buffer
 *    (connbuf.h, as every server's) so that no client holds the shared ring; -ENOBUFS parks the
 *    connection until buffers come back, so a dry ring never spins the loop.
 *  - a recv armed only while a ring buffer's worth fits at the buffer's tail, and for at most that
 *    room: backpressure by the same rule as every server's (see recv_limit below).
 *  - one send in flight per connection, so the echo keeps its order; a short send (or data that
 *    arrived meanwhile) is sent by the next one, from where the last stopped.
 *  - after a busy pass the wait holds out for a batch (--batch-min, --batch-wait); DEFER_TASKRUN
 *    where the kernel has it (uring_ring.h); the signalfd under a multishot poll.
 *  - --sqpoll [--sq-cpu CPU|own|other] [--sq-idle TIME]: a kernel thread polls the submission queue, so
 *    a pass that finds completions ready makes no syscall at all; the price is that thread, which
 *    spins while it has had work within --sq-idle (1 s). Its CPU is the server's (the stats line
 *    shows it apart, and where it ran: sqthread.h); --sq-cpu own puts it on the server's own CPU,
 *    where it competes with the loop, --sq-cpu other on another (on 2 cores the loadgen's).
 *  - --fixed-files: the multishot accept installs each connection in a slot of a registered file
 *    table instead of an fd (direct accept), recv and send name the slot, a close is one more
 *    operation on the ring, and the ring's own fd is registered: no operation or enter looks a
 *    file up in the fd table or takes a reference on it. Such a connection has no fd, so what the
 *    core does to an fd it cannot do: TCP_NODELAY comes from the listener (Linux copies it into
 *    accepted sockets), and a full table (-ENFILE, the kernel dropped the connection) is counted
 *    as accept_emfile, the fd limit's own count, since the table is as big as that limit.
 *  - --zc: sends are IORING_OP_SEND_ZC: the kernel sends from our pages instead of copying them,
 *    and a second completion (the notification) says when it let go of them, which for TCP is
 *    when the peer acknowledged them. Until then the bytes sent stay where they are (pinned: not
 *    consumed, no compaction), but the next send may start after them as soon as the first
 *    completion came: a connection that waited for each notification would send one buffer per
 *    acknowledgement (make test's backpressure case: 2 MB/s). The notification also says whether
 *    the kernel had to copy after all (IORING_SEND_ZC_REPORT_USAGE: zc_notifs, zc_copied in the
 *    stats); over loopback it does (make test's zero_copy case: every notification), since a
 *    packet delivered locally cannot keep pointing at our pages. bytes_out counts a send at its
 *    notification, when the buffer is free again: bytes_in - bytes_out stays what the server
 *    holds. Since pinned bytes fill the buffer, no more than --buffer of a connection's bytes is
 *    ever unacknowledged: its throughput is at most --buffer per round trip.
 *  - --bundle: each recv is a bundle (IORING_RECVSEND_BUNDLE): the kernel fills as many ring
 *    buffers as the data waiting needs, up to the room the recv was armed for, and posts one
 *    completion for them all, where a plain recv posts one per buffer (a ring buffer is at most a
 *    page: a 16 KiB request is four). The completion names only the first buffer; the others are
 *    the ring entries after it (bufs_received_bundle). Its stats' requests are completions, so
 *    bytes_in / requests says how full a bundle was. A bundle that filled its buffers is retried
 *    while the socket has more, past the length it was armed with: only the multishot byte limit
 *    (6.16) keeps it within the room, so --bundle needs it (--recv-limit off is a usage error,
 *    an older kernel unsupported).
 * Connections, admission and counts are the core's (listener_admit, conn_new, conn_close). One is
 * closed only once nothing of it is in flight (a send is awaited, a recv cancelled): a reused fd
 * number would receive the old connection's completions.
 *
 * Exit 77 only where the kernel refuses io_uring or is older than 6.0 (uring_ring.h), else 1.
 * Run: echo-uring [--sqpoll [--sq-cpu CPU|own|other]] --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"
#include "sqthread.h"
#include "uring_ring.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>

/* _OPTS, _ZC: the same operations under --zc or --bundle, told apart by their tag so that the
 * completion goes straight to its handler: the default's path tests no option. */
enum op {
	OP_TAG_ACCEPT, OP_TAG_LISTEN, OP_TAG_RECV, OP_TAG_SEND, OP_TAG_CANCEL, OP_TAG_SIGNAL,
	OP_TAG_CLOSE, OP_TAG_RECV_OPTS, OP_TAG_SEND_ZC
};
enum { OP_TAG_BITS = 8 }; /* user_data: the fd above them */

enum flag { /* in conn.loop_state; conn.eof: the peer shut down, send what is pending, then close */
	RECV_ARMED = 1u << 0,	/* a recv is live */
	SENDING = 1u << 1,	/* a send is in flight: the pending output must not move */
	CANCELING = 1u << 2,	/* the recv was asked to stop (the connection is done) */
	FAILED = 1u << 3,	/* reset or error: close as soon as nothing is in flight */
	STARVED = 1u << 4,	/* its recv ended with -ENOBUFS: re-arm when buffers return */
	RECV_LIMITED = 1u << 5, /* the live recv was armed with the kernel's byte limit */
	PINNED = 1u << 6,	/* --zc: notifications are to come: the pending output must not move */
};
/* --zc, per connection: loop_slot the pending bytes already sent and pinned (the first ones),
 * loop_count the notifications still to come for them (PINNED while there are any). The flag
 * keeps the default path's tests what they were: one mask, no count to load. */

#ifndef IORING_RECVSEND_BUNDLE /* Linux 6.10; liburing 2.3 predates it */
#define IORING_RECVSEND_BUNDLE (1u << 4)
#endif
#ifndef IORING_SEND_ZC_REPORT_USAGE /* Linux 6.2; liburing 2.3 predates them */
#define IORING_SEND_ZC_REPORT_USAGE (1u << 3)
#define IORING_NOTIF_USAGE_ZC_COPIED (1u << 31)
#endif

/* Readiness checks: none are made (the multishot accept and recvs are armed once and complete);
 * the count is the completions reaped, which ring_pass() returns as `events` and stats.c shows
 * as checks, walked and scanned. */
static struct server_config cfg = {.name = "uring", .checks = CHECKS_COMPLETIONS};
static struct listener lis;
static struct conn **conns; /* by fd */
static size_t max_fds;
static uint32_t buf_size;	       /* of a ring buffer */
static struct ring_batch batch = {.wait_ns = 20000, .min = 16}; /* --batch-wait, --batch-min */

/* The kernel's recv byte limit (6.16+: sqe->optlen, liburing 2.3's file_index) ends a multishot
 * recv once it delivered the *tail* room it was armed for: room counted from the pending bytes,
 * which a send in flight pins, let a client trickling bytes pin a ring buffer per byte (make
 * torture's trickle). Without it (older kernels, --recv-limit off) each arm is one receive of at
 * most a ring buffer: a multishot recv stopped by a cancel delivers until the cancel lands, and
 * clients that never read then filled the ring (never_read). Such a kernel answers -EINVAL to every
 * limited recv: the first switches the server over, the others are re-armed; fake-einval meets
 * that on any kernel (a NOP injecting -EINVAL), so the path is tested. */
static bool recv_limit = true, recv_limit_fake; /* fake-einval: until the first -EINVAL */
static const char *limit_opt = "auto";
static bool sqpoll;
static const char *sq_cpu_opt; /* --sq-cpu: a CPU number, own or other; NULL: the kernel's choice */
static uint64_t sq_idle_ns = 1000000000u;
static bool fixed_files; /* --fixed-files: connections are slots of the ring's file table */
static bool zero_copy;	 /* --zc: IORING_OP_SEND_ZC */
static bool bundle;	 /* --bundle: IORING_RECVSEND_BUNDLE */
static bool opts_on;	 /* either: receives go the way that tests them (OP_TAG_RECV_OPTS) */

/* --sq-cpu's CPU: own is the first this process may run on (bench/run pins the server to one);
 * other CPU 1 if that one is CPU 0, else CPU 0 (on 2 cores, the one bench/run's loadgen is on). */
static int sq_cpu(void)
{
	if (!sq_cpu_opt)
		return -1;
	bool other = strcmp(sq_cpu_opt, "other") == 0;
	if (other || strcmp(sq_cpu_opt, "own") == 0) {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof set, &set) != 0)
			fatal_errno("sched_getaffinity");
		int own = 0;
		while (own < CPU_SETSIZE - 1 && !CPU_ISSET(own, &set))
			own++;
		if (!other)
			return own;
		if (get_nprocs() < 2) {
			fprintf(stderr, "echo-uring: --sq-cpu other: this machine has one CPU online\n");
			exit(2);
		}
		return own == 0 ? 1 : 0;
	}
	char *end;
	long c = strtol(sq_cpu_opt, &end, 10);
	if (end == sq_cpu_opt || *end || c < 0 || c >= CPU_SETSIZE) {
		fprintf(stderr, "echo-uring: --sq-cpu: must be a CPU number, own or other, not %s (see --help)\n", sq_cpu_opt);
		exit(2);
	}
	return (int)c;
}

/* Every queued operation: its user_data and its count (one enter submits them all). */
static void queued(struct io_uring_sqe *sqe, int fd, enum op tag, enum sys_op counted)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uint32_t)fd << OP_TAG_BITS | tag);
	sys_op_counted(counted);
}

/* recv and send name the connection's socket: with --fixed-files, a slot of the file table. */
static void on_socket(struct io_uring_sqe *sqe)
{
	if (fixed_files)
		sqe->flags |= IOSQE_FIXED_FILE;
}

static void arm_accept(void)
{
	struct io_uring_sqe *sqe = ring_sqe();
	if (fixed_files) /* the kernel picks a free slot; SOCK_CLOEXEC means nothing to a slot */
		io_uring_prep_multishot_accept_direct(sqe, lis.fd, NULL, NULL, 0);
	else
		io_uring_prep_multishot_accept(sqe, lis.fd, NULL, NULL, SOCK_CLOEXEC);
	queued(sqe, 0, OP_TAG_ACCEPT, OP_ACCEPT);
}

/* --fixed-files: a slot is closed by the ring. The kernel gives it to the next direct accept only
 * once this has run, and it is queued only when nothing of the old connection is in flight, so no
 * completion of the old one can meet the new one. */
static void close_slot(int slot)
{
	struct io_uring_sqe *sqe = ring_sqe();
	io_uring_prep_close_direct(sqe, (unsigned)slot);
	queued(sqe, slot, OP_TAG_CLOSE, OP_CLOSE);
}

/* The signalfd (multishot), or the listener at the fd limit (once: see accept_now()). */
static void arm_poll(int fd, enum op tag)
{
	struct io_uring_sqe *sqe = ring_sqe();
	if (tag == OP_TAG_SIGNAL)
		io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	else
		io_uring_prep_poll_add(sqe, fd, POLLIN);
	queued(sqe, 0, tag, OP_POLL);
}

/* The pending output may not move while a send reads it, nor (--zc) while the kernel holds any. */
static bool pinned(const struct conn *c)
{
	return c->loop_state & (SENDING | PINNED);
}

/* Room at the tail; first compacts if it is short and the pending bytes may move. */
static uint32_t tail_room(struct conn *c)
{
	if (!pinned(c))
		connbuf_reserve(&c->buf, buf_size);
	return connbuf_tail_room(&c->buf);
}

static void arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe = ring_sqe();
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
		on_socket(sqe);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUFS_GROUP;
		if (bundle)
			sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	}
	/* The kernel stops once the total reaches the limit, and the recv that gets there may fill a
	 * whole buffer: so the limit leaves a buffer's room (progress() arms only with that much). A
	 * bundle is cut at the limit itself (its length is clamped to what is left), so it may have
	 * all the room. */
	if (recv_limit)
		sqe->file_index = bundle ? tail_room(c) : tail_room(c) - buf_size + 1; /* optlen */
	queued(sqe, c->fd, opts_on ? OP_TAG_RECV_OPTS : OP_TAG_RECV, OP_RECV);
	c->loop_state = (c->loop_state & ~RECV_LIMITED) | RECV_ARMED | (recv_limit ? RECV_LIMITED : 0);
}

static void cancel_recv(struct conn *c)
{
	if (!(c->loop_state & RECV_ARMED) || (c->loop_state & CANCELING))
		return;
	struct io_uring_sqe *sqe = ring_sqe();
	io_uring_prep_cancel64(sqe, (uint64_t)(uint32_t)c->fd << OP_TAG_BITS |
					 (opts_on ? OP_TAG_RECV_OPTS : OP_TAG_RECV), 0);
	queued(sqe, c->fd, OP_TAG_CANCEL, OP_CANCEL);
	c->loop_state |= CANCELING;
}

/* zc: --zc's send, of what follows the pinned bytes. The default's path (zc false, a constant
 * where it is inlined) keeps none of it: make regress counts its instructions. */
static inline __attribute__((always_inline)) void send_pending_as(struct conn *c, bool zc)
{
	struct io_uring_sqe *sqe = ring_sqe();
	if (zc)
		io_uring_prep_send_zc(sqe, c->fd, connbuf_out(&c->buf) + c->loop_slot,
				      connbuf_pending(&c->buf) - c->loop_slot, MSG_NOSIGNAL,
				      IORING_SEND_ZC_REPORT_USAGE);
	else
		io_uring_prep_send(sqe, c->fd, connbuf_out(&c->buf), connbuf_pending(&c->buf),
				   MSG_NOSIGNAL);
	on_socket(sqe);
	queued(sqe, c->fd, zc ? OP_TAG_SEND_ZC : OP_TAG_SEND, OP_SEND);
	c->loop_state |= SENDING;
	batch.sends++;
}

/* After each completion: start what the connection can do next, or close it once done and idle.
 * zc as send_pending_as()'s: progress_plain() and progress_zc() below are the two, progress()
 * the one the option picks. */
static inline __attribute__((always_inline)) void progress_as(struct conn *c, bool zc)
{
	if (!(c->loop_state & SENDING)) {
		if (zc && (c->loop_state & PINNED))
			bufs_take_held_pinned(c->fd, &c->buf);
		else
			bufs_take_held(c->fd, &c->buf);
		if (connbuf_pending(&c->buf) > (zc ? c->loop_slot : 0) && !(c->loop_state & FAILED)) {
			tail_room(c); /* compact now, if the tail is short: the send pins it from here */
			send_pending_as(c, zc);
		}
	}
	if ((c->loop_state & FAILED) || (c->eof && connbuf_pending(&c->buf) + bufs_held(c->fd) == 0)) {
		cancel_recv(c);
		if (!(c->loop_state & (RECV_ARMED | SENDING | PINNED))) {
			bufs_forget(c->fd);
			conns[c->fd] = NULL;
			if (c->direct)
				close_slot(c->fd);
			conn_close(c);
		}
		return;
	}
	/* Arm a receive only while the next buffer's worth fits at the tail and nothing is held: the
	 * backpressure rule, and what keeps received bytes out of the shared ring. Nothing to cancel:
	 * either kind of recv stops by itself within the room it was armed for. */
	if (tail_room(c) >= buf_size && bufs_held(c->fd) == 0 && !c->eof &&
	    !(c->loop_state & (RECV_ARMED | STARVED)))
		arm_recv(c);
}

static void progress_plain(struct conn *c)
{
	progress_as(c, false);
}

static void progress_zc(struct conn *c)
{
	progress_as(c, true);
}

static void progress(struct conn *c)
{
	if (zero_copy)
		progress_zc(c);
	else
		progress_plain(c);
}

/* fd: a descriptor, or with --fixed-files a slot (the table has max_fds of them). */
static void adopt(int fd)
{
	if ((size_t)fd >= max_fds) { /* only if the fd limit was raised from outside since the start */
		if (fixed_files) /* (never: the table has max_fds slots) */
			close_slot(fd);
		else
			sys_close(fd);
		STAT_ADD(accept_errors, 1);
		return;
	}
	if (fixed_files) {
		if (!(conns[fd] = conn_new_direct(fd, (uint32_t)cfg.buffer))) /* NULL: counted */
			close_slot(fd);
	} else {
		conns[fd] = conn_new(fd, (uint32_t)cfg.buffer); /* NULL: closed and counted */
	}
	if (conns[fd])
		arm_recv(conns[fd]);
}

/* Out of fds (see the top): accept by hand while the listener is readable. */
static void accept_now(void)
{
	int fd;
	while ((fd = listener_accept(&lis, false)) >= 0 || errno == ECONNABORTED)
		if (fd >= 0)
			adopt(fd);
	/* EAGAIN: an fd was free and the backlog is empty, so the multishot accept can go back; EMFILE
	 * or a resource error: keep polling. (Deciding by whether a pass shed anything spun.) */
	if (errno == EAGAIN)
		arm_accept();
	else
		arm_poll(lis.fd, OP_TAG_LISTEN);
}

static void on_accept(struct io_uring_cqe *cqe)
{
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (cqe->res >= 0 && fixed_files) {
		if (listener_admit_direct(&lis))
			adopt(cqe->res);
		else
			close_slot(cqe->res);
	} else if (cqe->res >= 0) {
		if (listener_admit(&lis, cqe->res))
			adopt(cqe->res);
	} else if ((cqe->res == -ENFILE || cqe->res == -EMFILE) && fixed_files) {
		/* no free slot (ENFILE): the kernel accepted it and closed it. Never accept_now(): its
		 * fds are not slots. */
		STAT_ADD(accept_emfile, 1);
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

/* opts: --zc or --bundle is on; false (a constant where it is inlined) is the default's path,
 * which then keeps no test of them. */
static inline __attribute__((always_inline)) void on_recv_as(struct conn *c, struct io_uring_cqe *cqe,
							     bool opts)
{
	uint32_t armed = c->loop_state;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->loop_state &= ~(RECV_ARMED | CANCELING | RECV_LIMITED);
	if (recv_limit_fake && (armed & RECV_LIMITED) && cqe->res != -EINVAL) {
		errno = cqe->res < 0 ? -cqe->res : 0; /* the NOP did not inject its result */
		fatal_errno("--recv-limit fake-einval needs IORING_NOP_INJECT_RESULT (Linux 6.10)");
	}
	if (cqe->res > 0) {
		STAT_ADD(requests, 1);
		STAT_ADD(bytes_in, (uint64_t)cqe->res);
		batch.arrivals++;
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (opts && bundle)
			bufs_received_bundle(c->fd, &c->buf, bid, (uint32_t)cqe->res, !pinned(c));
		else
			bufs_received(c->fd, &c->buf, bid, (uint32_t)cqe->res, !pinned(c));
	} else if (cqe->res == 0) {
		c->eof = true;
	} else if (cqe->res == -ENOBUFS) {
		c->loop_state |= STARVED;
		bufs_starved(c->fd);
	} else if (cqe->res == -EINVAL && (armed & RECV_LIMITED)) {
		if (opts && bundle) { /* ring_need_bundle() judged by the release; the kernel disagrees */
			fprintf(stderr, "echo-uring: --bundle: this kernel refused the multishot recv byte "
					"limit (EINVAL), without which a bundle overruns the room\n");
			exit(1);
		}
		if (recv_limit) /* the first: the others already in flight are just re-armed */
			fprintf(stderr, "echo-uring: this kernel has no multishot recv limit: one receive per "
					"arm instead\n");
		recv_limit = recv_limit_fake = false;
	} else if (cqe->res != -ECANCELED) {
		STAT_ADD(resets, 1);
		c->loop_state |= FAILED;
	}
	if (opts)
		progress(c);
	else
		progress_plain(c);
}

static void on_recv_plain(struct conn *c, struct io_uring_cqe *cqe)
{
	on_recv_as(c, cqe, false);
}

static void on_recv_opts(struct conn *c, struct io_uring_cqe *cqe)
{
	on_recv_as(c, cqe, true);
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
	progress_plain(c);
}

/* --zc's sends: the first completion says what the socket took (IORING_CQE_F_MORE: a notification
 * follows, even after an error), the notification that the kernel let go of those bytes. Until the
 * last one, what was sent stays pinned and uncounted in bytes_out: it is still the server's to
 * hold (bytes_in - bytes_out, what torture's cases read as owed), though the kernel sent it, and a
 * delayed ACK holds it up to 200 ms. */
static void on_send_zc(struct conn *c, struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		STAT_ADD(zc_notifs, 1);
		if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			STAT_ADD(zc_copied, 1);
		if (--c->loop_count == 0) { /* of them all: only now, since consuming may reset the buffer */
			c->loop_state &= ~PINNED;
			STAT_ADD(bytes_out, c->loop_slot);
			connbuf_consume(&c->buf, (uint32_t)c->loop_slot);
			c->loop_slot = 0;
		}
		progress_zc(c);
		return;
	}
	/* No notification to come (none such today): bytes behind pinned ones are consumed and
	 * counted with them, others at once */
	if (!(cqe->flags & IORING_CQE_F_MORE) && c->loop_count == 0 && cqe->res >= 0) {
		c->loop_state &= ~SENDING;
		STAT_ADD(bytes_out, (uint64_t)cqe->res);
		connbuf_consume(&c->buf, (uint32_t)cqe->res);
		progress_zc(c);
		return;
	}
	if (cqe->res < 0 && !(c->loop_state & FAILED)) {
		STAT_ADD(resets, 1); /* EPIPE, ECONNRESET: the peer left */
		c->loop_state |= FAILED;
	}
	c->loop_state &= ~SENDING;
	if (cqe->flags & IORING_CQE_F_MORE) {
		c->loop_count++;
		c->loop_state |= PINNED;
	}
	c->loop_slot += cqe->res > 0 ? (uint32_t)cqe->res : 0; /* the next send starts after them */
	progress_zc(c);
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
	case OP_TAG_ACCEPT: on_accept(cqe); break;
	case OP_TAG_LISTEN: accept_now(); break;
	case OP_TAG_RECV: on_recv_plain(c, cqe); break;
	case OP_TAG_SEND: on_send(c, cqe); break;
	case OP_TAG_RECV_OPTS: on_recv_opts(c, cqe); break;
	case OP_TAG_SEND_ZC: on_send_zc(c, cqe); break;
	case OP_TAG_CANCEL: break; /* the recv's own last completion says it is over */
	case OP_TAG_CLOSE:
		if (cqe->res < 0) { /* a slot lost for good: a bug, not a peer's doing */
			errno = -cqe->res;
			fatal_errno("close of file slot %llu", (unsigned long long)(ud >> OP_TAG_BITS));
		}
		break;
	case OP_TAG_SIGNAL:
		signals_on_readable(); /* server_running() acts on it before the next wait */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_poll(signals_fd(), OP_TAG_SIGNAL);
		break;
	}
}

int main(int argc, char **argv)
{
	const struct server_option options[] = {
		{"batch-wait", OPT_DURATION, &batch.wait_ns, 0, 1000000000u, "TIME",
		 "longest a wait holds out for a batch of completions (20us; 0: never)"},
		{"batch-min", OPT_COUNT, &batch.min, 1, RING_BATCH_MAX, "N",
		 "hold out only after a pass that reaped at least N requests (16)"},
		{"recv-limit", OPT_STRING, &limit_opt, 0, 0, "auto|off|fake-einval",
		 "cap each recv at the tail room (auto: if the kernel takes it; fake-einval: act as "
		 "a kernel without it, for tests)"},
		{"sqpoll", OPT_FLAG, &sqpoll, 0, 0, NULL,
		 "IORING_SETUP_SQPOLL: a kernel thread polls the submission queue (spins while busy)"},
		{"sq-cpu", OPT_STRING, &sq_cpu_opt, 0, 0, "CPU|own|other",
		 "with --sqpoll: pin that thread to CPU (own: the server's first CPU; other: another one; default: the kernel's choice)"},
		{"sq-idle", OPT_DURATION, &sq_idle_ns, 1000000u, 60000000000u, "TIME",
		 "with --sqpoll: how long that thread spins without work before it sleeps (1s)"},
		{"zc", OPT_FLAG, &zero_copy, 0, 0, NULL,
		 "zero-copy sends (IORING_OP_SEND_ZC), each held in flight until its notification"},
		{"bundle", OPT_FLAG, &bundle, 0, 0, NULL,
		 "recv bundles (IORING_RECVSEND_BUNDLE): one completion for as many ring buffers as "
		 "the data fills"},
		{"fixed-files", OPT_FLAG, &fixed_files, 0, 0, NULL,
		 "registered files: accept straight into the ring's file table, recv and send by slot, "
		 "the ring fd registered"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	recv_limit = strcmp(limit_opt, "off") != 0;
	recv_limit_fake = strcmp(limit_opt, "fake-einval") == 0;
	if (recv_limit && !recv_limit_fake && strcmp(limit_opt, "auto") != 0) {
		fprintf(stderr, "echo-uring: --recv-limit: must be auto, off or fake-einval (see --help)\n");
		exit(2);
	}
	struct rlimit rl; /* listener_open() raises the soft limit to the hard one: fds stay below */
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal_errno("getrlimit");
	max_fds = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : (size_t)rl.rlim_max;
	if (!(conns = calloc(max_fds, sizeof *conns)))
		fatal_errno("calloc");
	if (bundle && (!recv_limit || recv_limit_fake)) {
		fprintf(stderr, "echo-uring: --bundle needs --recv-limit auto: a bundle is retried while "
				"the socket has more, past the length it was armed with (see --help)\n");
		exit(2);
	}
	if (sq_cpu_opt && !sqpoll) {
		fprintf(stderr, "echo-uring: --sq-cpu needs --sqpoll (see --help)\n");
		exit(2);
	}
	struct ring_sqpoll sq = {.on = sqpoll, .cpu = sq_cpu(), .idle_ms = (uint32_t)(sq_idle_ns / 1000000u)};
	cfg.variant = ring_init(&sq);
	/* the row's label says where the SQ thread is: sqpoll (own), sqpoll-other, sqpoll-cpu3,
	 * sqpoll-unpinned */
	static char variant[40];
	if (sqpoll && (!sq_cpu_opt || strcmp(sq_cpu_opt, "own") != 0)) {
		if (!sq_cpu_opt)
			snprintf(variant, sizeof variant, "sqpoll-unpinned");
		else if (strcmp(sq_cpu_opt, "other") == 0)
			snprintf(variant, sizeof variant, "sqpoll-other");
		else
			snprintf(variant, sizeof variant, "sqpoll-cpu%d", sq.cpu);
		cfg.variant = variant;
	}
	if (sqpoll && !sqthread_find()) { /* the stats need it: its CPU is what the row must show */
		fprintf(stderr, "echo-uring: --sqpoll: no iou-sqp thread among this process's threads\n");
		exit(1);
	}
	opts_on = zero_copy || bundle;
	if (bundle)
		ring_need_bundle();
	if (zero_copy)
		ring_need_send_zc();
	/* --fixed-files, --zc and --bundle name themselves after what the ring is, alone over the
	 * default ring (the rows uring-fixed, uring-zc, uring-bundle): fixed, zc, fixed-zc-bundle,
	 * sqpoll-fixed, coop_taskrun-zc */
	static char opt_variant[64];
	if (fixed_files || zero_copy || bundle) {
		const char *parts[] = {strcmp(cfg.variant, "defer_taskrun") == 0 ? NULL : cfg.variant,
				       fixed_files ? "fixed" : NULL, zero_copy ? "zc" : NULL,
				       bundle ? "bundle" : NULL};
		size_t at = 0;
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
			if (parts[i])
				at += (size_t)snprintf(opt_variant + at, sizeof opt_variant - at, "%s%s",
						       at ? "-" : "", parts[i]);
		cfg.variant = opt_variant;
	}
	buf_size = bufs_init((uint32_t)cfg.buffer, max_fds);
	server_start(&cfg, SIGNALS_FD, false, &lis);
	/* Before the first accept, and after listener_open() raised RLIMIT_NOFILE to max_fds: the
	 * kernel refuses a table larger than that limit. */
	if (fixed_files)
		ring_register_files((unsigned)max_fds);

	arm_accept();
	arm_poll(signals_fd(), OP_TAG_SIGNAL);
	while (server_running()) {
		STAT_ADD(loop_passes, 1);
		stats_wakeup((int)ring_pass(&batch, handle));
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
