/* loadgen.h - what the load generator's pieces share: the configuration, the run's phases, the
 * per-thread worker and its counters, and each file's entry points. See loadgen.c for the whole
 * picture: config.c (the command line), loadgen.c (the phases), window.c (the window's edges),
 * connect.c and worker.c (one thread's loop), conn.c (one connection), hist.c, report.c. */
#ifndef MUXBENCH_LOADGEN_H
#define MUXBENCH_LOADGEN_H

#include "hist.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct config {
	const char *host;
	uint64_t port, connections, active, size, pipeline, threads, rate, requests, connect_rate, seed;
	uint64_t duration_ns, warmup_ns, timeout_ns, tick_ns;
	uint64_t start_at_ns; /* --start-at: CLOCK_REALTIME ns at which the warm-up starts; 0: at once */
	uint64_t linger_ns;   /* --linger: connections held open, idle, this long after the window */
	const char *sources, *perf_ctl, *json_path, *hist_path;
	long server_pid;
	struct sockaddr_in dest;
	struct in_addr *source_addrs;
	unsigned nsources;
};

/* The run moves through these; the main thread is the clock and moves it on. Between DONE (no
 * more requests, no more responses or bytes counted) and EXIT the connections stay open, so that
 * closing them cannot fall inside the server's or perf's window, and each worker drains: it waits
 * for the requests still in flight until each is answered or times out, and counts what is wrong
 * with them (worker.c's drain()). */
enum phase { PHASE_CONNECT, PHASE_WARMUP, PHASE_MEASURE, PHASE_DONE, PHASE_EXIT };

enum err_kind {
	ERR_VERIFY,	/* a response byte that is not what was sent */
	ERR_EXTRA,	/* bytes with no request outstanding */
	ERR_TIMEOUT,	/* no complete response within --timeout */
	ERR_CLOSED,	/* the server closed or reset a connection during the run */
	ERR_IO,		/* any other read or write failure */
	ERR__COUNT
};
extern const char *const err_names[ERR__COUNT];

/* One request's life, kept per connection in order (the stream echoes in order). */
struct slot {
	uint64_t sched_ns; /* when it should have been sent: latency counts from here */
	uint64_t sent_ns;  /* when it was sent: the uncorrected latency counts from here */
};

struct lconn {
	int fd;
	uint32_t id;	       /* 0..N-1: with seq, picks the payload */
	bool active, dead, want_out, connecting, responded, rx_bad, send_queued;
	uint64_t tx_seq, rx_seq; /* next request to send, next response expected */
	uint64_t tx_off, rx_off; /* bytes of them done */
	struct slot *q;		 /* ring of requests: [rx_seq, tx_seq) in flight, [tx_seq, end) scheduled */
	uint64_t q_end;		 /* sequence number after the last scheduled request */
	uint64_t q_cap;
};

struct worker {
	const struct config *cfg;
	int ep;
	struct lconn *conns; /* this thread's connections */
	size_t nconns, nactive;
	struct lconn **actives;
	struct lconn **sendq; /* connections with a request to send once this wake-up's reads are done */
	size_t nsendq;
	uint64_t next_req;   /* rate mode: this thread's j-th request goes to actives[j % nactive] */
	uint64_t rate_start_ns, rate_num, rate_den; /* request j is due at start + j * num / den */
	struct hist lat, lat_uncorrected;
	uint64_t responses, bytes_in, bytes_out; /* in the measured window */
	uint64_t errors[ERR__COUNT];
	int connect_errno; /* first connect failure, 0 if none */
	size_t connected;
	size_t settled; /* connections whose first echo came back, or that failed trying */
	pthread_t thread;
};

extern _Atomic int run_phase;
extern _Atomic uint64_t window_responses; /* for --requests: responses in the window so far */
extern _Atomic unsigned workers_connected;
extern _Atomic unsigned workers_drained; /* workers done with their requests in flight */

/* config.c: the command line (exit 2 on a mistake), and the fd limit checked against it. */
void config_parse(struct config *cfg, int argc, char **argv);
void config_preflight(const struct config *cfg);

/* window.c: the measured window's edges, for the server (--server-pid) and perf (--perf-ctl). */
struct perf_ctl {
	int ctl, ack; /* -1: none */
};
void perf_open(struct perf_ctl *p, const char *spec);
void perf_close(struct perf_ctl *p);
void mark_window(const struct config *cfg, const struct perf_ctl *perf, bool start);

/* connect.c and worker.c: one thread. SCAN_NS: how often a loop looks for overdue requests. */
enum { MAX_EVENTS = 512, SCAN_NS = 100 * 1000 * 1000 };
void *worker_main(void *arg);
bool connect_all(struct worker *w);
void explain_connect_failure(const struct config *cfg, int err, uint64_t connected);
void worker_flush_sends(struct worker *w, uint64_t now);

/* conn.c: the request stream of one connection. */
void payload_init(uint64_t seed, uint64_t size);
void payload_free(void);
bool lconn_send(struct worker *w, struct lconn *c, uint64_t now);
void lconn_receive(struct worker *w, struct lconn *c, uint64_t now);
void lconn_schedule(struct worker *w, struct lconn *c, uint64_t sched_ns);
void lconn_fail(struct worker *w, struct lconn *c, enum err_kind kind);
void lconn_drain(struct worker *w, struct lconn *c);
/* A request on c has waited more than --timeout for its response. */
bool lconn_overdue(const struct worker *w, const struct lconn *c, uint64_t now);

#endif
