/* suite.h - a case table and the driver that runs one of its cases against one server.
 *
 * Shows: both C suites (integration: tests/integration/case_table.h, torture:
 * tests/torture/case_table.h) have one table format and one driver. A table is a header of
 * CASE(name, timeout_s, parallel, "applies to", "what it shows") lines; the suite's cases.h
 * declares the case functions with SUITE_DECLARE and its main.c builds the array with SUITE_ENTRY
 * and calls suite_main(). tests/integration/meson.build reads the integration table too (one
 * test per case and server it applies to), so keep the first line of each CASE, up to the end of
 * its spec, on one line, with no '"' inside the spec.
 *
 * The driver's command line, for meson, tests/torture/run and a person:
 *   PROG CASE|all SERVERNAME SERVER_EXE [-- SERVER_ARGS...]   exit 0 pass, 1 fail, 77 skip
 *   PROG --list      one line per case: name, timeout_s, parallel|alone, applies, what (tabs)
 * SERVERNAME is the server's row in the table of servers (table.h): what the case asks of it
 * comes from there; SERVER_ARGS are the row's extra arguments.
 *
 * Like every test driver here it ignores SIGPIPE (a server closing on us must show up as EPIPE,
 * not kill the test) and arms alarm() with the case's time limit as a last resort: the watchdog
 * kills the server and fails, so a case never hangs even if a deadline was missed somewhere.
 */
#ifndef MUXBENCH_SUITE_H
#define MUXBENCH_SUITE_H

#include "harness.h"

#include <stdbool.h>
#include <stddef.h>

typedef void case_fn(const struct target *t);

struct test_case {
	const char *name;
	case_fn *fn;
	int timeout_s;	     /* the alarm() watchdog; meson's or the driver's bound is longer */
	bool parallel;	     /* may share the machine with other tests */
	const char *applies; /* spec, see spec_applies() in table.h */
	const char *what;
};

#define SUITE_DECLARE(name, timeout_s, parallel, applies, what) case_fn case_##name;
#define SUITE_ENTRY(name, timeout_s, parallel, applies, what) \
	{#name, case_##name, timeout_s, parallel, applies, what},

struct suite {
	const char *prog;
	const struct test_case *cases;
	size_t n;
	/* Print "# case ..." before and "PASS case/server in N ms" after each case (integration);
	 * torture's cases print their own result line with the figures that decided it. */
	bool pass_lines;
};

int suite_main(const struct suite *s, int argc, char **argv);

#endif
