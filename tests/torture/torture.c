/* torture.c - `torture CASE SERVERNAME SERVER_EXE [-- ARGS]`: one fault case against one server,
 * and what every case shares (start with the idle measurements, figures, finish, normal client).
 *
 *   torture --list        the cases (case_table.h): name, limit, parallel, applies, what (tabs)
 *
 * Prints one result line and exits 0 (PASS ...), 1 (FAIL file:line: why, on stderr) or 77
 * ("SKIP: why": the case's premise cannot hold for this server; the driver shows it as n/a).
 * tests/torture/run runs every case against every row of the table of servers. The driver, its
 * watchdog and its command line are tests/integration/suite.h's, the same as echo_test's.
 */
#include "torture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct test_case cases[] = {
#define CASE SUITE_ENTRY
#include "case_table.h"
#undef CASE
};

void run_start(struct run *r, const struct target *t, const struct server_opts *o)
{
	memset(r, 0, sizeof *r);
	server_start(&r->s, t, o);
	/* The idle fd count is what "no fd leak" compares against, so it must be the steady one: a
	 * first snapshot makes the server open its stats file (some keep it open from then on), and
	 * a --workers server's processes settle (pipes to the supervisor closed) just after the
	 * ready line. Steady = the same count over 200 ms. */
	free(server_snapshot(&r->s));
	int64_t deadline = deadline_in(3000);
	int prev = -1, same = 0;
	while (same < 4 && deadline_left(deadline) > 0) {
		int n = proc_tree_count_fds(r->s.pid);
		same = n == prev ? same + 1 : 0;
		prev = n;
		sleep_ms(50);
	}
	r->idle_fds = prev;
	r->idle_rss_kb = proc_tree_status_kb(r->s.pid, "VmRSS");
	r->cpu0 = proc_tree_cpu_ticks(r->s.pid);
	r->t0 = now_ms();
}

void run_figure(struct run *r, const char *fmt, ...)
{
	size_t n = strlen(r->figures);
	if (n > 0 && n + 2 < sizeof r->figures) {
		memcpy(r->figures + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->figures + n, sizeof r->figures - n, fmt, ap);
	va_end(ap);
}

double cpu_pct_since(pid_t pid, long long ticks0, int64_t t0_ms)
{
	long tck = sysconf(_SC_CLK_TCK);
	if (tck <= 0)
		FAIL("sysconf(_SC_CLK_TCK) = %ld", tck);
	long long ticks = proc_tree_cpu_ticks(pid) - ticks0;
	int64_t ms = now_ms() - t0_ms;
	return ms > 0 ? (double)ticks * 1000.0 / (double)tck * 100.0 / (double)ms : 0.0;
}

long peak_rss_growth_kb(const struct run *r)
{
	return proc_tree_status_kb(r->s.pid, "VmHWM") - r->idle_rss_kb;
}

int64_t server_held(struct server *s)
{
	char *snap = server_snapshot(s);
	int64_t v = (int64_t)(stats_u64(snap, "bytes_in") - stats_u64(snap, "bytes_out"));
	free(snap);
	return v;
}

void run_finish(struct run *r, const char *case_name, const struct target *t)
{
	server_assert_alive(&r->s, "during the case");
	double cpu = cpu_pct_since(r->s.pid, r->cpu0, r->t0);
	long rss = peak_rss_growth_kb(r);
	server_stop(&r->s, 5000);
	printf("PASS %s/%s %s; cpu %.0f%%; peak rss %+.1f MiB; alive\n", case_name, t->name,
	       r->figures, cpu, (double)rss / 1024.0);
	fflush(stdout);
}

void normal_client(const struct server *s, uint32_t id, const char *when)
{
	note("normal client %s", when);
	struct conn c;
	conn_open(&c, s->port, id, deadline_in(10000));
	echo_round(&c, 1, 64 * KiB, 0, deadline_in(10000));
	conn_close(&c);
}

int wait_fds(const struct server *s, int want, int timeout_ms)
{
	int64_t deadline = deadline_in(timeout_ms);
	for (;;) {
		int n = proc_tree_count_fds(s->pid);
		if (n == want || deadline_left(deadline) == 0)
			return n;
		sleep_ms(20);
	}
}

int main(int argc, char **argv)
{
	/* The storm and fd cases hold thousands of sockets at once. */
	raise_nofile();
	const struct suite s = {"torture", cases, sizeof cases / sizeof cases[0], false};
	return suite_main(&s, argc, argv);
}
