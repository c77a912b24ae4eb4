/* cases_io.c - odd_sizes (placeholder until implemented). */
#include "torture.h"

void torture_odd_sizes(const struct target *t)
{
	(void)t;
	NA("not implemented yet");
}
