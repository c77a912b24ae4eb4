/* counters.h - the one owner of every count a server keeps, and the snapshot they add up to.
 *
 * Two kinds of count, each listed once by an X-macro:
 *  - struct sys_counters: every syscall by kind (SYS_CALLS, the kernel's names, so the server's
 *    count and perf's raw_syscalls count line up kind by kind), the EAGAINs, and the io_uring
 *    operations (SYS_OPS: submitted without a syscall each, so counted apart);
 *  - struct stats: the echo work and the connection churn (STATS_FIELDS, in the stats line's order).
 *
 * Counters are relaxed atomics: the thread-per-connection server increments them from thousands of
 * threads, and a snapshot is taken from another thread. Uncontended, an atomic add costs a few
 * nanoseconds against a syscall's, and every server pays it alike. "Uncontended" is why the counts
 * live in blocks:
 *  - per-request counts (scope LOOP) go to the calling thread's block, sys_local and stats_local:
 *    the process's own (sys_count, stats) unless an event-loop thread attached a block of its own
 *    (counters_attach). Two loops on two cores bumping one shared line on every request would
 *    bounce it between the cores and inflate the very CPU per request the benchmark publishes;
 *  - per-connection gauges (scope SHARED) stay in one block, stats_gauges (`stats`, or shared
 *    memory across --workers processes): --max-conns and peak_conns need one true total, and they
 *    are touched once per connection, not per request.
 * STAT_ADD(field, n) picks the block from the field's scope, a compile-time constant, so the choice
 * costs nothing at run time.
 *
 * Loop blocks sit in one MAP_SHARED anonymous mapping made before any loop thread or worker starts
 * (counters_create): a worker's writes land in the memory the supervisor reads, so a snapshot of the
 * whole server is one sum, taken in one process. Each block starts on its own cache line. A worker
 * also publishes its getrusage() there (counters_record_usage), because the supervisor's own sees
 * only itself: RUSAGE_CHILDREN counts children only once they have exited.
 */
#ifndef MUXBENCH_COUNTERS_H
#define MUXBENCH_COUNTERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every counted syscall: X(ENUM, kernel name). */
#define SYS_CALLS(X)                                                                               \
	X(READ, read) X(WRITE, write) X(ACCEPT4, accept4) X(CLOSE, close)                          \
	X(SETSOCKOPT, setsockopt) X(GETSOCKOPT, getsockopt) X(OPENAT, openat) X(POLL, poll)        \
	X(PSELECT6, pselect6) /* what glibc's select() calls */                                    \
	X(EPOLL_CREATE1, epoll_create1) X(EPOLL_CTL, epoll_ctl) X(EPOLL_WAIT, epoll_wait)          \
	X(IO_URING_SETUP, io_uring_setup) X(IO_URING_REGISTER, io_uring_register)                  \
	X(IO_URING_ENTER, io_uring_enter) /* echo-uring's only syscall per pass */
/* Every io_uring operation: X(ENUM, name). One io_uring_enter() submits many of them. close:
 * echo-uring --fixed-files closes a slot of its registered file table with one. */
#define SYS_OPS(X)                                                                                 \
	X(ACCEPT, accept) X(RECV, recv) X(SEND, send) X(POLL, poll) X(CANCEL, cancel) X(CLOSE, close)

#define COUNTERS_ENUM_SYS(e, name) SYS_##e,
#define COUNTERS_ENUM_OP(e, name) OP_##e,
enum sys_kind { SYS_CALLS(COUNTERS_ENUM_SYS) SYS__COUNT };
enum sys_op { SYS_OPS(COUNTERS_ENUM_OP) OP__COUNT };
extern const char *const sys_names[SYS__COUNT];
extern const char *const sys_op_names[OP__COUNT];

struct sys_counters {
	_Atomic uint64_t calls[SYS__COUNT];
	_Atomic uint64_t read_eagain;	 /* read() that found nothing: the busy-poll server's waste */
	_Atomic uint64_t write_eagain;	 /* write() that found the socket's send buffer full */
	_Atomic uint64_t ops[OP__COUNT]; /* io_uring operations submitted, by kind */
};

/* Every field of struct stats: X(name, scope, shown in the stats line). The order is the line's.
 *  requests: reads that returned data; loop_passes: iterations of the event loop; wakeups: wait
 *  calls that returned (events / wakeups = batch size); events: ready fds those calls reported;
 *  checks, walked, scanned: the readiness checks the kernel made for the loop, the entries it
 *  stepped over to make them, and the entries the loop looked at in user space to find the ready
 *  ones (enum checks_model below; results/README.md "Readiness checks" defines them per model);
 *  resets: connections that ended in an error (ECONNRESET, EPIPE); conns: open right now;
 *  rejected_fd_setsize: select's fd too large for an fd_set; rejected_max_conns: beyond
 *  --max-conns; accept_emfile: shed because the process ran out of fds; accept_errors: any other
 *  accept() failure; threads: alive, the main one included; no_napi_conns: accepted
 *  connections whose socket carries no NAPI id, counted only by epoll --busy-poll, which needs
 *  one; zc_notifs, zc_copied: echo-uring --zc's notifications (one per zero-copy send), and those
 *  that said the kernel copied the bytes after all; loop_accepted, loop_closed: this loop's share
 *  of accepted and closed, for the line's "loops" breakdown. */
#define STATS_FIELDS(X)                                                                            \
	X(requests, LOOP, 1) X(bytes_in, LOOP, 1) X(bytes_out, LOOP, 1) X(accepted, SHARED, 1)     \
	X(closed, SHARED, 1) X(conns, SHARED, 1) X(peak_conns, SHARED, 1)                          \
	X(loop_passes, LOOP, 1) X(wakeups, LOOP, 1) X(events, LOOP, 1)                             \
	X(checks, LOOP, STATS_CHECK) X(walked, LOOP, STATS_CHECK) X(scanned, LOOP, STATS_CHECK)    \
	X(rejected_fd_setsize, SHARED, 1) X(rejected_max_conns, SHARED, 1)                         \
	X(accept_emfile, SHARED, 1) X(accept_errors, SHARED, 1) X(resets, LOOP, 1)                 \
	X(threads, SHARED, 1) X(no_napi_conns, SHARED, 1) X(zc_notifs, LOOP, 1)                    \
	X(zc_copied, LOOP, 1) X(loop_accepted, LOOP, 0) X(loop_closed, LOOP, 0)

/* shown: 0 per-loop only (the "loops" breakdown), 1 in the line, STATS_CHECK in the line as the
 * server's checks model says (stats.c: null where it cannot count them, or another field's count
 * where the model makes the two one). */
#define STATS_CHECK 2

/* What a server's "checks" are (the table of servers' `checks` column spells them the same):
 *  CHECKS_READS        each read() (and busypoll's accept4()) asks one socket: busypoll, blocking;
 *  CHECKS_SET_FDS      the fds set in select()'s sets, per call (walked: its nfds argument);
 *  CHECKS_NFDS         poll()'s nfds, per call: do_poll polls every entry;
 *  CHECKS_EVENTS       epoll_wait()'s events: checks, walked and scanned are `events` itself;
 *  CHECKS_COMPLETIONS  io_uring's completions reaped: the same three are `events` too;
 *  CHECKS_NONE         cannot count them (echo-libuv): the three are null.
 * Only what a model cannot derive is counted (STAT_ADD in the loop); the writer fills in the rest
 * (walked = checks but for select; all three = events for epoll and io_uring), so a count that
 * another one already holds costs the loop nothing. The zero value is CHECKS_NONE: a server that
 * does not say shows null, not a wrong number. */
enum checks_model {
	CHECKS_NONE,
	CHECKS_READS,
	CHECKS_SET_FDS,
	CHECKS_NFDS,
	CHECKS_EVENTS,
	CHECKS_COMPLETIONS,
};

#define COUNTERS_FIELD(name, scope, shown) _Atomic uint64_t name;
struct stats {
	STATS_FIELDS(COUNTERS_FIELD)
};
#define COUNTERS_SCOPE(name, scope, shown) STATS_SCOPE_##name = STATS_##scope,
#define STATS_LOOP 0   /* in the calling thread's block */
#define STATS_SHARED 1 /* in the one block of gauges */
enum { STATS_FIELDS(COUNTERS_SCOPE) };

/* The process's blocks: the gauges, and the counts of every thread that has not attached a block
 * of its own (the thread-per-connection server, every single-loop server). */
extern struct sys_counters sys_count;
extern struct stats stats;
extern _Thread_local struct sys_counters *sys_local; /* &sys_count, or this loop's own block */
extern _Thread_local struct stats *stats_local;	     /* &stats, or this loop's own block */
extern struct stats *stats_gauges;		     /* &stats, or the workers' shared block */

static inline uint64_t counter_get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static inline void sys_counted(enum sys_kind k)
{
	atomic_fetch_add_explicit(&sys_local->calls[k], 1, memory_order_relaxed);
}

static inline void sys_op_counted(enum sys_op op)
{
	atomic_fetch_add_explicit(&sys_local->ops[op], 1, memory_order_relaxed);
}

#define STATS_BLOCK(field) (STATS_SCOPE_##field == STATS_LOOP ? stats_local : stats_gauges)
#define STAT_ADD(field, n) \
	atomic_fetch_add_explicit(&STATS_BLOCK(field)->field, (n), memory_order_relaxed)
#define STAT_SUB(field, n) \
	atomic_fetch_sub_explicit(&STATS_BLOCK(field)->field, (n), memory_order_relaxed)
/* A gauge's current value (a per-request counter's would only be this thread's share). */
#define STAT_GAUGE(field) atomic_load_explicit(&stats_gauges->field, memory_order_relaxed)

/* A connection opened or closed: the gauges (and peak_conns) and this loop's share. */
void stats_conn_opened(void);
void stats_conn_closed(void);

#define COUNTERS_MAX_LOOPS 64 /* one stats line must hold every loop's figures */

struct loop_block {
	_Alignas(64) struct sys_counters sys;
	struct stats stats;
	/* What the loop counted when it answered its last snapshot: a snapshot sums these, so each
	 * loop is seen as of one instant between two of its requests, as a single loop sees itself.
	 * Written by the loop, read by the control side once snapshot_gen says so (control.h). */
	struct sys_counters frozen_sys;
	struct stats frozen_stats;
	_Atomic uint64_t snapshot_gen; /* the last snapshot this loop has answered */
	/* The loop thread's own CPU time (RUSAGE_THREAD user + sys, us) when it answered its last
	 * snapshot: how the work spreads over the loops, which the process's sum cannot say. */
	_Atomic uint64_t frozen_cpu_us;
};

/* getrusage()'s figures that the stats line carries: X(name). */
#define USAGE_FIELDS(X) X(user_us) X(sys_us) X(nvcsw) X(nivcsw) X(maxrss_kb)
#define COUNTERS_USAGE(name) uint64_t name;
#define COUNTERS_USAGE_ATOMIC(name) _Atomic uint64_t name;
struct usage {
	USAGE_FIELDS(COUNTERS_USAGE)
};
/* A worker process's usage, as it last reported it. */
struct worker_usage {
	_Alignas(64) USAGE_FIELDS(COUNTERS_USAGE_ATOMIC)
};

struct counters {
	struct loop_block *loops;
	size_t nloops;
	struct worker_usage *workers; /* NULL without --workers */
	size_t nworkers;
	/* The blocks are read live, never frozen: their owners (echo-blocking's acceptors and the
	 * connection threads each starts) sleep in blocking calls and cannot answer a snapshot, and
	 * none is one thread, so no RUSAGE_THREAD says its CPU (the line's cpu_us is null). */
	bool live;
};

/* Maps nloops blocks (and, with nworkers > 0, the shared gauges and one usage slot per worker),
 * zeroed, and has every later snapshot add them in. Exits 1 if the mapping fails. */
const struct counters *counters_create(size_t nloops, size_t nworkers);
/* The same, threads alone, with blocks that every snapshot reads live (struct counters: live). */
const struct counters *counters_create_live(size_t nloops);
/* The blocks: NULL until counters_create(). */
const struct counters *counters_get(void);
/* From now on this thread counts into b. */
void counters_attach(struct loop_block *b);
/* b's frozen copy := its live counts, and its CPU time (by the loop that owns b, in its thread). */
void counters_freeze(struct loop_block *b);
/* Record a worker's usage in its slot: its own getrusage() when it answers a snapshot, or what
 * wait4() reported once it exited. */
struct rusage;
void counters_record_usage(struct worker_usage *u, const struct rusage *ru);

/* Everything one stats line reports, summed over every block this process can see. */
struct counters_snapshot {
	struct sys_counters sys;
	struct stats stats;
	struct usage usage; /* this process's and every worker's; maxrss: the sum of their peaks */
	size_t nloops;	    /* 0: no loop blocks, and no "loops" breakdown */
	bool loops_cpu_known; /* false: the blocks are live (struct counters), cpu_us is unknown */
	struct {
		uint64_t requests, accepted, conns;
		uint64_t cpu_us; /* the loop thread's CPU as of its last answered snapshot */
	} loops[COUNTERS_MAX_LOOPS];
};

/* Sums every block into s. frozen: take each loop block's frozen copy (a snapshot that the loops
 * have answered), not its live counts. */
void counters_snapshot(struct counters_snapshot *s, bool frozen);

#endif
