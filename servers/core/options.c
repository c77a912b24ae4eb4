/* options.c - getopt_long driven by one table (options.h); errors are one line and exit 2.
 *
 * The parser proper (options_try_parse) returns its error instead of exiting, so that the unit
 * tests and the fuzzer (tests/fuzz/fuzz_options.c) can call it again and again; options_parse is
 * the servers' thin wrapper that prints and exits. */
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

/* An error being built: the first one wins, and parsing stops there. */
struct err {
	char *buf;
	size_t len;
};

/* Arguments are echoed into the message, but a control character in one (a newline typed into
 * an argument, or bytes from a fuzzer) would break the promise of one line: show those as '?'. */
static bool bad(struct err *e, const struct server_config *cfg, const char *what, const char *detail)
{
	if (e->len == 0)
		return false;
	snprintf(e->buf, e->len, "echo-%s: %s%s (see --help)", cfg->name, what, detail);
	for (char *p = e->buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return false;
}

static bool set_value(struct err *e, const struct server_config *cfg, const struct server_option *o,
		      const char *val)
{
	char what[96];
	uint64_t v;
	snprintf(what, sizeof what, "--%s '%s'", o->name, val ? val : "");
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->target = true;
		return true;
	case OPT_STRING:
		if (!*val)
			return bad(e, cfg, what, ": must not be empty");
		*(const char **)o->target = val;
		return true;
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
			return bad(e, cfg, what, kinds[o->type].error);
		if (v < o->min || v > o->max) {
			char range[64];
			snprintf(range, sizeof range, ": out of range %llu..%llu", (unsigned long long)o->min,
				 (unsigned long long)o->max);
			return bad(e, cfg, what, range);
		}
		*(uint64_t *)o->target = v;
		return true;
	}
	}
	return true;
}

/* The whole table, common options first: options_try_parse fills it, and options_parse needs it
 * again to print --help. */
struct table {
	struct server_option common[6];
	const struct server_option *opts[MAX_OPTIONS];
	int n;
	bool help;
};

static void table_init(struct table *t, struct server_config *cfg, const struct server_option *extra)
{
	const struct server_option common[] = {
		{"port", OPT_COUNT, &cfg->port, 0, 65535, "N", "TCP port; 0 picks a free one (default 0)"},
		{"bind", OPT_STRING, &cfg->bind, 0, 0, "ADDR", "address to listen on (default 127.0.0.1)"},
		{"stats", OPT_STRING, &cfg->stats_path, 0, 0, "FILE", "append stats lines (JSON) to FILE"},
		{"buffer", OPT_SIZE, &cfg->buffer, 1, 1u << 30, "BYTES",
		 "per-connection buffer and cap on pending output (16KiB)"},
		{"max-conns", OPT_COUNT, &cfg->max_conns, 0, UINT32_MAX, "N",
		 "close connections beyond N at once (0: no limit)"},
		{"help", OPT_FLAG, &t->help, 0, 0, NULL, "show this help"},
	};
	_Static_assert(sizeof common == sizeof t->common, "struct table holds the common options");
	memcpy(t->common, common, sizeof common);
	t->help = false;
	t->n = 0;
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		t->opts[t->n++] = &t->common[i];
	for (const struct server_option *o = extra; o && o->name && t->n < MAX_OPTIONS; o++)
		t->opts[t->n++] = o;
}

static enum options_result parse_table(struct table *t, struct server_config *cfg, int argc, char **argv,
				       char *err, size_t errlen)
{
	struct err e = {err, errlen};
	struct option longopts[MAX_OPTIONS + 1];
	/* getopt_long returns an option's index here, so every index must stay clear of the '?' and
	 * ':' it returns for errors. */
	_Static_assert(MAX_OPTIONS < ':', "option indexes collide with getopt's error returns");
	for (int i = 0; i < t->n; i++)
		longopts[i] = (struct option){t->opts[i]->name,
					      t->opts[i]->type == OPT_FLAG ? no_argument : required_argument,
					      NULL, i};
	longopts[t->n] = (struct option){0};

	cfg->bind = "127.0.0.1";
	cfg->stats_path = NULL;
	cfg->port = 0;
	cfg->buffer = 16384;
	cfg->max_conns = 0;
	if (errlen)
		err[0] = '\0';

	opterr = 0; /* getopt's own messages take two lines; ours take one */
	optind = 0; /* 0, not 1: glibc's full reset, so that a second parse (tests, fuzzing) starts clean */
	int idx;
	while ((idx = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (idx == '?')
			return bad(&e, cfg, "unknown option ", argv[optind - 1]), OPTIONS_ERROR;
		if (idx == ':')
			return bad(&e, cfg, argv[optind - 1], " needs a value"), OPTIONS_ERROR;
		if (!set_value(&e, cfg, t->opts[idx], optarg))
			return OPTIONS_ERROR;
	}
	if (optind < argc)
		return bad(&e, cfg, "unexpected argument ", argv[optind]), OPTIONS_ERROR;
	return t->help ? OPTIONS_HELP : OPTIONS_OK;
}

enum options_result options_try_parse(struct server_config *cfg, int argc, char **argv,
				      const struct server_option *extra, char *err, size_t errlen)
{
	struct table t;
	table_init(&t, cfg, extra);
	return parse_table(&t, cfg, argc, argv, err, errlen);
}

void options_parse(struct server_config *cfg, int argc, char **argv, const struct server_option *extra)
{
	struct table t;
	char err[256];
	table_init(&t, cfg, extra);
	switch (parse_table(&t, cfg, argc, argv, err, sizeof err)) {
	case OPTIONS_OK:
		return;
	case OPTIONS_HELP:
		usage(cfg, t.opts, t.n);
		exit(0);
	case OPTIONS_ERROR:
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
}
