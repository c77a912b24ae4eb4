/* util.c - close() that fails loudly (util.h). */
#include "util.h"

#include "fatal.h"

#include <errno.h>
#include <unistd.h>

void xclose(int fd)
{
	if (close(fd) < 0 && errno != EINTR)
		fatal_errno("close fd %d", fd);
}
