/* opts.h - one table-driven command-line parser for every muxbench program (servers, loadgen,
 * waitcost), like wrk's single `struct config` filled by getopt_long.
 *
 * A program lists its options once, as a table of struct opt; the parser, the range checks and
 * --help all read that table, so an option cannot be accepted but missing from the help, or
 * documented with a range it does not enforce. Numbers take units (units.h: 10k, 16KiB, 250ms).
 *
 * Every mistake is one line, "PROGRAM: WHAT (see --help)", on stderr and exit status 2, so that a
 * script can tell a typo (2) from a failed run (1, fatal.h). The line echoes the argument, and an
 * argument may hold any byte (a newline typed into it, or a fuzzer's input): control characters
 * are shown as '?', or the promise of one line would break. Options are long only ("--port 80"
 * or "--port=80"); there are no positional arguments.
 */
#ifndef MUXBENCH_OPTS_H
#define MUXBENCH_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opt_type {
	OPT_FLAG,     /* bool *: set to true; takes no value */
	OPT_STRING,   /* const char **: points into argv; must not be empty */
	OPT_COUNT,    /* uint64_t *: "10k", within min..max */
	OPT_SIZE,     /* uint64_t *: bytes, "16KiB", within min..max */
	OPT_DURATION, /* uint64_t *: nanoseconds, "250ms", within min..max */
	OPT_LIST,     /* struct opt_list *: counts "10,100,1k", each within min..max */
	OPT_WORDS,    /* struct opt_words *: "poll,epoll", each one of its words, in the order given */
	OPT_SET,      /* struct opt_words *: a flag that stands for one word of an OPT_WORDS option,
		       * the list {min} ("--unix" for "--sockets unix"); the last of the two wins */
	OPT_HELP,     /* no target: print --help and exit 0 (opts_parse), or OPTS_HELP */
};

/* One row of the table; the table ends with a row of zeros. */
struct opt {
	const char *name; /* without the dashes */
	enum opt_type type;
	void *target;
	uint64_t min, max;	/* numbers and list items: the accepted range, both ends included */
	const char *arg, *help; /* --help shows "--name ARG   help" */
};

/* A list's items, in the order given. Empty items ("1,,2") are skipped; an empty list is a mistake. */
enum { OPT_LIST_MAX = 16 };
struct opt_list {
	uint64_t v[OPT_LIST_MAX];
	unsigned n;
};

/* OPT_WORDS' target: the words it accepts (NULL-terminated), and which were given, as indexes
 * into them. Set `chosen` to the default before parsing. */
struct opt_words {
	const char *const *words;
	struct opt_list chosen;
};

/* What --help prints around the table, and the name every message starts with. */
struct opts_program {
	const char *name;   /* "loadgen", "echo-epoll" */
	const char *before; /* "usage: ...": everything above the options */
	const char *after;  /* below them: units, exit statuses */
	int width;	    /* width of the "--name ARG" column */
};

enum opts_result { OPTS_OK, OPTS_HELP, OPTS_ERROR };

/* Parses argv[1..] into the table's targets (what is not given keeps its value: set defaults
 * first). On OPTS_ERROR, err holds the one-line message (no newline), and the targets may be half
 * set. Never exits or prints, so the unit tests and the fuzzer can call it again and again: it
 * resets getopt each time. GNU getopt may permute argv. */
enum opts_result opts_try_parse(const char *name, const struct opt *table, int argc, char **argv, char *err,
				size_t errlen);

/* opts_try_parse, then: --help printed on stdout and exit 0; a mistake on stderr and exit 2. */
void opts_parse(const struct opts_program *prog, const struct opt *table, int argc, char **argv);

/* --help: prog->before, one line per option, prog->after. */
void opts_print_help(FILE *f, const struct opts_program *prog, const struct opt *table);

/* For the checks a table cannot express (--active <= --connections): the same one-line message,
 * "NAME: WHAT DETAIL (see --help)", printed, then exit 2. */
_Noreturn void opts_fail(const char *name, const char *what, const char *detail);

/* The message itself, into buf (truncated to len), control characters shown as '?'. */
void opts_message(char *buf, size_t len, const char *name, const char *what, const char *detail);

#endif
