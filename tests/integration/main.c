/* main.c - echo_test: run one integration case against one echo server.
 *
 *   echo_test CASE SERVERNAME SERVER_EXE [-- SERVER_ARGS...]
 *   echo_test all SERVERNAME SERVER_EXE [-- SERVER_ARGS...]   every case that applies, in turn
 *   echo_test --list                                          the case table
 *
 * SERVERNAME is the server's name in the top-level meson server_table (it selects the cases and
 * per-server expectations, e.g. "select" or "blocking-iterative"); SERVER_ARGS are that entry's
 * extra arguments (e.g. --iterative). Exit 0 pass, 1 fail, 77 skip (case does not apply).
 *
 * The test itself ignores SIGPIPE (a server closing on us must show up as EPIPE, not kill the
 * test) and arms alarm() with the case's time limit as a last resort: the watchdog kills the
 * server and fails, so a test never hangs even if a deadline was missed somewhere.
 */
#include "cases.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(void)
{
	fprintf(stderr, "usage: echo_test CASE|all SERVERNAME SERVER_EXE [-- SERVER_ARGS...]\n"
			"       echo_test --list\n");
	return 2;
}

static void run_case(const struct test_case *c, const struct target *t)
{
	printf("# case %s, server %s (%s)\n", c->name, t->name, t->exe);
	fflush(stdout);
	alarm((unsigned)c->timeout_s);
	int64_t t0 = now_ms();
	c->fn(t);
	alarm(0);
	printf("PASS %s/%s in %lld ms\n", c->name, t->name, (long long)(now_ms() - t0));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n_test_cases; i++)
			printf("%-18s %4ds %-8s %s\n", test_cases[i].name, test_cases[i].timeout_s,
			       test_cases[i].parallel ? "parallel" : "alone",
			       test_cases[i].servers);
		return 0;
	}
	struct target t;
	if (!target_from_argv(argc, argv, &t))
		return usage();

	check_watchdog_install();

	if (strcmp(argv[1], "all") == 0) {
		for (size_t i = 0; i < n_test_cases; i++) {
			if (case_applies(&test_cases[i], t.name))
				run_case(&test_cases[i], &t);
			else
				printf("# skip %s: does not apply to %s\n", test_cases[i].name,
				       t.name);
		}
		return 0;
	}
	const struct test_case *c = case_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "echo_test: unknown case \"%s\" (see --list)\n", argv[1]);
		return 2;
	}
	if (!case_applies(c, t.name))
		SKIP("case %s does not apply to server %s", c->name, t.name);
	run_case(c, &t);
	return 0;
}
