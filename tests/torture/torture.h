/* torture.h - the fault cases of `make torture` and what every one of them reports.
 *
 * Shows: how a server behaves when its peers misbehave (never read, connect and vanish, eat all
 * its fds, ...), judged from outside over real loopback sockets. Each case starts its own server
 * through the integration harness (tests/integration/harness.h), drives the fault, and then
 * checks the same four things the issue asks of every case: the server is alive afterwards (and
 * still exits 0 on SIGTERM), a normal client is served during and after the fault, no echoed
 * byte is lost or reordered (the verifying client fails on the first wrong byte), and the figure
 * that decides the case is within its bound. CPU and peak RSS are measured for every case from
 * /proc over the server's whole process tree (echo-epoll --workers is several processes).
 *
 * Why reuse the integration harness: the fault cases need exactly its server life cycle, its
 * byte-for-byte client and its fail-and-kill assertions; a second copy would drift.
 */
#ifndef MUXBENCH_TORTURE_H
#define MUXBENCH_TORTURE_H

#include "check.h"
#include "client.h"
#include "harness.h"
#include "suite.h"

#include <stdint.h>

#define KiB (1024u)
#define MiB (1024u * 1024u)

/* One case run against one server: the server, and what was measured from its start. */
struct run {
	struct server s;
	int64_t t0;	    /* ms, monotonic, after the ready line */
	long long cpu0;	    /* tree CPU ticks at t0 */
	int idle_fds;	    /* tree fd count at t0: what the server holds with no client */
	long idle_rss_kb;   /* tree VmRSS at t0 */
	char figures[1024]; /* the deciding figures, appended by the case */
};

/* Start the server (o may be NULL) and take the idle measurements. */
void run_start(struct run *r, const struct target *t, const struct server_opts *o);
/* Append "; "-separated text to the figures of the result line. */
void run_figure(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The server must be alive; then CPU% and peak RSS growth are added to the figures, the server
 * is stopped with SIGTERM (exit 0 within 5 s) and the PASS line printed. */
void run_finish(struct run *r, const char *case_name, const struct target *t);
/* Server CPU since `ticks0` at `t0_ms`, in percent of one core. */
double cpu_pct_since(pid_t pid, long long ticks0, int64_t t0_ms);
/* Peak RSS growth of the server tree over its idle RSS, kB. */
long peak_rss_growth_kb(const struct run *r);

/* A normal client: one connection, 64 KiB echoed and verified byte for byte within 10 s. */
void normal_client(const struct server *s, uint32_t id, const char *when);
/* Bytes the server has read but not written back, all connections together (a snapshot's
 * bytes_in - bytes_out): output it holds, plus what it read from clients that left unechoed. */
int64_t server_held(struct server *s);
/* Wait up to timeout_ms for the server tree's open fd count to come back to `want`; returns the
 * last count seen. */
int wait_fds(const struct server *s, int want, int timeout_ms);

/* The case's premise cannot hold for this server: exit 77 with the reason (shown as n/a). */
#define NA(...) check_skip(__VA_ARGS__)

/* The loadgen as a child (loadgen_child.c): argv is --port, --connections CONNS, --json PATH,
 * then MORE (NULL-terminated); stderr to /dev/null. Killed with the server if the case fails. */
pid_t loadgen_start(uint16_t port, const char *conns, const char *const *more,
		    const char *json_path);
/* Wait for it to exit (fails after timeout_ms); returns the wait status. */
int loadgen_reap(pid_t pid, int timeout_ms);
/* What this machine does now: 1-byte echoes per second in a closed loop over `conns`
 * connections to port for 1 s (the loadgen, after 300 ms of warm-up); dir takes its JSON. A case
 * whose load must not depend on the machine's speed (machines of one kind differ several-fold) takes
 * a fixed fraction of this instead of an absolute rate. */
double echo_capacity(uint16_t port, const char *dir, int conns);
/* A whole small file, NUL-terminated (malloc'd); an integer and a latency_us percentile of the
 * loadgen's JSON. */
char *slurp(const char *path);
uint64_t json_u64(const char *doc, const char *key);
double json_latency_us(const char *doc, const char *pct);

/* The cases (case_table.h), one file per group: cases_memory.c (never_read), cases_fds.c (emfile,
 * emfile_churn, storm), cases_trickle.c, cases_io.c (odd_sizes), cases_peers.c (frozen),
 * cases_signals.c (usr1_storm, sigterm, sigpipe), cases_slow.c (slowloris), cases_crowd.c,
 * cases_limits.c. */
#define CASE SUITE_DECLARE
#include "case_table.h"
#undef CASE

#endif
