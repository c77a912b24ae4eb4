/* fuzz_opts.c - lib's option parser (lib/opts.c) on arbitrary argv vectors, with the option types
 * the servers' table (fuzz_options.c) does not reach: lists, words and an OPT_SET flag, as the
 * loadgen and waitcost use them.
 *
 * The input, split on NUL bytes, is argv[1..]. Checked on every input:
 *  - success: every list has 1..OPT_LIST_MAX items, each within its range or a valid word index,
 *    and numbers lie within their option's min..max;
 *  - failure: the message is one line of printable text, "fuzz: ... (see --help)" unless cut by
 *    the buffer;
 *  - the same argv parsed twice gives the same result: getopt's hidden state is reset.
 */
#include "fuzz.h"
#include "opts.h"

#include <stdbool.h>
#include <string.h>

enum { MAX_ARGS = 64 };

static const char *const words[] = {"select", "poll", "epoll", "uring", "busy", "epoll_ctl", NULL};
enum { NWORDS = 6 };

struct outcome {
	enum opts_result r;
	uint64_t reps, wait;
	struct opt_list fds;
	struct opt_words mechs, kinds;
	char err[256];
};

static void parse(const char *input, size_t size, struct outcome *o, char *copy)
{
	static const char *const kinds[] = {"tcp", "unix", NULL};
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	memcpy(copy, input, size);
	copy[size] = '\0';
	argv[argc++] = "fuzz";
	for (char *p = copy; p < copy + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	memset(o, 0, sizeof *o);
	*o = (struct outcome){.reps = 11, .wait = 7000000, .fds = {{10, 100}, 2},
			      .mechs = {words, {{0, 1}, 2}}, .kinds = {kinds, {{0}, 1}}};
	const struct opt table[] = {
		{"fds", OPT_LIST, &o->fds, 1, 1000000, "LIST", "a list of counts"},
		{"mechanisms", OPT_WORDS, &o->mechs, 0, 0, "LIST", "a list of words"},
		{"sockets", OPT_WORDS, &o->kinds, 0, 0, "LIST", "another"},
		{"unix", OPT_SET, &o->kinds, 1, 1, NULL, "--sockets unix"},
		{"reps", OPT_COUNT, &o->reps, 1, 1000, "R", "a count"},
		{"rep-time", OPT_DURATION, &o->wait, 100000, 10000000000ull, "T", "a duration"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "help"},
		{0}};
	o->r = opts_try_parse("fuzz", table, argc, argv, o->err, sizeof o->err);
}

static void check_words(const struct opt_words *w, unsigned nwords)
{
	INVARIANT(w->chosen.n >= 1 && w->chosen.n <= OPT_LIST_MAX, "%u words", w->chosen.n);
	for (unsigned i = 0; i < w->chosen.n; i++)
		INVARIANT(w->chosen.v[i] < nwords, "word index %llu", (unsigned long long)w->chosen.v[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome a, b;
	char *copy_a = malloc(size + 1), *copy_b = malloc(size + 1);
	INVARIANT(copy_a && copy_b, "out of memory");
	parse((const char *)data, size, &a, copy_a);
	parse((const char *)data, size, &b, copy_b);

	INVARIANT(a.r == b.r, "%d then %d", a.r, b.r);
	INVARIANT(strcmp(a.err, b.err) == 0, "'%s' then '%s'", a.err, b.err);
	if (a.r == OPTS_ERROR) {
		invariant_one_line_error(a.err, sizeof a.err, "fuzz: ");
	} else {
		INVARIANT(a.err[0] == '\0', "'%s' on success", a.err);
		INVARIANT(a.fds.n >= 1 && a.fds.n <= OPT_LIST_MAX, "%u fds", a.fds.n);
		for (unsigned i = 0; i < a.fds.n; i++)
			INVARIANT(a.fds.v[i] >= 1 && a.fds.v[i] <= 1000000, "fds %llu", (unsigned long long)a.fds.v[i]);
		check_words(&a.mechs, NWORDS);
		check_words(&a.kinds, 2);
		INVARIANT(a.reps >= 1 && a.reps <= 1000, "reps %llu", (unsigned long long)a.reps);
		INVARIANT(a.wait >= 100000 && a.wait <= 10000000000ull, "rep-time %llu", (unsigned long long)a.wait);
		INVARIANT(memcmp(&a.fds, &b.fds, sizeof a.fds) == 0 && a.reps == b.reps && a.wait == b.wait &&
			  memcmp(&a.mechs.chosen, &b.mechs.chosen, sizeof a.mechs.chosen) == 0 &&
			  memcmp(&a.kinds.chosen, &b.kinds.chosen, sizeof a.kinds.chosen) == 0,
			  "two parses of one argv differ");
	}
	free(copy_a);
	free(copy_b);
	return 0;
}
