/* uring_ring.c - echo-uring's ring and buffer ring (uring_ring.h): set-up, queueing, the batched
 * enter; buffers handed back, held in order, and the queue of connections that found none. */
#include "uring_ring.h"

#include "sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

enum {
	RING_ENTRIES = 4096, /* submission queue; the completion queue is CQ_ENTRIES */
	CQ_ENTRIES = 16384,
	BUF_COUNT = 512,     /* a power of two */
	BUF_SIZE_MAX = 4096, /* each buffer */
};

struct held { /* per fd; all zero to begin with (calloc: pages of unused fds stay untouched) */
	uint32_t bytes;	     /* in the ring buffers it holds; 0: it holds none */
	uint16_t head, tail; /* those buffers, oldest first (when bytes > 0) */
	int next_starved;    /* in the queue of starved connections: the next fd + 1, or 0 */
	bool starved;
};

struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static uint32_t buf_size;
static uint16_t buf_len[BUF_COUNT], buf_next[BUF_COUNT]; /* of held buffers: bytes, next held */
static unsigned buffers_out;				 /* taken by the kernel, not yet returned */
static struct held *held;				 /* by fd */
static int starved_head = -1, starved_tail = -1;

static char *buf_at(uint16_t bid)
{
	return bufs + (size_t)bid * buf_size;
}

static _Noreturn void fatal(const char *what, int rc)
{
	fprintf(stderr, "echo-uring: %s: %s\n", what, strerror(-rc));
	exit(1);
}

static _Noreturn void setup_failed(const char *what, int err, const char *needs)
{
	bool refused = err == ENOSYS || err == EPERM;
	fprintf(stderr, "echo-uring: %s: %s%s\n", what, strerror(err),
		refused ? " (io_uring disabled or not built in: skipped)" : needs);
	exit(refused ? 77 : 1);
}

/* --sqpoll's ring: no DEFER_TASKRUN (the kernel refuses it beside SQPOLL: completions are posted
 * by the SQ thread, not run when we wait). SQPOLL is older than the 6.0 this needs, so EINVAL
 * here is a bad --sq-cpu (offline, or outside this process's cpuset), not a missing feature. */
static const char *sqpoll_init(const struct ring_sqpoll *sq)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SQPOLL | IORING_SETUP_CQSIZE,
				    .cq_entries = CQ_ENTRIES,
				    .sq_thread_idle = sq->idle_ms};
	if (sq->cpu >= 0) {
		p.flags |= IORING_SETUP_SQ_AFF;
		p.sq_thread_cpu = (uint32_t)sq->cpu;
	}
	sys_counted(SYS_IO_URING_SETUP);
	int rc = io_uring_queue_init_params(RING_ENTRIES, &ring, &p);
	if (rc == -EINVAL && sq->cpu >= 0) {
		fprintf(stderr, "echo-uring: --sq-cpu %d: io_uring_setup refused it (EINVAL): that CPU is "
				"offline or outside this process's cpuset\n", sq->cpu);
		exit(2);
	}
	if (rc != 0)
		setup_failed("io_uring_setup (SQPOLL)", -rc, "");
	return "sqpoll";
}

const char *ring_init(const struct ring_sqpoll *sq)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		fatal("uname", -errno);
	if (major < 6) { /* the setup's EINVALs would mean "not there": a skip, not a failure */
		fprintf(stderr, "echo-uring: Linux %s: needs Linux 6.0 (multishot recv, buffer rings): "
				"skipped\n", u.release);
		exit(77);
	}
	if (sq->on)
		return sqpoll_init(sq);
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

#ifndef IORING_FEAT_RECVSEND_BUNDLE /* Linux 6.10; liburing 2.3 predates it */
#define IORING_FEAT_RECVSEND_BUNDLE (1u << 14)
#endif

static _Noreturn void unsupported(const char *option, const char *feature, int err)
{
	fprintf(stderr, "echo-uring: %s: this kernel has no %s: %s (skipped)\n", option, feature,
		strerror(err));
	exit(77);
}

/* The release, for what only a request could refuse. Test hook (tests/uring/test_setup.sh):
 * MUXBENCH_TEST_URING_RELEASE stands in for it, so that the refusals are tested on any kernel. */
static bool release_below(unsigned want_major, unsigned want_minor)
{
	struct utsname u;
	unsigned major = 0, minor = 0;
	const char *fake = getenv("MUXBENCH_TEST_URING_RELEASE");
	if (uname(&u) != 0 || sscanf(fake ? fake : u.release, "%u.%u", &major, &minor) != 2)
		fatal("uname", -errno);
	return major < want_major || (major == want_major && minor < want_minor);
}

void ring_need_bundle(void)
{
	if (!(ring.features & IORING_FEAT_RECVSEND_BUNDLE)) /* a bundle recv would get EINVAL */
		unsupported("--bundle", "IORING_FEAT_RECVSEND_BUNDLE (Linux 6.10)", EINVAL);
	/* A bundle that filled its buffers is retried while the socket has more, past the length it
	 * was armed with; only the multishot byte limit stops it at the room (uring.c). */
	if (release_below(6, 16))
		unsupported("--bundle", "multishot recv byte limit (Linux 6.16), which alone keeps a bundle "
					"within the connection's room", EINVAL);
}

void ring_need_send_zc(void)
{
	sys_counted(SYS_IO_URING_REGISTER); /* IORING_REGISTER_PROBE */
	struct io_uring_probe *p = io_uring_get_probe_ring(&ring);
	if (!p)
		fatal("io_uring_get_probe_ring", -ENOMEM);
	bool have = io_uring_opcode_supported(p, IORING_OP_SEND_ZC);
	io_uring_free_probe(p);
	if (!have)
		unsupported("--zc", "IORING_OP_SEND_ZC (Linux 6.0)", EINVAL);
	if (release_below(6, 2)) /* every send would fail with EINVAL */
		unsupported("--zc", "IORING_SEND_ZC_REPORT_USAGE (Linux 6.2)", EINVAL);
}

static bool ring_fd_registered; /* liburing's own calls know it from the ring; enter() from this */

/* Linux 6.0 has both (sparse tables 5.19, registered ring fds 5.18): a refusal is not a missing
 * feature but a bug, or a limit (slots above RLIMIT_NOFILE: EMFILE). */
void ring_register_files(unsigned slots)
{
	sys_counted(SYS_IO_URING_REGISTER);
	int rc = io_uring_register_files_sparse(&ring, slots);
	if (rc != 0)
		setup_failed("io_uring_register_files_sparse", -rc, "");
	sys_counted(SYS_IO_URING_REGISTER);
	rc = io_uring_register_ring_fd(&ring);
	if (rc != 1) /* the number of ring fds registered */
		setup_failed("io_uring_register_ring_fd", rc < 0 ? -rc : EINVAL, "");
	ring_fd_registered = true;
}

static bool sqpoll(void)
{
	return ring.flags & IORING_SETUP_SQPOLL;
}

/* One io_uring_enter(), counted, with nothing to submit: with SQPOLL the SQ thread submits. */
static void enter(unsigned min_complete, unsigned flags)
{
	sys_counted(SYS_IO_URING_ENTER);
	int fd = ring_fd_registered ? ring.enter_ring_fd : ring.ring_fd;
	if (ring_fd_registered)
		flags |= IORING_ENTER_REGISTERED_RING;
	int rc = io_uring_enter((unsigned)fd, 0, min_complete, flags, NULL);
	if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
		fatal("io_uring_enter", rc);
}

/* --sqpoll: make what was queued visible to the SQ thread (liburing's own flush, which its submit
 * would do: the tail stored with release), and say whether that thread sleeps and needs a wake-up.
 * Done here rather than by io_uring_submit() so that whether a syscall was made is known exactly,
 * not guessed from a flag liburing reads again. */
static bool sq_publish(void)
{
	struct io_uring_sq *sq = &ring.sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	io_uring_smp_mb(); /* the tail's store before the flag's load, as the kernel's side expects */
	return IO_URING_READ_ONCE(*sq->kflags) & IORING_SQ_NEED_WAKEUP;
}

struct io_uring_sqe *ring_sqe(void)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&ring))) {
		if (sqpoll()) { /* the SQ thread has not taken them yet: wake it if it sleeps, wait for room */
			enter(0, (sq_publish() ? IORING_ENTER_SQ_WAKEUP : 0u) | IORING_ENTER_SQ_WAIT);
			continue;
		}
		sys_counted(SYS_IO_URING_ENTER); /* submits: always enters the kernel */
		int rc = io_uring_submit(&ring);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			fatal("io_uring_submit", rc);
	}
	return sqe;
}

/* --sqpoll: completions ready are reaped without a syscall; only an empty completion queue waits
 * (for one), and a sleeping SQ thread is woken by the same call. */
static void sqpoll_wait(void)
{
	bool wake = sq_publish();
	bool wait = io_uring_cq_ready(&ring) == 0;
	if (wake || wait)
		enter(wait ? 1 : 0, (wake ? IORING_ENTER_SQ_WAKEUP : 0u) | (wait ? IORING_ENTER_GETEVENTS : 0u));
}

/* Waits for the sends just queued (they usually complete during the submission) plus as many
 * arrivals as the last pass reaped, at most --batch-wait: under load the kernel wakes us once per
 * batch (DEFER_TASKRUN counts pending completions against the wait). Not after a quiet pass: a
 * wait that times out costs a timer wake-up, which on a VM costs more CPU than a batch saves. */
static void submit_and_wait(struct ring_batch *b)
{
	unsigned want = b->arrivals > RING_BATCH_MAX ? RING_BATCH_MAX : b->arrivals;
	unsigned wait_nr = b->sends + (want > 1 ? want : 1);
	bool batching = want >= b->min && want > 1 && b->wait_ns > 0;
	b->sends = b->arrivals = 0;
	struct __kernel_timespec ts = {.tv_sec = (long long)(b->wait_ns / 1000000000u),
				       .tv_nsec = (long long)(b->wait_ns % 1000000000u)};
	struct io_uring_cqe *cqe;
	sys_counted(SYS_IO_URING_ENTER); /* either call makes exactly one io_uring_enter() */
	int rc = batching ? io_uring_submit_and_wait_timeout(&ring, &cqe, wait_nr, &ts, NULL)
			  : io_uring_submit_and_wait(&ring, 1);
	if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME)
		fatal("io_uring_submit_and_wait", rc); /* EAGAIN/EBUSY: completions to reap first */
}

unsigned ring_pass(struct ring_batch *b, void (*handle)(struct io_uring_cqe *cqe))
{
	if (sqpoll())
		sqpoll_wait();
	else
		submit_and_wait(b);
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&ring, head, cqe) {
		handle(cqe);
		n++;
	}
	io_uring_cq_advance(&ring, n);
	return n;
}

uint32_t bufs_init(uint32_t buffer, size_t max_fds)
{
	buf_size = buffer < BUF_SIZE_MAX ? buffer : BUF_SIZE_MAX;
	br = mmap(NULL, BUF_COUNT * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = malloc((size_t)BUF_COUNT * buf_size);
	held = calloc(max_fds, sizeof *held);
	if (br == MAP_FAILED || !bufs || !held) {
		fprintf(stderr, "echo-uring: buffer ring memory: %s\n", strerror(errno));
		exit(1);
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)br, .ring_entries = BUF_COUNT, .bgid = BUFS_GROUP};
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
		io_uring_buf_ring_add(br, buf_at(bid), buf_size, bid, io_uring_buf_ring_mask(BUF_COUNT),
				      bid);
	io_uring_buf_ring_advance(br, BUF_COUNT);
	return buf_size;
}

void bufs_exit(void)
{
	free(held);
	free(bufs);
	munmap(br, BUF_COUNT * sizeof(struct io_uring_buf));
}

static void buffer_return(uint16_t bid)
{
	io_uring_buf_ring_add(br, buf_at(bid), buf_size, bid, io_uring_buf_ring_mask(BUF_COUNT), 0);
	io_uring_buf_ring_advance(br, 1); /* visible to the kernel now: a store and a release */
	buffers_out--;
}

void bufs_received(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move)
{
	struct held *h = &held[fd];
	buffers_out++;
	if (h->bytes == 0 && connbuf_append(b, buf_at(bid), n, may_move)) {
		buffer_return(bid);
		return;
	}
	buf_len[bid] = (uint16_t)n;
	if (h->bytes > 0)
		buf_next[h->tail] = bid;
	else
		h->head = bid;
	h->tail = bid;
	h->bytes += n;
}

/* --bundle: the kernel's head in the buffer ring, as counted here: one per buffer a bundle filled.
 * The entries from it up to the tail hold only buffers not handed back (taken by completions not
 * yet read, or free), fewer than BUF_COUNT while a buffer is being handed back: so the tail, where
 * it goes, is never an entry a completion still names. */
static unsigned ring_head;

void bufs_received_bundle(int fd, struct connbuf *b, uint16_t bid, uint32_t n, bool may_move)
{
	unsigned mask = io_uring_buf_ring_mask(BUF_COUNT);
	if (br->bufs[ring_head & mask].bid != bid) {
		fprintf(stderr, "echo-uring: --bundle: a bundle began at buffer %u, the ring's head holds "
				"%u: out of step with the kernel\n",
			bid, br->bufs[ring_head & mask].bid);
		exit(1);
	}
	while (n > 0) {
		uint32_t len = n < buf_size ? n : buf_size;
		bufs_received(fd, b, br->bufs[ring_head++ & mask].bid, len, may_move);
		n -= len;
	}
}

static void return_oldest(struct held *h)
{
	uint16_t bid = h->head;
	h->bytes -= buf_len[bid];
	h->head = buf_next[bid];
	buffer_return(bid);
}

static inline __attribute__((always_inline)) void take_held(int fd, struct connbuf *b, bool may_move)
{
	struct held *h = &held[fd];
	while (h->bytes > 0 && connbuf_append(b, buf_at(h->head), buf_len[h->head], may_move))
		return_oldest(h);
}

void bufs_take_held(int fd, struct connbuf *b)
{
	take_held(fd, b, true);
}

void bufs_take_held_pinned(int fd, struct connbuf *b)
{
	take_held(fd, b, false);
}

uint32_t bufs_held(int fd)
{
	return held[fd].bytes;
}

void bufs_starved(int fd)
{
	held[fd].starved = true;
	held[fd].next_starved = 0;
	if (starved_tail >= 0)
		held[starved_tail].next_starved = fd + 1;
	else
		starved_head = fd;
	starved_tail = fd;
}

/* No buffer coming back must leave a starved connection waiting while buffers sit free, so the
 * count is of the buffers free now, not of those returned since. */
void bufs_rearm_starved(void (*rearm)(int fd))
{
	for (unsigned n = BUF_COUNT - buffers_out; starved_head >= 0 && n > 0; n--) {
		int fd = starved_head;
		if ((starved_head = held[fd].next_starved - 1) < 0)
			starved_tail = -1;
		held[fd].starved = false;
		rearm(fd);
	}
}

void bufs_forget(int fd)
{
	struct held *h = &held[fd];
	if (h->starved) { /* rare: unlink it from the queue */
		int prev = -1;
		for (int at = starved_head; at != fd; at = held[at].next_starved - 1)
			prev = at;
		if (prev >= 0)
			held[prev].next_starved = h->next_starved;
		else
			starved_head = h->next_starved - 1;
		if (starved_tail == fd)
			starved_tail = prev;
	}
	while (h->bytes > 0)
		return_oldest(h);
	*h = (struct held){0};
}
