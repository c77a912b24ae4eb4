/* server.c - the start-up sequence every server shares (see server.h). */
#include "server.h"

#include <errno.h>

void server_start(const struct server_config *cfg, enum signal_style style, bool blocking,
		  struct listener *lis)
{
	stats_init(cfg->name, cfg->variant, cfg->stats_path, true);
	signals_init(style);
	listener_open(lis, cfg, blocking); /* last: its ready line promises the rest is in place */
}

_Noreturn void server_fatal(const struct server_config *cfg, const char *what)
{
	fprintf(stderr, "echo-%s: %s: %s\n", cfg->name, what, strerror(errno));
	exit(1);
}
