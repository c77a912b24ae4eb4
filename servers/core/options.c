/* options.c - getopt_long driven by one table (options.h); errors are one line and exit 2. */
#include "options.h"

#include "units.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTIONS 32

static void usage(const struct server_config *cfg, const struct server_option *const *opts, int n)
{
	printf("usage: echo-%s [options]\n\nAn echo server: every byte a client sends comes back, in order.\n"
	       "Prints 'listening on ADDR:PORT' when ready; SIGUSR1 appends a stats line, SIGTERM or\n"
	       "SIGINT writes the final one and exits 0.\n\noptions:\n", cfg->name);
	for (int i = 0; i < n; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", opts[i]->name, opts[i]->arg ? " " : "",
			 opts[i]->arg ? opts[i]->arg : "");
		printf("  %-24s %s\n", left, opts[i]->help);
	}
	printf("\nNumbers take units: 16KiB, 64k, 1M.\n");
}

static _Noreturn void bad(const struct server_config *cfg, const char *what, const char *detail)
{
	fprintf(stderr, "echo-%s: %s%s (see --help)\n", cfg->name, what, detail);
	exit(2);
}

static void set_value(const struct server_config *cfg, const struct server_option *o, const char *val)
{
	char what[96];
	uint64_t v;
	snprintf(what, sizeof what, "--%s '%s'", o->name, val);
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->target = true;
		return;
	case OPT_STRING:
		if (!*val)
			bad(cfg, what, ": must not be empty");
		*(const char **)o->target = val;
		return;
	case OPT_COUNT:
	case OPT_SIZE:
	case OPT_DURATION: {
		static const struct {
			enum unit_kind kind;
			const char *error;
		} kinds[] = {
			[OPT_COUNT] = {UNIT_COUNT, ": not a number"},
			[OPT_SIZE] = {UNIT_SIZE, ": not a size (e.g. 16KiB)"},
			[OPT_DURATION] = {UNIT_DURATION, ": not a duration (e.g. 50us)"},
		};
		if (!parse_units(val, kinds[o->type].kind, &v))
			bad(cfg, what, kinds[o->type].error);
		if (v < o->min || v > o->max) {
			char range[64];
			snprintf(range, sizeof range, ": out of range %llu..%llu", (unsigned long long)o->min,
				 (unsigned long long)o->max);
			bad(cfg, what, range);
		}
		*(uint64_t *)o->target = v;
		return;
	}
	}
}

void options_parse(struct server_config *cfg, int argc, char **argv, const struct server_option *extra)
{
	bool help = false;
	cfg->bind = "127.0.0.1";
	cfg->stats_path = NULL;
	cfg->port = 0;
	cfg->buffer = 16384;
	cfg->max_conns = 0;

	const struct server_option common[] = {
		{"port", OPT_COUNT, &cfg->port, 0, 65535, "N", "TCP port; 0 picks a free one (default 0)"},
		{"bind", OPT_STRING, &cfg->bind, 0, 0, "ADDR", "address to listen on (default 127.0.0.1)"},
		{"stats", OPT_STRING, &cfg->stats_path, 0, 0, "FILE", "append stats lines (JSON) to FILE"},
		{"buffer", OPT_SIZE, &cfg->buffer, 1, 1u << 30, "BYTES",
		 "per-connection buffer and cap on pending output (16KiB)"},
		{"max-conns", OPT_COUNT, &cfg->max_conns, 0, UINT32_MAX, "N",
		 "close connections beyond N at once (0: no limit)"},
		{"help", OPT_FLAG, &help, 0, 0, NULL, "show this help"},
	};

	const struct server_option *opts[MAX_OPTIONS];
	struct option longopts[MAX_OPTIONS + 1];
	int n = 0;
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		opts[n++] = &common[i];
	for (const struct server_option *o = extra; o && o->name && n < MAX_OPTIONS; o++)
		opts[n++] = o;
	for (int i = 0; i < n; i++)
		longopts[i] = (struct option){opts[i]->name,
					      opts[i]->type == OPT_FLAG ? no_argument : required_argument,
					      NULL, i};
	longopts[n] = (struct option){0};

	opterr = 0; /* getopt's own messages take two lines; ours take one */
	int idx;
	while ((idx = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (idx == '?')
			bad(cfg, "unknown option ", argv[optind - 1]);
		if (idx == ':')
			bad(cfg, argv[optind - 1], " needs a value");
		set_value(cfg, opts[idx], optarg);
	}
	if (optind < argc)
		bad(cfg, "unexpected argument ", argv[optind]);
	if (help) {
		usage(cfg, opts, n);
		exit(0);
	}
}
