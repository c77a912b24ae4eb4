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
 * Readiness checks (stats "checks"): one per read(), the only question this server asks the
 * kernel about a socket; the kernel wakes the one thread whose socket has data, so there is
 * nothing to scan ("scanned" stays 0).
 * Backpressure needs no code here: when a client stops reading, write() blocks, so the thread stops
 * reading too. Signals are taken by a thread of their own (SIGNALS_THREAD), since every other
 * thread may sleep in a call that a signal should not have to interrupt.
 *
 * Run: echo-blocking [--iterative] --port 7000, then: nc 127.0.0.1 7000
 */
#include "server.h"

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

static void *connection_thread(void *arg)
{
	serve(arg);
	STAT_SUB(threads, 1);
	return NULL;
}

int main(int argc, char **argv)
{
	bool iterative = false;
	const struct server_option options[] = {
		{"iterative", OPT_FLAG, &iterative, 0, 0, NULL, "serve one connection at a time (no threads)"},
		{0}};
	options_parse(&cfg, argc, argv, options);
	cfg.variant = iterative ? "iterative" : "threads";
	struct listener lis;
	server_start(&cfg, SIGNALS_THREAD, true, &lis);
	STAT_ADD(threads, 1); /* the signal thread */

	pthread_attr_t attr;
	if (pthread_attr_init(&attr) || pthread_attr_setstacksize(&attr, STACK_SIZE) ||
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED))
		fatal_errno("pthread_attr");

	for (;;) { /* the signal thread ends the process */
		STAT_ADD(loop_passes, 1);
		struct conn *c = server_accept(&lis, true, &cfg);
		if (!c)
			continue; /* failed for want of resources: counted by the listener */
		if (iterative) {
			serve(c);
			continue;
		}
		STAT_ADD(threads, 1);
		pthread_t t;
		int err = pthread_create(&t, &attr, connection_thread, c);
		if (err) {
			STAT_SUB(threads, 1);
			STAT_ADD(accept_errors, 1); /* out of threads or memory: refuse this client */
			conn_close(c);
		}
	}
}
