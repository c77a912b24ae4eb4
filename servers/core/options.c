/* options.c - the servers' option table (options.h) on top of lib's parser (opts.h).
 *
 * The common options come first, then the server's own: one table, so that --help lists them in
 * that order and a server's option cannot shadow a common one unnoticed (getopt takes the first).
 * options_try_parse returns its error instead of exiting, for the unit tests and the fuzzer
 * (tests/fuzz/fuzz_options.c); options_parse is the servers' wrapper that prints and exits. */
#include "options.h"

#include <stdio.h>
#include <string.h>

enum { MAX_OPTIONS = 32 };

/* The whole table, common options first, and the program's name for messages ("echo-epoll"). */
struct table {
	struct opt opts[MAX_OPTIONS + 1];
	char name[64];
};

static void table_init(struct table *t, struct server_config *cfg, const struct server_option *extra)
{
	const struct opt common[] = {
		{"port", OPT_COUNT, &cfg->port, 0, 65535, "N", "TCP port; 0 picks a free one (default 0)"},
		{"bind", OPT_STRING, &cfg->bind, 0, 0, "ADDR", "address to listen on (default 127.0.0.1)"},
		{"stats", OPT_STRING, &cfg->stats_path, 0, 0, "FILE", "append stats lines (JSON) to FILE"},
		{"buffer", OPT_SIZE, &cfg->buffer, 1, 1u << 30, "BYTES",
		 "per-connection buffer and cap on pending output (16KiB)"},
		{"max-conns", OPT_COUNT, &cfg->max_conns, 0, UINT32_MAX, "N",
		 "close connections beyond N at once (0: no limit)"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "show this help"},
	};
	size_t n = 0;
	for (; n < sizeof common / sizeof common[0]; n++)
		t->opts[n] = common[n];
	for (const struct server_option *o = extra; o && o->name && n < MAX_OPTIONS; o++)
		t->opts[n++] = *o;
	t->opts[n] = (struct opt){0};
	snprintf(t->name, sizeof t->name, "echo-%s", cfg->name);

	/* The defaults: what is not on the command line. */
	cfg->bind = "127.0.0.1";
	cfg->stats_path = NULL;
	cfg->port = 0;
	cfg->buffer = 16384;
	cfg->max_conns = 0;
}

enum options_result options_try_parse(struct server_config *cfg, int argc, char **argv,
				      const struct server_option *extra, char *err, size_t errlen)
{
	struct table t;
	table_init(&t, cfg, extra);
	return (enum options_result)opts_try_parse(t.name, t.opts, argc, argv, err, errlen);
}

void options_parse(struct server_config *cfg, int argc, char **argv, const struct server_option *extra)
{
	struct table t;
	table_init(&t, cfg, extra);
	char before[512];
	snprintf(before, sizeof before,
		 "usage: %s [options]\n\nAn echo server: every byte a client sends comes back, in order.\n"
		 "Prints 'listening on ADDR:PORT' when ready; SIGUSR1 appends a stats line, SIGTERM or\n"
		 "SIGINT writes the final one and exits 0.\n\noptions:\n", t.name);
	const struct opts_program prog = {t.name, before, "\nNumbers take units: 16KiB, 64k, 1M.\n", 24};
	opts_parse(&prog, t.opts, argc, argv);
}
