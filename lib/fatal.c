/* fatal.c - one line on stderr and exit 1 (fatal.h). */
#include "fatal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The line is built whole and written with one call, so that two processes dying at once (the
 * waitcost parent and its peer, say) cannot interleave their words. */
static _Noreturn void die_with(int err, const char *fmt, va_list ap)
{
	char msg[512];
	int n = snprintf(msg, sizeof msg, "%s: ", program_invocation_short_name);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof msg)
		vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	if (err)
		fprintf(stderr, "%s: %s\n", msg, strerror(err));
	else
		fprintf(stderr, "%s\n", msg);
	exit(1);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	die_with(0, fmt, ap);
}

void fatal_errno(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	die_with(err, fmt, ap);
}
