/* util.c - fatal errors (util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Noreturn void vreport(int err, const char *fmt, va_list ap)
{
	fputs("waitcost: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

void die(const char *fmt, ...)
{
	int err = errno; /* before stdio can change it */
	va_list ap;
	va_start(ap, fmt);
	vreport(err, fmt, ap);
}

void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(0, fmt, ap);
}

void xclose(int fd)
{
	if (close(fd) < 0 && errno != EINTR)
		die("close fd %d", fd);
}
