/* window.c - the measured window's edges, told to the server and to perf at the same instants.
 *
 * The loadgen's window is only comparable with what the server counts (its SIGUSR1 snapshots,
 * --server-pid) and what the kernel counts (perf stat --control, --perf-ctl) if all three open and
 * close it together. perf starts counting first, then the server snapshots its stats; at the end
 * the other way round: both brackets then hold the same requests but for the few in flight.
 */
#include "loadgen.h"

#include "fatal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* perf stat --control fifo:CTL[,ACK]: with ACK, each command waits for perf's "ack", so that the
 * kernel's count has started before the server's first snapshot is asked for. */
void perf_open(struct perf_ctl *p, const char *spec)
{
	*p = (struct perf_ctl){-1, -1};
	if (!spec)
		return;
	char *ctl = strdup(spec), *comma = ctl ? strchr(ctl, ',') : NULL;
	if (!ctl)
		fatal_errno("--perf-ctl");
	if (comma)
		*comma = '\0';
	/* Non-blocking opens: a fifo with no perf at the other end fails at once (ENXIO) instead of
	 * hanging here. perf holds both ends open itself (O_RDWR). */
	if ((p->ctl = open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    (comma && (p->ack = open(comma + 1, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)) {
		int err = errno;
		free(ctl);
		fprintf(stderr, "loadgen: --perf-ctl %s: %s%s\n", spec, strerror(err),
			err == ENXIO ? " (no perf stat --control reading that fifo)" : "");
		exit(1);
	}
	free(ctl);
}

void perf_close(struct perf_ctl *p)
{
	if (p->ctl >= 0)
		close(p->ctl);
	if (p->ack >= 0)
		close(p->ack);
	*p = (struct perf_ctl){-1, -1};
}

static void perf_command(const struct perf_ctl *p, const char *cmd)
{
	if (p->ctl < 0)
		return;
	size_t len = strlen(cmd);
	if (write(p->ctl, cmd, len) != (ssize_t)len) {
		fprintf(stderr, "loadgen: --perf-ctl: write failed: %s\n", strerror(errno));
		return;
	}
	if (p->ack < 0)
		return;
	char buf[16];
	struct pollfd pfd = {.fd = p->ack, .events = POLLIN};
	if (poll(&pfd, 1, 2000) != 1 || read(p->ack, buf, sizeof buf) <= 0)
		fprintf(stderr, "loadgen: --perf-ctl: perf did not acknowledge '%.*s' within 2 s\n",
			(int)len - 1, cmd);
}

void mark_window(const struct config *cfg, const struct perf_ctl *perf, bool start)
{
	if (start)
		perf_command(perf, "enable\n");
	if (cfg->server_pid && kill((pid_t)cfg->server_pid, SIGUSR1) != 0)
		fprintf(stderr, "loadgen: --server-pid %ld: %s\n", cfg->server_pid, strerror(errno));
	if (!start)
		perf_command(perf, "disable\n");
}
