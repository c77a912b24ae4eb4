/* opts.c - getopt_long driven by one table (opts.h): values, ranges, lists, --help, one-line errors.
 *
 * The parser proper returns its message instead of exiting; opts_parse is the thin wrapper that
 * prints it and exits 2. The first mistake wins and parsing stops there, so the message names the
 * argument that is wrong rather than a consequence of it.
 */
#include "opts.h"

#include "units.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long hands back an option's `val`; OPT_BASE keeps every row's clear of the '?' and ':'
 * it returns for mistakes, whatever the table's length. */
enum { OPTS_MAX = 64, OPT_BASE = 256, TOKEN_MAX = 128 };

/* The one copy of the control-character rule (see opts.h): C0 controls and DEL become '?'. */
void opts_message(char *buf, size_t len, const char *name, const char *what, const char *detail)
{
	if (len == 0)
		return;
	snprintf(buf, len, "%s: %s%s (see --help)", name, what, detail);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

void opts_fail(const char *name, const char *what, const char *detail)
{
	char msg[512];
	opts_message(msg, sizeof msg, name, what, detail);
	fprintf(stderr, "%s\n", msg);
	exit(2);
}

/* A parse in progress: where the message goes, and whose it is. */
struct parse {
	const char *name;
	char *err;
	size_t errlen;
};

static bool bad(const struct parse *p, const char *what, const char *detail)
{
	opts_message(p->err, p->errlen, p->name, what, detail);
	return false;
}

static bool out_of_range(const struct parse *p, const struct opt *o, const char *what, const char *item)
{
	enum unit_kind kind = o->type == OPT_DURATION ? UNIT_DURATION : o->type == OPT_SIZE ? UNIT_SIZE : UNIT_COUNT;
	char lo[32], hi[32], detail[128];
	format_units(o->min, kind, lo, sizeof lo);
	format_units(o->max, kind, hi, sizeof hi);
	if (o->max == UINT64_MAX && o->min == 1)
		snprintf(detail, sizeof detail, ": %s%smust be more than 0", item, *item ? " " : "");
	else if (o->max == UINT64_MAX)
		snprintf(detail, sizeof detail, ": %s%smust be at least %s", item, *item ? " " : "", lo);
	else
		snprintf(detail, sizeof detail, ": %s%sout of range %s..%s", item, *item ? " " : "", lo, hi);
	return bad(p, what, detail);
}

static bool set_number(const struct parse *p, const struct opt *o, const char *what, const char *val)
{
	static const struct {
		enum unit_kind kind;
		const char *error;
	} kinds[] = {
		[OPT_COUNT] = {UNIT_COUNT, ": not a number"},
		[OPT_SIZE] = {UNIT_SIZE, ": not a size (e.g. 16KiB)"},
		[OPT_DURATION] = {UNIT_DURATION, ": not a duration (e.g. 50us)"},
	};
	uint64_t v;
	if (!parse_units(val, kinds[o->type].kind, &v))
		return bad(p, what, kinds[o->type].error);
	if (v < o->min || v > o->max)
		return out_of_range(p, o, what, "");
	*(uint64_t *)o->target = v;
	return true;
}

/* A list item that is not a number, or not one of the words: the message says what would be. */
static bool not_a_list(const struct parse *p, const struct opt *o, const char *what)
{
	if (o->type == OPT_LIST)
		return bad(p, what, ": not a list of numbers");
	const char *const *words = ((const struct opt_words *)o->target)->words;
	char detail[256] = ": not a list of ";
	for (size_t i = 0; words[i]; i++)
		snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s%s", i ? "," : "", words[i]);
	return bad(p, what, detail);
}

/* One item of a list, s[0..len): a number within the range, or the index of one of the words. */
static bool list_item(const struct parse *p, const struct opt *o, const char *what, const char *s, size_t len,
		      uint64_t *v)
{
	char tok[TOKEN_MAX];
	if (len >= sizeof tok) /* longer than any number or word */
		return not_a_list(p, o, what);
	memcpy(tok, s, len);
	tok[len] = '\0';
	if (o->type == OPT_WORDS) {
		const char *const *words = ((const struct opt_words *)o->target)->words;
		for (*v = 0; words[*v]; ++*v)
			if (strcmp(words[*v], tok) == 0)
				return true;
		return not_a_list(p, o, what);
	}
	if (!parse_units(tok, UNIT_COUNT, v))
		return not_a_list(p, o, what);
	if (*v < o->min || *v > o->max) {
		char item[32];
		format_units(*v, UNIT_COUNT, item, sizeof item);
		return out_of_range(p, o, what, item);
	}
	return true;
}

/* "10,100,1k" or "poll,epoll", comma-separated; empty items are skipped ("1,,2"), as strtok
 * would, so that a trailing comma in a script is harmless. */
static bool set_list(const struct parse *p, const struct opt *o, const char *what, const char *val)
{
	struct opt_list l = {.n = 0};
	for (const char *s = val; *s;) {
		size_t len = strcspn(s, ",");
		if (len > 0) {
			if (l.n == OPT_LIST_MAX) {
				char detail[48];
				snprintf(detail, sizeof detail, ": more than %d values", OPT_LIST_MAX);
				return bad(p, what, detail);
			}
			if (!list_item(p, o, what, s, len, &l.v[l.n]))
				return false;
			l.n++;
		}
		s += len;
		s += *s == ',';
	}
	if (l.n == 0)
		return bad(p, what, ": empty list");
	if (o->type == OPT_WORDS)
		((struct opt_words *)o->target)->chosen = l;
	else
		*(struct opt_list *)o->target = l;
	return true;
}

static bool set_value(const struct parse *p, const struct opt *o, const char *val, bool *help)
{
	char what[256];
	snprintf(what, sizeof what, "--%s '%s'", o->name, val ? val : "");
	switch (o->type) {
	case OPT_FLAG:
		*(bool *)o->target = true;
		return true;
	case OPT_HELP:
		*help = true;
		return true;
	case OPT_SET:
		((struct opt_words *)o->target)->chosen = (struct opt_list){.v = {o->min}, .n = 1};
		return true;
	case OPT_STRING:
		if (!*val)
			return bad(p, what, ": must not be empty");
		*(const char **)o->target = val;
		return true;
	case OPT_COUNT:
	case OPT_SIZE:
	case OPT_DURATION:
		return set_number(p, o, what, val);
	case OPT_LIST:
	case OPT_WORDS:
		return set_list(p, o, what, val);
	}
	return bad(p, what, ": unknown option type"); /* a table that is not one of the above */
}

static bool takes_value(enum opt_type t)
{
	return t != OPT_FLAG && t != OPT_HELP && t != OPT_SET;
}

enum opts_result opts_try_parse(const char *name, const struct opt *table, int argc, char **argv, char *err,
				size_t errlen)
{
	struct parse p = {name, err, errlen};
	struct option longopts[OPTS_MAX + 1];
	int n = 0;
	for (; table[n].name; n++) {
		if (n == OPTS_MAX)
			return bad(&p, "more options in the table than opts.c's OPTS_MAX", ""), OPTS_ERROR;
		longopts[n] = (struct option){table[n].name, takes_value(table[n].type) ? required_argument : no_argument,
					      NULL, OPT_BASE + n};
	}
	longopts[n] = (struct option){0};
	if (errlen)
		err[0] = '\0';

	bool help = false;
	opterr = 0; /* getopt's own messages take two lines; ours take one */
	optind = 0; /* 0, not 1: glibc's full reset, so that a second parse (tests, fuzzing) starts clean */
	int val;
	while ((val = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (val == ':')
			return bad(&p, argv[optind - 1], " needs a value"), OPTS_ERROR;
		if (val < OPT_BASE || val >= OPT_BASE + n) /* '?': unknown, or a value given to a flag */
			return bad(&p, "unknown option ", argv[optind - 1]), OPTS_ERROR;
		if (!set_value(&p, &table[val - OPT_BASE], optarg, &help))
			return OPTS_ERROR;
	}
	if (optind < argc)
		return bad(&p, "unexpected argument ", argv[optind]), OPTS_ERROR;
	return help ? OPTS_HELP : OPTS_OK;
}

void opts_print_help(FILE *f, const struct opts_program *prog, const struct opt *table)
{
	fputs(prog->before, f);
	for (const struct opt *o = table; o->name; o++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-*s %s\n", prog->width, left, o->help);
	}
	fputs(prog->after, f);
}

void opts_parse(const struct opts_program *prog, const struct opt *table, int argc, char **argv)
{
	char err[512];
	switch (opts_try_parse(prog->name, table, argc, argv, err, sizeof err)) {
	case OPTS_OK:
		return;
	case OPTS_HELP:
		opts_print_help(stdout, prog, table);
		exit(0);
	case OPTS_ERROR:
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
}
