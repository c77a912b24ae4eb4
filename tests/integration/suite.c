/* suite.c - the case driver shared by echo_test and torture (see suite.h). */
#include "suite.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(const struct suite *s)
{
	fprintf(stderr, "usage: %s CASE|all SERVERNAME SERVER_EXE [-- SERVER_ARGS...]\n"
			"       %s --list\n", s->prog, s->prog);
	return 2;
}

static void run_case(const struct suite *s, const struct test_case *c, const struct target *t)
{
	if (s->pass_lines) {
		printf("# case %s, server %s (%s)\n", c->name, t->name, t->exe);
		fflush(stdout);
	}
	alarm((unsigned)c->timeout_s);
	int64_t t0 = now_ms();
	c->fn(t);
	alarm(0);
	if (s->pass_lines) {
		printf("PASS %s/%s in %lld ms\n", c->name, t->name, (long long)(now_ms() - t0));
		fflush(stdout);
	}
}

int suite_main(const struct suite *s, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < s->n; i++)
			printf("%s\t%d\t%s\t%s\t%s\n", s->cases[i].name, s->cases[i].timeout_s,
			       s->cases[i].parallel ? "parallel" : "alone", s->cases[i].applies,
			       s->cases[i].what);
		return 0;
	}
	struct target t;
	if (!target_from_argv(argc, argv, &t))
		return usage(s);
	const struct test_case *c = NULL;
	for (size_t i = 0; i < s->n && c == NULL; i++)
		if (strcmp(s->cases[i].name, argv[1]) == 0)
			c = &s->cases[i];
	if (c == NULL && strcmp(argv[1], "all") != 0) {
		fprintf(stderr, "%s: unknown case \"%s\" (see --list)\n", s->prog, argv[1]);
		return 2;
	}
	table_caps(t.name, &t.caps);
	check_watchdog_install();

	if (c == NULL) { /* all */
		for (size_t i = 0; i < s->n; i++) {
			if (spec_applies(s->cases[i].applies, &t.caps))
				run_case(s, &s->cases[i], &t);
			else
				printf("# skip %s: does not apply to %s (\"%s\")\n", s->cases[i].name,
				       t.name, s->cases[i].applies);
		}
		return 0;
	}
	if (!spec_applies(c->applies, &t.caps))
		SKIP("case %s does not apply to server %s (\"%s\")", c->name, t.name, c->applies);
	run_case(s, c, &t);
	return 0;
}
