/* torture.c - `torture CASE SERVERNAME SERVER_EXE [-- ARGS]`: one fault case against one server.
 *
 *   torture --list        the cases: name, time limit, what each shows (tab-separated)
 *
 * Prints one result line and exits 0 (PASS ...), 1 (FAIL file:line: why, on stderr) or 77
 * ("SKIP: why": the case's premise cannot hold for this server; the driver shows it as n/a).
 * tests/torture/run runs every case against every row of the meson server table.
 *
 * Like echo_test, it ignores SIGPIPE (a server that closes on us shows up as EPIPE) and arms
 * alarm() with the case's limit: the watchdog kills the server and fails, so no case hangs.
 */
#include "torture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct torture_case cases[] = {
    {"never_read", torture_never_read, 60,
     "200 clients write until they stall and never read: held <= 200 x cap, RSS < that + 8 MiB"},
    {"emfile", torture_emfile, 60,
     "more clients than RLIMIT_NOFILE 256: CPU < 5% at the limit, refusals counted, recovery"},
    {"emfile_churn", torture_emfile_churn, 60,
     "at RLIMIT_NOFILE 256, every 10 ms for 5 s one in, one out, one in: <= 50 syscalls per "
     "event (no accept spin), each newcomer served or shed and counted, recovery"},
    {"storm", torture_storm, 120,
     "20,000 connect/close x3 (bare, 1 byte, RST): fd count back to idle, no crash"},
    {"trickle", torture_trickle, 90,
     "20 clients stop reading after a partial echo, then send a byte each 10 ms for 5 s: 50 "
     "normal clients unharmed, held <= 20 x cap"},
    {"odd_sizes", torture_odd_sizes, 90,
     "0-byte, 1-byte, 16 MiB single writes, random sizes and pauses: echoed exactly"},
    {"frozen", torture_frozen, 60,
     "a client SIGSTOPped mid-transfer for 2 s: others served meanwhile, its bytes intact"},
    {"usr1_storm", torture_usr1_storm, 40,
     "SIGUSR1 100 times a second under load (10k req/s or a tenth of capacity): no request "
     "lost, every snapshot written"},
    {"sigterm", torture_sigterm, 40, "SIGTERM under full load: exit 0 within 2 s, final line"},
    {"sigpipe", torture_sigpipe, 60,
     "clients reset mid-echo, and one in CLOSE_WAIT while owed output (EPIPE): the server "
     "survives with SIGPIPE at its default"},
    {"crowd", torture_crowd, 120,
     "select past FD_SETSIZE (refused, counted), busypoll with 15,000 idle: no crash"},
    {"slowloris", torture_slowloris, 90,
     "1,000 clients send a byte at a time (20% of capacity at most): 50 normal clients' p99 "
     "within 10x of the same load on a twin server"},
    {"limits", torture_limits, 60,
     "default bind 127.0.0.1; --bind 0.0.0.0 warns; --max-conns 20 vs a burst of 60: refusals "
     "counted"},
};

bool is_server(const struct target *t, const char *name)
{
	return strcmp(t->name, name) == 0;
}

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

static int usage(void)
{
	fprintf(stderr, "usage: torture CASE SERVERNAME SERVER_EXE [-- SERVER_ARGS...]\n"
			"       torture --list\n");
	return 2;
}

int main(int argc, char **argv)
{
	const size_t ncases = sizeof cases / sizeof cases[0];
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < ncases; i++)
			printf("%s\t%d\t%s\n", cases[i].name, cases[i].timeout_s, cases[i].what);
		return 0;
	}
	struct target t;
	if (!target_from_argv(argc, argv, &t))
		return usage();
	const struct torture_case *c = NULL;
	for (size_t i = 0; i < ncases && c == NULL; i++)
		if (strcmp(cases[i].name, argv[1]) == 0)
			c = &cases[i];
	if (c == NULL) {
		fprintf(stderr, "torture: unknown case \"%s\" (see --list)\n", argv[1]);
		return 2;
	}

	check_watchdog_install();
	/* The storm and fd cases hold thousands of sockets at once. */
	raise_nofile();

	alarm((unsigned)c->timeout_s);
	c->fn(&t);
	alarm(0);
	return 0;
}
