/* test_opts.c - lib's option parser (lib/opts.h) on its own, through opts_try_parse.
 *
 * test_options.c covers the servers' table on top of it; this covers what only the loadgen and
 * waitcost use (lists, words, an OPT_SET flag, ranges open at the top, --help from the table) and
 * the promises every program rests on: the message for each kind of mistake is one line that
 * names the argument, control characters in it are shown as '?', and a second parse starts clean.
 */
#include "check.h"
#include "opts.h"

#include <string.h>

static const char *const colours[] = {"red", "green", "blue", NULL};

struct values {
	bool flag;
	const char *str;
	uint64_t count, size, wait, forever;
	struct opt_list list;
	struct opt_words words;
};

static enum opts_result parse(struct values *v, char *err, size_t len, char **argv)
{
	*v = (struct values){.count = 7, .words = {colours, {{0}, 1}}};
	const struct opt table[] = {
		{"flag", OPT_FLAG, &v->flag, 0, 0, NULL, "a flag"},
		{"str", OPT_STRING, &v->str, 0, 0, "S", "a string"},
		{"count", OPT_COUNT, &v->count, 1, 100, "N", "a count 1..100"},
		{"size", OPT_SIZE, &v->size, 1, 1u << 20, "BYTES", "a size up to 1MiB"},
		{"wait", OPT_DURATION, &v->wait, 100000, 10000000000ull, "T", "a duration 100us..10s"},
		{"forever", OPT_DURATION, &v->forever, 1, UINT64_MAX, "T", "more than 0, no top"},
		{"list", OPT_LIST, &v->list, 1, 1000, "LIST", "counts 1..1000"},
		{"colours", OPT_WORDS, &v->words, 0, 0, "LIST", "red,green,blue"},
		{"blue", OPT_SET, &v->words, 2, 2, NULL, "--colours blue"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "show this help"},
		{0},
	};
	int argc = 0;
	while (argv[argc])
		argc++;
	return opts_try_parse("prog", table, argc, argv, err, len);
}

/* argv must fail with exactly want. */
static void fails(char **argv, const char *want)
{
	struct values v;
	char err[256];
	ASSERT_EQ(parse(&v, err, sizeof err, argv), OPTS_ERROR);
	if (strcmp(err, want) != 0) {
		FAIL("got '%s', want '%s'", err, want);
	}
}

int main(void)
{
	struct values v;
	char err[256];

	char *good[] = {"prog", "--flag", "--str", "x", "--count=100", "--size", "64KiB", "--wait", "250ms",
			"--list", "1,,1k,5", "--colours", "blue,red,blue", NULL};
	ASSERT_EQ(parse(&v, err, sizeof err, good), OPTS_OK);
	ASSERT_EQ(err[0], '\0');
	ASSERT_TRUE(v.flag && strcmp(v.str, "x") == 0);
	ASSERT_EQ(v.count, 100);
	ASSERT_EQ(v.size, 65536);
	ASSERT_EQ(v.wait, 250000000);
	ASSERT_EQ(v.list.n, 3); /* the empty item is skipped, as strtok would */
	ASSERT_EQ(v.list.v[0], 1);
	ASSERT_EQ(v.list.v[1], 1000);
	ASSERT_EQ(v.list.v[2], 5);
	ASSERT_EQ(v.words.chosen.n, 3); /* in the order given, repeats kept */
	ASSERT_EQ(v.words.chosen.v[0], 2);
	ASSERT_EQ(v.words.chosen.v[1], 0);
	ASSERT_EQ(v.words.chosen.v[2], 2);

	/* Defaults stay where nothing is given; OPT_SET and OPT_WORDS: the last one wins. */
	char *set_last[] = {"prog", "--colours", "red,green", "--blue", NULL};
	ASSERT_EQ(parse(&v, err, sizeof err, set_last), OPTS_OK);
	ASSERT_EQ(v.count, 7);
	ASSERT_EQ(v.words.chosen.n, 1);
	ASSERT_EQ(v.words.chosen.v[0], 2);
	char *words_last[] = {"prog", "--blue", "--colours", "green", NULL};
	ASSERT_EQ(parse(&v, err, sizeof err, words_last), OPTS_OK);
	ASSERT_EQ(v.words.chosen.v[0], 1);

	/* Each kind of mistake, in the words the user reads. Ranges show the units typed. */
	fails((char *[]){"prog", "--count", "0", NULL}, "prog: --count '0': out of range 1..100 (see --help)");
	fails((char *[]){"prog", "--count", "x", NULL}, "prog: --count 'x': not a number (see --help)");
	fails((char *[]){"prog", "--size", "2MiB", NULL}, "prog: --size '2MiB': out of range 1..1MiB (see --help)");
	fails((char *[]){"prog", "--size", "1.5", NULL},
	      "prog: --size '1.5': not a size (e.g. 16KiB) (see --help)");
	fails((char *[]){"prog", "--wait", "1ns", NULL},
	      "prog: --wait '1ns': out of range 100us..10s (see --help)");
	fails((char *[]){"prog", "--forever", "0", NULL},
	      "prog: --forever '0': must be more than 0 (see --help)");
	fails((char *[]){"prog", "--str=", NULL}, "prog: --str '': must not be empty (see --help)");
	fails((char *[]){"prog", "--list", "1,0", NULL}, "prog: --list '1,0': 0 out of range 1..1000 (see --help)");
	fails((char *[]){"prog", "--list", "1,x", NULL}, "prog: --list '1,x': not a list of numbers (see --help)");
	fails((char *[]){"prog", "--list", ",", NULL}, "prog: --list ',': empty list (see --help)");
	fails((char *[]){"prog", "--list", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", NULL},
	      "prog: --list '1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1': more than 16 values (see --help)");
	fails((char *[]){"prog", "--colours", "red,pink", NULL},
	      "prog: --colours 'red,pink': not a list of red,green,blue (see --help)");
	fails((char *[]){"prog", "--count", NULL}, "prog: --count needs a value (see --help)");
	fails((char *[]){"prog", "--bogus", NULL}, "prog: unknown option --bogus (see --help)");
	fails((char *[]){"prog", "--flag=1", NULL}, "prog: unknown option --flag=1 (see --help)");
	fails((char *[]){"prog", "-x", NULL}, "prog: unknown option -x (see --help)");
	fails((char *[]){"prog", "extra", NULL}, "prog: unexpected argument extra (see --help)");
	/* One line, always: a newline or DEL in an argument is shown as '?'. */
	fails((char *[]){"prog", "--str", "a\nb", "--list", "1\n2\x7f", NULL},
	      "prog: --list '1?2?': not a list of numbers (see --help)");
	fails((char *[]){"prog", "--x\ry", NULL}, "prog: unknown option --x?y (see --help)");
	/* A token longer than any number is refused, not cut to fit. */
	char long_list[200], long_err[512];
	memset(long_list, '0', sizeof long_list - 2);
	long_list[sizeof long_list - 2] = '1';
	long_list[sizeof long_list - 1] = '\0';
	ASSERT_EQ(parse(&v, long_err, sizeof long_err, (char *[]){"prog", "--list", long_list, NULL}), OPTS_ERROR);
	ASSERT_TRUE(strstr(long_err, "1': not a list of numbers (see --help)") != NULL);
	/* A message longer than the buffer is cut, never overrun. */
	char small[16];
	ASSERT_EQ(parse(&v, small, sizeof small, (char *[]){"prog", "--bogus", NULL}), OPTS_ERROR);
	ASSERT_TRUE(strcmp(small, "prog: unknown o") == 0);

	/* --help wins only after the whole line parsed: a later mistake is still a mistake. */
	ASSERT_EQ(parse(&v, err, sizeof err, (char *[]){"prog", "--help", NULL}), OPTS_HELP);
	ASSERT_EQ(parse(&v, err, sizeof err, (char *[]){"prog", "--help", "--bogus", NULL}), OPTS_ERROR);

	/* --help is the table: every option, its ARG, its help, in order. */
	const struct opt table[] = {{"alpha", OPT_COUNT, &v.count, 0, 9, "N", "first"},
				    {"beta", OPT_FLAG, &v.flag, 0, 0, NULL, "second"},
				    {0}};
	const struct opts_program prog = {"prog", "usage: prog\n", "end\n", 10};
	char help[256] = "";
	FILE *f = fmemopen(help, sizeof help - 1, "w");
	ASSERT_TRUE(f != NULL);
	opts_print_help(f, &prog, table);
	ASSERT_EQ(fclose(f), 0);
	ASSERT_TRUE(strcmp(help, "usage: prog\n  --alpha N  first\n  --beta     second\nend\n") == 0);

	puts("opts: ok");
	return 0;
}
