/* blocking.c - echo server with blocking sockets: a thread per connection, or one at a time.
 *
 * What it shows:
 *  - default: the kernel's scheduler is the multiplexer. Each connection gets a thread that sleeps
 *    in read() until its data arrives, so no syscall is ever wasted, and the price moves elsewhere:
 *    a stack, a kernel task and two context switches per request. Stacks are kept small (64 KiB,
 *    the buffer lives on the heap) so that 10,000 threads fit.
 *  - --iterative: the BIO server of seed 004. One thread serves one connection until it closes;
 *    every other client waits in the listen backlog, however little it wants. An idle client
 *    starves everyone behind it.
 *  - --acceptors K: K threads blocked in accept() on the one listener (the pre-threaded server).
 *    The kernel queues them on the listener's wait queue and wakes one per connection, the one
 *    that has waited longest, so the accepts should go round-robin: the third way of spreading
 *    connections over loops, beside echo-epoll's SO_REUSEPORT hash and EPOLLEXCLUSIVE
 *    (bench/scaling measures all three). Each acceptor, and every connection thread it starts,
 *    counts into a block of its own, so the stats line's "loops" says how many each accepted.
 * Readiness checks (stats "checks"): one per read(), the only question this server asks the
 * kernel about a socket; the kernel wakes the one thread whose socket has data, so there is
 * nothing to scan ("scanned" stays 0).
 * Backpressure needs no code here: when a client stops reading, write() blocks, so the thread stops
 * reading too. Signals are taken by a thread of their own (SIGNALS_THREAD), since every other
 * thread may sleep in a call that a signal should not have to interrupt.
 *
 * Run: echo-blocking [--iterative] [--acceptors K] --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

#include <errno.h>
#include <pthread.h>

#ifdef __SANITIZE_ADDRESS__
enum { STACK_SIZE = 512 * 1024 }; /* AddressSanitizer's redzones need room */
#else
enum { STACK_SIZE = 64 * 1024 };
#endif

static struct server_config cfg = {.name = "blocking", .checks = CHECKS_READS};

/* read() sleeps until there is data; the write that follows returns once the kernel took it all,
 * unless the client stops reading: then it sleeps, and so does this connection's reading. */
static void serve(struct conn *c)
{
	enum conn_rc rc;
	do {
		STAT_ADD(checks, 1); /* the read below: counted before it sleeps, as the syscall is */
		rc = conn_on_readable(c);
		while (rc != CONN_CLOSE && conn_wants_write(c))
			rc = conn_on_writable(c); /* a short write: only a signal can cause one here */
	} while (rc != CONN_CLOSE && !c->eof);
	conn_close(c);
}

/* What a connection thread starts with: its connection, and its acceptor's counters (NULL with
 * one acceptor: the process's own). */
struct start {
	struct conn *conn;
	struct loop_block *counters;
};

static void *connection_thread(void *arg)
{
	struct start st = *(struct start *)arg;
	free(arg);
	if (st.counters)
		counters_attach(st.counters);
	serve(st.conn);
	STAT_SUB(threads, 1);
	return NULL;
}

/* One acceptor: a listener handle of its own (listener_share: its own EMFILE spare) and, with
 * several acceptors, its counters. */
struct acceptor {
	struct listener lis;
	struct loop_block *counters;
};

static bool iterative;
static pthread_attr_t attr;

static void *accept_loop(void *arg)
{
	struct acceptor *a = arg;
	if (a->counters)
		counters_attach(a->counters);
	for (;;) { /* the signal thread ends the process */
		STAT_ADD(loop_passes, 1);
		struct conn *c = server_accept(&a->lis, true, &cfg);
		if (!c)
			continue; /* failed for want of resources: counted by the listener */
		if (iterative) {
			serve(c);
			continue;
		}
		struct start *st = malloc(sizeof *st);
		int err = st ? 0 : ENOMEM;
		if (st) {
			*st = (struct start){.conn = c, .counters = a->counters};
			STAT_ADD(threads, 1);
			err = pthread_create(&(pthread_t){0}, &attr, connection_thread, st);
			if (err) {
				STAT_SUB(threads, 1);
				free(st);
			}
		}
		if (err) {
			STAT_ADD(accept_errors, 1); /* out of threads or memory: refuse this client */
			conn_close(c);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t acceptors = 1;
	const struct server_option options[] = {
		{"iterative", OPT_FLAG, &iterative, 0, 0, NULL, "serve one connection at a time (no threads)"},
		{"acceptors", OPT_COUNT, &acceptors, 1, COUNTERS_MAX_LOOPS, "K",
		 "K threads blocked in accept() on the one listener (1)"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	static char variant[32];
	/* "a2": the row blocking-a2 of the table of servers, as bench's labels spell it */
	if (acceptors > 1)
		snprintf(variant, sizeof variant, "%sa%llu", iterative ? "iterative-" : "",
			 (unsigned long long)acceptors);
	else
		snprintf(variant, sizeof variant, "%s", iterative ? "iterative" : "threads");
	cfg.variant = variant;
	/* Before the listener: a loop block per acceptor, read live (counters.h). */
	const struct counters *blocks = acceptors > 1 ? counters_create_live(acceptors) : NULL;
	struct listener lis;
	server_start(&cfg, SIGNALS_THREAD, true, &lis);
	STAT_ADD(threads, 1); /* the signal thread */

	if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, STACK_SIZE) ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED))
		fatal_errno("pthread_attr");
	struct acceptor *acc = calloc(acceptors, sizeof *acc);
	if (!acc)
		fatal_errno("calloc");
	/* Several acceptors share the fd_lock (listener.h), without which one's accept() takes the
	 * slot another's EMFILE shed just freed, and the spare is lost: torture's emfile cases then
	 * leave connections in the backlog. A blocking accept() holds the read side while it
	 * sleeps; that is harmless, since an acceptor asleep in accept() has its fd already (the
	 * kernel takes it first) and there is nothing to shed until it has taken the next arrival.
	 * The writer goes first: acceptors back from accept() must not keep a shed waiting. */
	static pthread_rwlock_t fd_lock;
	if (blocks) {
		pthread_rwlockattr_t la;
		if (pthread_rwlockattr_init(&la) ||
		    pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) ||
		    pthread_rwlock_init(&fd_lock, &la))
			fatal_errno("pthread_rwlock_init");
		lis.fd_lock = &fd_lock;
	}
	acc[0] = (struct acceptor){.lis = lis, .counters = blocks ? &blocks->loops[0] : NULL};
	/* The others start after the ready line, within microseconds: a connection that comes first
	 * is simply acceptor 0's. The main thread is acceptor 0. */
	for (size_t i = 1; i < acceptors; i++) {
		listener_share(&acc[i].lis, &lis);
		acc[i].counters = &blocks->loops[i];
		STAT_ADD(threads, 1);
		int err = pthread_create(&(pthread_t){0}, &attr, accept_loop, &acc[i]);
		if (err) {
			errno = err;
			fatal_errno("pthread_create (acceptor %zu)", i);
		}
	}
	accept_loop(&acc[0]);
	return 0;
}
