/* cases.c - the case array, built from case_table.h, and the server-spec matcher.
 *
 * The matcher must agree with the one in meson.build (same tokens, same left-to-right rule), so
 * that echo_test run by hand skips (exit 77) exactly the pairs meson does not register.
 */
#include "cases.h"

#include <string.h>

const struct test_case test_cases[] = {
#define CASE(name, timeout_s, parallel, servers) {#name, case_##name, timeout_s, parallel, servers},
#include "case_table.h"
#undef CASE
};

const size_t n_test_cases = sizeof test_cases / sizeof test_cases[0];

const struct test_case *case_find(const char *name)
{
	for (size_t i = 0; i < n_test_cases; i++)
		if (strcmp(test_cases[i].name, name) == 0)
			return &test_cases[i];
	return NULL;
}

bool case_applies(const struct test_case *c, const char *server)
{
	bool yes = false;
	const char *p = c->servers;
	size_t slen = strlen(server);
	while (*p != '\0') {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n == 1 && p[0] == '*')
			yes = true;
		else if (p[0] == '-' && n - 1 == slen && strncmp(p + 1, server, slen) == 0)
			yes = false;
		else if (n == slen && strncmp(p, server, slen) == 0)
			yes = true;
		p += n;
	}
	return yes;
}

bool is_server(const struct target *t, const char *name)
{
	return strcmp(t->name, name) == 0;
}

bool is_iterative(const struct target *t)
{
	return is_server(t, "blocking-iterative");
}
