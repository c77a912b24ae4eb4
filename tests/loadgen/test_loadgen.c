/* test_loadgen.c - the load generator against real servers, good and deliberately bad.
 *
 *   test_loadgen CASE LOADGEN ECHO_EPOLL BAD_SERVER
 * Cases:
 *   rate      --rate 10k for 2 s against echo-epoll achieves 10,000/s within 2%, and the server's
 *             own request count over the window (its SIGUSR1 snapshots) agrees with the loadgen's
 *   closed    closed loop, 4 KiB requests, --pipeline 4, 2 threads: no errors, bytes in == out
 *   requests  --requests 5000 stops after 5,000 responses (fixed work)
 *   pipeline  at a fixed rate, --pipeline 8 sends each connection 8 requests at once, in one write:
 *             echo-epoll's own counters then show at most a quarter of a read per request (a read takes
 *             the batch), against nearly one with --pipeline 1, every byte checked (a count:
 *             no bound on the rate achieved)
 *   corrupt   a server that flips one byte in a thousand: corruption reported, exit 1
 *   mute      a server that accepts and never reads: every connection's first echo times out,
 *             the loadgen stops at its deadline, reports every active connection starved, exit 1
 *   swap      a server that once echoes two adjacent 16-byte chunks swapped: verify 1, exit 1
 *   dup       a server that once echoes 16 bytes twice: extra 1 (bytes beyond what was sent), exit 1
 *   drop      a server that once leaves 16 bytes out: timeout 1, counted even though --timeout
 *             ends after the window (the loadgen waits for what is in flight), exit 1
 *             In each of these three the one fault is the only error (every other kind 0), and the
 *             same run against the same server with the fault off (bad_server --echo) reports none.
 *   start_at  --start-at an instant 2 s ahead on CLOCK_REALTIME: the warm-up starts no sooner
 *             (the JSON's window.warmup_realtime_ns) and the window no sooner than that plus
 *             --warmup; an instant already past: one line naming --start-at, exit 1, no JSON
 *   refused   nothing listening: a one-line message naming the cause, exit 1
 *   badopts   M > N, size 0, missing port, --rate abc, a newline in --host, a pid beyond
 *             pid_t: one line on stderr, exit 2
 * The harness (tests/integration/harness.c) starts and stops the servers; this file runs the
 * loadgen as a child with a deadline and reads its JSON.
 */
#include "check.h"
#include "harness.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *loadgen, *echo_epoll, *bad_server;

struct run {
	int status; /* exit status, or -1 if killed at the deadline */
	char *out, *err;
	int64_t ms;
};

/* Run the loadgen with args (NULL-terminated), capturing stdout and stderr, killed at timeout_ms. */
static void run_loadgen(struct run *r, const char *const *args, int timeout_ms)
{
	int out[2], err[2];
	SYS(pipe2(out, O_CLOEXEC));
	SYS(pipe2(err, O_CLOEXEC));
	const char *argv[64] = {loadgen};
	int n = 1;
	for (; args[n - 1] && n < 63; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	int64_t start = now_ms();
	pid_t pid = (pid_t)SYS(fork());
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(loadgen, (char *const *)argv);
		_exit(127);
	}
	check_register_pid(pid);
	close(out[1]);
	close(err[1]);
	int64_t deadline = deadline_in(timeout_ms);
	size_t len;
	r->err = server_drain(err[0], deadline, &len); /* the loadgen writes stdout first, then exits */
	r->out = server_drain(out[0], deadline, &len);
	int st;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (deadline_left(deadline) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			check_unregister_pid(pid);
			FAIL("the loadgen did not finish within %d ms: it hangs", timeout_ms);
		}
		sleep_ms(10);
	}
	check_unregister_pid(pid);
	r->ms = now_ms() - start;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	note("loadgen exit %d after %lld ms; stderr:\n%s", r->status, (long long)r->ms, r->err);
}

/* Where the value after key starts in the loadgen's JSON (a failure if key is not there). */
static const char *json_value(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	if (!p)
		FAIL("the loadgen's JSON has no %s: %s", key, json);
	p += strlen(key);
	while (*p == '"' || *p == ':')
		p++;
	return p;
}

static double json_num(const char *json, const char *key)
{
	return strtod(json_value(json, key), NULL);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void start(struct server *s, const char *exe, const char *name, char **args, int nargs)
{
	struct target t = {.name = name, .exe = exe, .args = args, .nargs = nargs};
	struct server_opts o = {0};
	server_start(s, &t, &o);
}

static void case_rate(void)
{
	struct server s;
	start(&s, echo_epoll, "epoll", NULL, 0);
	char port[16], pid[16];
	snprintf(port, sizeof port, "%u", s.port);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "200", "--active", "50", "--rate", "10k",
					  "--duration", "2s", "--warmup", "0.5s", "--server-pid", pid, NULL},
		    20000);
	ASSERT_EQ(r.status, 0);
	size_t err_at;
	if (!json_valid(r.out, strlen(r.out), &err_at))
		FAIL("the loadgen's output is not one JSON object (at byte %zu): %s", err_at, r.out);
	double achieved = json_num(r.out, "\"achieved_rps\""), requests = json_num(r.out, "\"requests\"");
	ASSERT_GE(achieved, 9800);
	ASSERT_LE(achieved, 10200);
	ASSERT_EQ(json_num(r.out, "\"errors\""), 0);
	ASSERT_EQ(json_num(r.out, "\"offered_rps\""), 10000);
	ASSERT_TRUE(strstr(r.out, "\"loadgen_bound\":false") != NULL);

	/* The server's two snapshots bracket the same window: their request counts must agree. */
	struct stats_lines l;
	stats_read(&s, &l);
	ASSERT_GE(l.n, 2);
	uint64_t server_requests = stats_u64(l.line[l.n - 1], "requests") - stats_u64(l.line[l.n - 2], "requests");
	note("loadgen %.0f responses, server %llu requests in the window", requests,
	     (unsigned long long)server_requests);
	ASSERT_LE(abs((int)(requests - (double)server_requests)), (int)(requests * 0.02));
	stats_free(&l);
	run_free(&r);
	server_stop(&s, 5000);
}

static void case_closed(void)
{
	struct server s;
	start(&s, echo_epoll, "epoll", NULL, 0);
	char port[16];
	snprintf(port, sizeof port, "%u", s.port);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "40", "--active", "20", "--size", "4KiB",
					  "--pipeline", "4", "--threads", "2", "--duration", "1s", "--warmup", "0.2s",
					  "--hist", "/dev/null", NULL},
		    20000);
	ASSERT_EQ(r.status, 0);
	ASSERT_GT(json_num(r.out, "\"requests\""), 100);
	ASSERT_EQ(json_num(r.out, "\"errors\""), 0);
	ASSERT_EQ(json_num(r.out, "\"starved\""), 0);
	ASSERT_TRUE(strstr(r.out, "\"offered_rps\":null") && strstr(r.out, "\"loadgen_bound\":null"));
	ASSERT_GT(json_num(r.out, "\"loadgen_cpu_us_per_req\""), 0);
	double p50 = json_num(r.out, "\"p50\""), p99 = json_num(r.out, "\"p99\""), mx = json_num(r.out, "\"max\"");
	ASSERT_TRUE(p50 > 0 && p50 <= p99 && p99 <= mx);
	/* every byte sent in the window came back: at most the requests in flight at its edges differ */
	double in = json_num(r.out, "\"bytes_in\""), out = json_num(r.out, "\"bytes_out\"");
	ASSERT_LE(abs((int)((in - out) / 4096)), 20 * 4 * 2);
	run_free(&r);
	server_stop(&s, 5000);
}

/* One fixed-rate run against echo-epoll; returns the server's read() calls per request over the
 * window (its SIGUSR1 snapshots at the window's edges). */
static double reads_per_request(const char *pipeline)
{
	struct server s;
	start(&s, echo_epoll, "epoll", NULL, 0);
	char port[16], pid[16];
	snprintf(port, sizeof port, "%u", s.port);
	snprintf(pid, sizeof pid, "%d", (int)s.pid);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "20", "--active", "10", "--rate", "4k",
					  "--pipeline", pipeline, "--duration", "1s", "--warmup", "0.3s",
					  "--server-pid", pid, NULL},
		    20000);
	/* no bound on the rate achieved: the count below is what this case measures, on any machine */
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(json_num(r.out, "\"errors\""), 0);
	struct stats_lines l;
	stats_read(&s, &l);
	ASSERT_GE(l.n, 2);
	/* The server's `requests` counts reads that returned data (a batch is one), so the requests
	 * it served are the bytes it read over the request size. */
	uint64_t req[2], rd[2];
	for (int k = 0; k < 2; k++) {
		const char *line = l.line[l.n - 2 + k];
		req[k] = stats_u64(line, "bytes_in") / 64;
		if (json_get_u64_in(line, "syscalls", "read", &rd[k]) != JSON_OK)
			FAIL("stats line has no syscalls.read: %s", line);
	}
	ASSERT_GT(req[1], req[0]);
	double per = (double)(rd[1] - rd[0]) / (double)(req[1] - req[0]);
	note("--pipeline %s: %llu requests, %.3f reads per request", pipeline,
	     (unsigned long long)(req[1] - req[0]), per);
	stats_free(&l);
	run_free(&r);
	server_stop(&s, 5000);
	return per;
}

static void case_pipeline(void)
{
	double one = reads_per_request("1"), eight = reads_per_request("8");
	ASSERT_GE(one, 0.9);
	ASSERT_LE(eight, 0.25); /* one read per batch of 8 is 0.125 */
}

static void case_requests(void)
{
	struct server s;
	start(&s, echo_epoll, "epoll", NULL, 0);
	char port[16];
	snprintf(port, sizeof port, "%u", s.port);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "10", "--requests", "5000",
					  "--warmup", "0.1s", NULL},
		    30000);
	ASSERT_EQ(r.status, 0);
	double n = json_num(r.out, "\"requests\"");
	ASSERT_GE(n, 5000);
	ASSERT_LE(n, 5000 + 10);
	run_free(&r);
	server_stop(&s, 5000);
}

/* bad_server takes none of the echo servers' options, so it is started here, not by the harness.
 * Its arguments after MODE: arg, then arg2; a NULL ends them (execl stops at the first). */
static pid_t start_bad(const char *mode, const char *arg, const char *arg2, char port[16])
{
	int out[2];
	SYS(pipe2(out, O_CLOEXEC));
	pid_t pid = (pid_t)SYS(fork());
	if (pid == 0) {
		dup2(out[1], 1);
		execl(bad_server, bad_server, mode, arg, arg2, (char *)NULL);
		_exit(127);
	}
	check_register_pid(pid);
	close(out[1]);
	char line[128] = {0};
	struct pollfd p = {.fd = out[0], .events = POLLIN};
	ASSERT_EQ(poll(&p, 1, 5000), 1);
	ASSERT_GT(read(out[0], line, sizeof line - 1), 0);
	close(out[0]);
	char *colon = strrchr(line, ':');
	ASSERT_TRUE(colon != NULL);
	snprintf(port, 16, "%d", atoi(colon + 1));
	return pid;
}

static void stop_bad(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	check_unregister_pid(pid);
}

static void case_corrupt(void)
{
	char port[16];
	pid_t pid = start_bad("--flip", "1000", NULL, port);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "4", "--duration", "1s", "--warmup", "0", NULL},
		    20000);
	ASSERT_EQ(r.status, 1);
	ASSERT_GT(json_num(r.out, "\"verify\""), 0);
	ASSERT_GT(json_num(r.out, "\"errors\""), 0);
	ASSERT_TRUE(strstr(r.err, "verify") != NULL);
	run_free(&r);
	stop_bad(pid);
}

static void case_mute(void)
{
	char port[16];
	pid_t pid = start_bad("--mute", NULL, NULL, port);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "20", "--active", "10", "--duration", "1s",
					  "--warmup", "0.2s", "--timeout", "1s", NULL},
		    10000);
	ASSERT_EQ(r.status, 1);
	/* first echoes given up after --timeout, then warm-up and window: nothing waits longer */
	ASSERT_LE(r.ms, 5000);
	ASSERT_EQ(json_num(r.out, "\"timeout\""), 20);
	ASSERT_EQ(json_num(r.out, "\"starved\""), 10);
	ASSERT_EQ(json_num(r.out, "\"requests\""), 0);
	ASSERT_TRUE(strstr(r.err, "starved active connections: 10") != NULL);
	run_free(&r);
	stop_bad(pid);
}

/* One count from the JSON's errors_by_kind. */
static uint64_t kind_count(const char *json, const char *kind)
{
	uint64_t v;
	if (json_get_u64_in(json, "errors_by_kind", kind, &v) != JSON_OK)
		FAIL("the loadgen's errors_by_kind has no %s: %s", kind, json);
	return v;
}

static uint64_t top_count(const char *json, const char *key)
{
	uint64_t v;
	if (json_get_u64(json, key, &v) != JSON_OK)
		FAIL("the loadgen's JSON has no count %s: %s", key, json);
	return v;
}

static const char *const kinds[] = {"verify", "extra", "timeout", "closed", "io"};

/* Closed loop, one request in flight per connection, so that the struck read holds exactly one
 * 64-byte response (K = 16 fits it twice). --timeout 2s outlasts warm-up and window together: a
 * request still unanswered at the window's end must be waited for, not forgotten. */
static void run_stream(struct run *r, const char *mode, const char *k, const char *at)
{
	char port[16];
	pid_t pid = start_bad(mode, k, at, port);
	run_loadgen(r, (const char *[]){"--port", port, "--connections", "4", "--size", "64", "--duration", "0.5s",
					 "--warmup", "0.2s", "--timeout", "2s", NULL},
		    20000);
	size_t err_at;
	if (!json_valid(r->out, strlen(r->out), &err_at))
		FAIL("the loadgen's output is not one JSON object (at byte %zu): %s", err_at, r->out);
	stop_bad(pid);
}

/* bad_server MODE 16 64: the fault strikes one connection's first read past its first echo (the
 * connect phase's), i.e. its first traffic response. Exactly one fault, so exactly one error, of
 * `kind`; `starved` is what that fault does to its connection (a response that never completes
 * leaves it with none). */
static void stream_fault(const char *mode, const char *kind, uint64_t starved)
{
	struct run r;
	run_stream(&r, "--echo", NULL, NULL); /* the control: same run, no fault, no error */
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(top_count(r.out, "errors"), 0);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		ASSERT_EQ(kind_count(r.out, kinds[i]), 0);
	ASSERT_EQ(top_count(r.out, "starved"), 0);
	ASSERT_GT(top_count(r.out, "requests"), 0);
	run_free(&r);

	run_stream(&r, mode, "16", "64");
	ASSERT_EQ(r.status, 1);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		uint64_t want = strcmp(kinds[i], kind) == 0 ? 1 : 0; /* the one fault, and nothing else */
		ASSERT_EQ(kind_count(r.out, kinds[i]), want);
	}
	ASSERT_EQ(top_count(r.out, "errors"), 1);
	ASSERT_EQ(top_count(r.out, "starved"), starved);
	char said[32];
	snprintf(said, sizeof said, "%s 1", kind); /* the summary names it too */
	ASSERT_TRUE(strstr(r.err, said) != NULL);
	run_free(&r);
}

static void case_swap(void)
{
	stream_fault("--swap", "verify", 0);
}

static void case_dup(void)
{
	stream_fault("--dup", "extra", 0);
}

static void case_drop(void)
{
	stream_fault("--drop", "timeout", 1);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	SYS(clock_gettime(CLOCK_REALTIME, &ts));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The number after key, as an integer: realtime ns need all 19 digits, which a double rounds. */
static uint64_t json_u64(const char *json, const char *key)
{
	return strtoull(json_value(json, key), NULL, 10);
}

static void case_start_at(void)
{
	struct server s;
	start(&s, echo_epoll, "epoll", NULL, 0);
	char port[16], at[32];
	snprintf(port, sizeof port, "%u", s.port);
	/* 2 s ahead: starting the loadgen and opening 10 loopback connections takes milliseconds, so
	 * even a machine 5x slower under a busy host is not late; being late is the second half. */
	uint64_t want = realtime_ns() + 2000000000u;
	snprintf(at, sizeof at, "%llu", (unsigned long long)want);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "10", "--duration", "0.3s", "--warmup",
					  "0.1s", "--start-at", at, NULL},
		    20000);
	ASSERT_EQ(r.status, 0);
	ASSERT_EQ(json_u64(r.out, "\"start_at_ns\""), want);
	uint64_t warm = json_u64(r.out, "\"warmup_realtime_ns\""), t0 = json_u64(r.out, "\"start_realtime_ns\"");
	ASSERT_TRUE(warm >= want);
	ASSERT_TRUE(t0 >= warm + 100000000u);
	ASSERT_GT(json_num(r.out, "\"requests\""), 0);
	run_free(&r);

	snprintf(at, sizeof at, "%llu", (unsigned long long)(realtime_ns() - 1000000000u));
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "10", "--duration", "0.3s", "--start-at", at,
					  NULL},
		    20000);
	ASSERT_EQ(r.status, 1);
	ASSERT_TRUE(strstr(r.err, "--start-at") != NULL);
	ASSERT_EQ(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err)); /* one line */
	ASSERT_EQ(strlen(r.out), 0);
	run_free(&r);
	server_stop(&s, 5000);
}

static void case_refused(void)
{
	/* A port nobody listens on: bind one, note it, close it. */
	char port[16];
	pid_t pid = start_bad("--flip", "1", NULL, port);
	stop_bad(pid);
	struct run r;
	run_loadgen(&r, (const char *[]){"--port", port, "--connections", "5", NULL}, 10000);
	ASSERT_EQ(r.status, 1);
	ASSERT_TRUE(strstr(r.err, "refused") != NULL);
	ASSERT_EQ(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err)); /* one line */
	run_free(&r);
}

static void case_badopts(void)
{
	const char *const cases[][8] = {
		{"--port", "1", "--connections", "10", "--active", "11", NULL},
		{"--port", "1", "--size", "0", NULL},
		{"--connections", "10", NULL},
		{"--port", "1", "--rate", "abc", NULL},
		{"--port", "1", "--bogus", NULL},
		{"--port", "70000", NULL},
		/* Found by review after the servers' fuzzer (issue 9): a newline echoed into the message
		 * made it two lines, and a pid above INT_MAX wrapped (4294967297 = pid 1 as a pid_t). */
		{"--port", "1", "--host", "1.2.3\n4", NULL},
		{"--port", "1", "--server-pid", "4294967297", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct run r;
		run_loadgen(&r, cases[i], 5000);
		ASSERT_EQ(r.status, 2);
		ASSERT_GT(strlen(r.err), 1);
		ASSERT_EQ(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err)); /* exactly one line */
		ASSERT_EQ(strlen(r.out), 0);
		run_free(&r);
	}
	struct run r;
	run_loadgen(&r, (const char *[]){"--help", NULL}, 5000);
	ASSERT_EQ(r.status, 0);
	ASSERT_TRUE(strstr(r.out, "--rate") != NULL);
	run_free(&r);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: test_loadgen CASE LOADGEN ECHO_EPOLL BAD_SERVER\n");
		return 2;
	}
	loadgen = argv[2];
	echo_epoll = argv[3];
	bad_server = argv[4];
	signal(SIGPIPE, SIG_IGN);
	alarm(60); /* the last resort: every wait above has its own deadline */
	const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {{"rate", case_rate},	  {"closed", case_closed}, {"requests", case_requests},
		     {"pipeline", case_pipeline},
		     {"corrupt", case_corrupt}, {"mute", case_mute},	 {"swap", case_swap},
		     {"dup", case_dup},	  {"drop", case_drop},	 {"refused", case_refused},
		     {"start_at", case_start_at},
		     {"badopts", case_badopts}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].fn();
			printf("%s: ok\n", cases[i].name);
			return 0;
		}
	}
	fprintf(stderr, "test_loadgen: unknown case '%s'\n", argv[1]);
	return 2;
}
