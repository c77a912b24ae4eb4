/* table.h - what a server can do, read from the one table of servers, and the case tables'
 * "applies to" specs matched against it.
 *
 * Shows: a test never asks which server it runs against, only what that server can do: serve one
 * connection at a time, spin, refuse fds past a limit, run several loops... The answers are the
 * columns of BUILD/servers/servers.tsv (written by servers/meson.build from server_table), plus
 * the test-only traits of BUILD/tests/integration/traits.tsv (same source). Both paths are
 * compiled in by tests/integration/meson.build.
 *
 * Why a file and not more arguments: the driver's command line stays `PROG CASE NAME EXE [-- ARGS]`
 * for meson, tests/torture/run and a person alike, and the row has one source.
 */
#ifndef MUXBENCH_TABLE_H
#define MUXBENCH_TABLE_H

#include <stdbool.h>

struct server_caps {
	bool serial;	   /* serves one connection at a time */
	bool spins;	   /* burns its core by design */
	bool own_counters; /* counters column "in-process": it counts its own syscalls */
	bool sweep;	   /* in make bench's default server list */
	int fd_limit;	   /* 0, or the fd number it cannot watch at or above */
	int loops;	   /* event loops in total (threads x workers) */
	int workers;	   /* worker processes; 0 = one process */
	char needs[32];	   /* a kernel feature it cannot run without, or "-" */
	char checks[16];   /* what its stats' "checks" count: reads, set_fds, nfds, events,
			    * completions, or none (null: it cannot count them) */
	char traits[128];  /* space-separated test-only traits (test hooks, properties) */
};

/* The row NAME of the table; the test fails if the table or the row is missing. */
void table_caps(const char *name, struct server_caps *out);

/* A spec is space-separated tokens applied left to right: "*" selects every server, "WORD" the
 * servers that have WORD, "-WORD" removes those that have it. The words, true if the server has
 * it: serial, spins, fd_limit (> 0), multiloop (loops > 1), workers (> 0), counters (in-process),
 * the needs value (io_uring), and each trait (fail_accept_alloc, multishot_recv).
 * tests/integration/meson.build derives the same words from server_table: keep the two alike. */
bool spec_applies(const char *spec, const struct server_caps *c);

#endif
