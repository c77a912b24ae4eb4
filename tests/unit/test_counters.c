/* test_counters.c - every count lands in the block its scope says, a snapshot sums every block
 * (a loop's frozen copy or its live counts), the stats line keeps its keys in their order, and its
 * readiness fields (checks, walked, scanned) are what each server's checks model says: counted,
 * another count under a second name, or null. */
#include "check.h"
#include "clock.h"
#include "stats.h"
#include "sys.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void test_names(void)
{
	ASSERT_TRUE(strcmp(sys_names[SYS_READ], "read") == 0);
	ASSERT_TRUE(strcmp(sys_names[SYS_PSELECT6], "pselect6") == 0);
	ASSERT_TRUE(strcmp(sys_names[SYS__COUNT - 1], "io_uring_enter") == 0);
	ASSERT_TRUE(strcmp(sys_op_names[OP_CANCEL], "cancel") == 0);
	ASSERT_EQ(SYS__COUNT, 15);
	ASSERT_TRUE(strcmp(sys_op_names[OP__COUNT - 1], "close") == 0);
	ASSERT_EQ(OP__COUNT, 6);
}

static void test_blocks(void)
{
	struct counters_snapshot s;
	ASSERT_EQ(counter_get(&stats.threads), 1); /* the main thread, from the start */
	STAT_ADD(requests, 2);			  /* no blocks yet: the process's own */
	sys_counted(SYS_WRITE);
	ASSERT_EQ(counter_get(&stats.requests), 2);

	const struct counters *c = counters_create(2, 0);
	ASSERT_TRUE(c == counters_get() && c->nloops == 2 && c->nworkers == 0 && !c->workers);
	struct loop_block *b = &c->loops[0];
	counters_attach(b);
	STAT_ADD(requests, 3);
	sys_counted(SYS_READ);
	stats_conn_opened(); /* accepted, conns: the gauges; loop_accepted: this loop's */
	ASSERT_EQ(counter_get(&b->stats.requests), 3);
	ASSERT_EQ(counter_get(&b->sys.calls[SYS_READ]), 1);
	ASSERT_EQ(counter_get(&b->stats.loop_accepted), 1);
	ASSERT_EQ(counter_get(&b->stats.accepted), 0);
	ASSERT_EQ(counter_get(&stats.accepted), 1);
	ASSERT_EQ(STAT_GAUGE(conns), 1);
	ASSERT_EQ(STAT_GAUGE(peak_conns), 1);

	counters_freeze(b);
	STAT_ADD(requests, 10); /* after the loop answered: a snapshot must not see it */
	stats_conn_closed();
	counters_snapshot(&s, true);
	ASSERT_EQ(counter_get(&s.stats.requests), 2 + 3);
	ASSERT_EQ(counter_get(&s.sys.calls[SYS_READ]), 1);
	ASSERT_EQ(counter_get(&s.sys.calls[SYS_WRITE]), 1);
	ASSERT_EQ(s.nloops, 2);
	ASSERT_EQ(s.loops[0].requests, 3);
	ASSERT_EQ(s.loops[0].accepted, 1);
	ASSERT_EQ(s.loops[0].conns, 1);
	/* the frozen loop's thread CPU is this thread's, as of the freeze; the other never froze */
	struct rusage ru;
	ASSERT_EQ(getrusage(RUSAGE_THREAD, &ru), 0);
	ASSERT_LE(s.loops[0].cpu_us, timeval_us(ru.ru_utime) + timeval_us(ru.ru_stime));
	ASSERT_EQ(s.loops[1].cpu_us, 0);
	ASSERT_EQ(s.loops[1].requests, 0);

	counters_snapshot(&s, false); /* the final line: every live count */
	ASSERT_EQ(counter_get(&s.stats.requests), 2 + 3 + 10);
	ASSERT_EQ(s.loops[0].conns, 0);
	ASSERT_EQ(counter_get(&s.stats.closed), 1);
	ASSERT_EQ(counter_get(&s.stats.peak_conns), 1);
	ASSERT_TRUE(s.usage.user_us + s.usage.sys_us > 0 || s.usage.maxrss_kb > 0);
}

/* The keys bench/lib and tests/integration/json.c read, in the line's order. */
static const char *const keys[] = {
	"\"type\":\"snapshot\"", "\"seq\":1,", "\"server\":\"test\"", "\"variant\":\"unit\"", "\"pid\":",
	"\"time_ns\":", "\"counters\":\"in-process\"", "\"syscalls\":{\"total\":", "\"read\":",
	"\"io_uring_enter\":", "\"read_eagain\":", "\"write_eagain\":", "\"uring_ops\":{\"total\":",
	"\"cancel\":", "\"requests\":", "\"bytes_in\":", "\"bytes_out\":", "\"accepted\":",
	"\"closed\":", "\"conns\":", "\"peak_conns\":", "\"loop_passes\":", "\"wakeups\":",
	"\"events\":", "\"checks\":", "\"walked\":", "\"scanned\":", "\"rejected_fd_setsize\":", "\"rejected_max_conns\":", "\"accept_emfile\":",
	"\"accept_errors\":", "\"resets\":", "\"threads\":", "\"no_napi_conns\":", "\"user_us\":", "\"sys_us\":",
	"\"nvcsw\":", "\"nivcsw\":", "\"maxrss_kb\":",
	"\"loops\":[{\"requests\":3,\"accepted\":1,\"conns\":1,\"cpu_us\":", "},{\"requests\":0,",
	"\"cpu_us\":0}", "]}\n"};

static void test_line(void)
{
	char path[] = "/tmp/muxbench-test-counters-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	stats_init("test", "unit", path, true, CHECKS_SET_FDS);
	stats_write("snapshot");
	char line[8192];
	ssize_t n = read(fd, line, sizeof line - 1);
	ASSERT_TRUE(n > 0);
	line[n] = '\0';
	const char *at = line;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *k = strstr(at, keys[i]);
		if (!k) {
			FAIL("key %s missing or out of order in: %s", keys[i], line);
		}
		at = k + strlen(keys[i]);
	}
	ASSERT_TRUE(strstr(line, "loop_accepted") == NULL); /* per-loop only: shown in "loops" */
	ASSERT_TRUE(strchr(line, '\n') == line + n - 1);	  /* one line */
	close(fd);
	unlink(path);
}

/* The value of a top-level "key": in line, or -1 for null (the line's fixed shape, stats.c). */
static long long field(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (!p)
		FAIL("no %s in: %s", pat, line);
	p += strlen(pat);
	if (strncmp(p, "null,", 5) == 0)
		return -1;
	long long v;
	if (sscanf(p, "%lld", &v) != 1)
		FAIL("%s is not a number in: %s", pat, line);
	return v;
}

/* Each model's three fields, from one set of counts: the counted ones as counted, the others the
 * count the model makes them (walked = checks but for select; all three = events for epoll and
 * io_uring), null where the server cannot count them. */
static void test_checks(void)
{
	/* This thread counts into loop block 0 (test_blocks attached it); "final" sums live counts. */
	STAT_ADD(events, 7);
	STAT_ADD(checks, 5);
	STAT_ADD(walked, 11);
	STAT_ADD(scanned, 3);
	char path[] = "/tmp/muxbench-test-checks-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	static const struct {
		enum checks_model model;
		long long checks, walked, scanned; /* -2: the line's events; -1: null */
	} want[] = {
		{CHECKS_NONE, -1, -1, -1},	{CHECKS_READS, 5, 5, 3},      {CHECKS_SET_FDS, 5, 11, 3},
		{CHECKS_NFDS, 5, 5, 3},		{CHECKS_EVENTS, -2, -2, -2}, {CHECKS_COMPLETIONS, -2, -2, -2},
	};
	char line[8192];
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		stats_init("test", "unit", path, true, want[i].model);
		stats_write("final");
		ssize_t n = read(fd, line, sizeof line - 1); /* the one line just appended */
		ASSERT_TRUE(n > 0);
		line[n] = '\0';
		ASSERT_TRUE(strchr(line, '\n') == line + n - 1);
		long long events = field(line, "events");
		ASSERT_EQ(events, 7);
		long long c = want[i].checks == -2 ? events : want[i].checks;
		long long w = want[i].walked == -2 ? events : want[i].walked;
		long long sc = want[i].scanned == -2 ? events : want[i].scanned;
		note("model %d: %.*s", (int)want[i].model, 120, strstr(line, "\"events\":"));
		ASSERT_EQ(field(line, "checks"), c);
		ASSERT_EQ(field(line, "walked"), w);
		ASSERT_EQ(field(line, "scanned"), sc);
	}
	close(fd);
	unlink(path);
}

int main(void)
{
	test_names();
	test_blocks();
	test_line();
	test_checks();
	return 0;
}
