/* test_counters.c - every count lands in the block its scope says, a snapshot sums every block
 * (a loop's frozen copy or its live counts), and the stats line keeps its keys in their order. */
#include "check.h"
#include "stats.h"
#include "sys.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_names(void)
{
	ASSERT_TRUE(strcmp(sys_names[SYS_READ], "read") == 0);
	ASSERT_TRUE(strcmp(sys_names[SYS_PSELECT6], "pselect6") == 0);
	ASSERT_TRUE(strcmp(sys_names[SYS__COUNT - 1], "io_uring_enter") == 0);
	ASSERT_TRUE(strcmp(sys_op_names[OP_CANCEL], "cancel") == 0);
	ASSERT_EQ(SYS__COUNT, 14);
	ASSERT_EQ(OP__COUNT, 5);
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
	"\"events\":", "\"rejected_fd_setsize\":", "\"rejected_max_conns\":", "\"accept_emfile\":",
	"\"accept_errors\":", "\"resets\":", "\"threads\":", "\"user_us\":", "\"sys_us\":",
	"\"nvcsw\":", "\"nivcsw\":", "\"maxrss_kb\":",
	"\"loops\":[{\"requests\":3,\"accepted\":1,\"conns\":1},{\"requests\":0,", "]}\n"};

static void test_line(void)
{
	char path[] = "/tmp/muxbench-test-counters-XXXXXX";
	int fd = mkstemp(path);
	ASSERT_TRUE(fd >= 0);
	stats_init("test", "unit", path, true);
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

int main(void)
{
	test_names();
	test_blocks();
	test_line();
	return 0;
}
