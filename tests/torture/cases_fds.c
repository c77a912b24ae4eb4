/* cases_fds.c - placeholder. */
#include "torture.h"

void torture_emfile(const struct target *t)
{
	(void)t;
	NA("not implemented yet");
}

void torture_storm(const struct target *t)
{
	(void)t;
	NA("not implemented yet");
}
