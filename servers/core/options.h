/* options.h - the command line every server shares: a table for lib's parser (opts.h).
 *
 * Common: --port, --bind, --stats, --buffer, --max-conns, --help. A server adds its own options
 * (--edge, --iterative, ...) as a second table of the same shape, ended by a row of zeros. Any
 * mistake is one line on stderr and exit status 2 (opts.h says why).
 */
#ifndef MUXBENCH_OPTIONS_H
#define MUXBENCH_OPTIONS_H

#include "counters.h"
#include "opts.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct server_config {
	const char *name;	/* "epoll": the executable is echo-<name> */
	const char *variant;	/* "level", "edge", ...: set by the server after parsing */
	const char *bind;
	const char *stats_path; /* NULL: the final stats line goes to stderr */
	uint64_t port;
	uint64_t buffer;
	uint64_t max_conns;	/* 0: as many as the fd limit allows */
	enum checks_model checks; /* what its stats' "checks" are: set by the server, with its name */
};

/* A server's own option is a row of lib's table: {name, OPT_FLAG/STRING/COUNT/SIZE/DURATION,
 * target, min, max, arg, help}. The servers' older name for it stays, so that no server file
 * has to change with the move to lib/. */
#define server_option opt

/* Fills cfg with defaults, then from argv; extra may be NULL. Exits 0 on --help, 2 on a bad option. */
void options_parse(struct server_config *cfg, int argc, char **argv, const struct server_option *extra);

/* The same parse without exiting: on OPTIONS_ERROR, err holds the one-line message options_parse
 * would print (no newline). Callable repeatedly (it resets getopt); GNU getopt may permute argv. */
enum options_result { OPTIONS_OK = OPTS_OK, OPTIONS_HELP = OPTS_HELP, OPTIONS_ERROR = OPTS_ERROR };
enum options_result options_try_parse(struct server_config *cfg, int argc, char **argv,
				      const struct server_option *extra, char *err, size_t errlen);

#endif
