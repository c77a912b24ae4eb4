/* main.c - echo_test: run one integration case (or all that apply) against one echo server.
 *
 *   echo_test CASE|all SERVERNAME SERVER_EXE [-- SERVER_ARGS...]
 *   echo_test --list
 *
 * The driver, the command line and the exit codes are suite.h's; the cases are case_table.h's.
 */
#include "cases.h"

static const struct test_case cases[] = {
#define CASE SUITE_ENTRY
#include "case_table.h"
#undef CASE
};

int main(int argc, char **argv)
{
	const struct suite s = {"echo_test", cases, sizeof cases / sizeof cases[0], true};
	return suite_main(&s, argc, argv);
}
