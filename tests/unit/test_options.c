/* test_options.c - the servers' option parser without exiting (options_try_parse).
 *
 * The integration case bad_options runs every server with a few bad command lines; this covers
 * what is awkward to do through exec: a newline inside an argument (found by the fuzzer: the
 * "one line on stderr" promise broke because the argument was echoed as it was), and parsing
 * twice in one process (getopt's hidden state must be reset, or the second parse misreads).
 */
#include "check.h"
#include "options.h"

#include <stdio.h>
#include <string.h>

static enum options_result parse(struct server_config *cfg, char **argv, char *err, size_t len)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	*cfg = (struct server_config){.name = "test"};
	return options_try_parse(cfg, argc, argv, NULL, err, len);
}

int main(void)
{
	struct server_config cfg;
	char err[256];

	char *newline[] = {"echo-test", "--port", "1\n2", NULL};
	ASSERT_EQ(parse(&cfg, newline, err, sizeof err), OPTIONS_ERROR);
	ASSERT_TRUE(strchr(err, '\n') == NULL);
	ASSERT_TRUE(strcmp(err, "echo-test: --port '1?2': not a number (see --help)") == 0);
	char *unknown[] = {"echo-test", "--x\ry", NULL};
	ASSERT_EQ(parse(&cfg, unknown, err, sizeof err), OPTIONS_ERROR);
	ASSERT_TRUE(strcmp(err, "echo-test: unknown option --x?y (see --help)") == 0);

	/* Twice in a row, with different argv: each starts from the defaults and from argv[1]. */
	char *first[] = {"echo-test", "--port", "8080", "--buffer", "64KiB", NULL};
	char *second[] = {"echo-test", "--max-conns", "10", NULL};
	ASSERT_EQ(parse(&cfg, first, err, sizeof err), OPTIONS_OK);
	ASSERT_EQ(cfg.port, 8080);
	ASSERT_EQ(cfg.buffer, 65536);
	ASSERT_EQ(parse(&cfg, second, err, sizeof err), OPTIONS_OK);
	ASSERT_EQ(cfg.port, 0);
	ASSERT_EQ(cfg.buffer, 16384);
	ASSERT_EQ(cfg.max_conns, 10);
	ASSERT_TRUE(strcmp(cfg.bind, "127.0.0.1") == 0); /* the default bind: loopback only */
	ASSERT_EQ(err[0], '\0');

	char *help[] = {"echo-test", "--help", NULL};
	ASSERT_EQ(parse(&cfg, help, err, sizeof err), OPTIONS_HELP);
	puts("options: ok");
	return 0;
}
