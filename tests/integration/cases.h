/* cases.h - the case table (expanded from case_table.h) and helpers shared by the case files.
 *
 * A case is a function that starts its own server(s) for one target, drives real loopback
 * sockets, and either returns (pass) or fails through check.h (which kills the server).
 */
#ifndef MUXBENCH_CASES_H
#define MUXBENCH_CASES_H

#include "harness.h"

#include <stdbool.h>
#include <stddef.h>

typedef void case_fn(const struct target *t);

struct test_case {
	const char *name;
	case_fn *fn;
	int timeout_s;
	bool parallel;
	const char *servers; /* spec, see case_table.h */
};

extern const struct test_case test_cases[];
extern const size_t n_test_cases;

const struct test_case *case_find(const char *name);
bool case_applies(const struct test_case *c, const char *server);

#define CASE(name, timeout_s, parallel, servers) case_fn case_##name;
#include "case_table.h"
#undef CASE

/* The server is named NAME in the server table. */
bool is_server(const struct target *t, const char *name);
/* blocking-iterative serves one connection at a time: cases sequence their connections for it. */
bool is_iterative(const struct target *t);

#define KiB (1024u)
#define MiB (1024u * 1024u)

#endif
