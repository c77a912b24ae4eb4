/* server.c - the start-up sequence every server shares (see server.h). */
#include "server.h"

#include <errno.h>

void server_start(const struct server_config *cfg, enum signal_style style, bool blocking,
		  struct listener *lis)
{
	stats_init(cfg->name, cfg->variant, cfg->stats_path, true, cfg->checks);
	signals_init(style);
	listener_open(lis, cfg, blocking); /* last: its ready line promises the rest is in place */
}

struct conn *server_accept(struct listener *lis, bool blocking, const struct server_config *cfg)
{
	for (;;) {
		int fd = listener_accept(lis, blocking);
		if (fd < 0) {
			if (errno == ECONNABORTED)
				continue;
			return NULL;
		}
		struct conn *c = conn_new(fd, (uint32_t)cfg->buffer);
		if (c)
			return c;
	}
}
