/* test_options.c - the servers' option parser without exiting (options_try_parse).
 *
 * The integration case bad_options runs every server with a few bad command lines; this covers
 * what is awkward to do through exec: a newline inside an argument (found by the fuzzer: the
 * "one line on stderr" promise broke because the argument was echoed as it was), and parsing
 * twice in one process (getopt's hidden state must be reset, or the second parse misreads).
 */
#include "check.h"
#include "options.h"

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
	CHECK_EQ(parse(&cfg, newline, err, sizeof err), OPTIONS_ERROR);
	CHECK(strchr(err, '\n') == NULL);
	CHECK(strcmp(err, "echo-test: --port '1?2': not a number (see --help)") == 0);
	char *unknown[] = {"echo-test", "--x\ry", NULL};
	CHECK_EQ(parse(&cfg, unknown, err, sizeof err), OPTIONS_ERROR);
	CHECK(strcmp(err, "echo-test: unknown option --x?y (see --help)") == 0);

	/* Twice in a row, with different argv: each starts from the defaults and from argv[1]. */
	char *first[] = {"echo-test", "--port", "8080", "--buffer", "64KiB", NULL};
	char *second[] = {"echo-test", "--max-conns", "10", NULL};
	CHECK_EQ(parse(&cfg, first, err, sizeof err), OPTIONS_OK);
	CHECK_EQ(cfg.port, 8080);
	CHECK_EQ(cfg.buffer, 65536);
	CHECK_EQ(parse(&cfg, second, err, sizeof err), OPTIONS_OK);
	CHECK_EQ(cfg.port, 0);
	CHECK_EQ(cfg.buffer, 16384);
	CHECK_EQ(cfg.max_conns, 10);
	CHECK(strcmp(cfg.bind, "127.0.0.1") == 0); /* the default bind: loopback only */
	CHECK_EQ(err[0], '\0');

	char *help[] = {"echo-test", "--help", NULL};
	CHECK_EQ(parse(&cfg, help, err, sizeof err), OPTIONS_HELP);
	puts("options: ok");
	return 0;
}
