/* fds.c - build the registered set (fds.h): N sockets whose peers live in a child process, K of
 * them readable, and prove nothing about it here: selftest.c checks the set independently. */
#include "fds.h"

#include "peer.h"
#include "proto.h"
#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

const char *sock_kind_name(enum sock_kind kind)
{
	return kind == SOCK_TCP ? "tcp" : "unix";
}

int fdset_ready_index(int j, int n, int k)
{
	return (int)(((2 * (int64_t)j + 1) * n) / (2 * (int64_t)k));
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		fatal_errno("calloc");
	return p;
}

static void add(struct fdset *s, int i, int fd, unsigned id)
{
	s->fd[i] = fd;
	s->id[i] = id;
	if (fd > s->maxfd)
		s->maxfd = fd;
}

static pid_t start_peer(struct fdset *s, uint16_t port, int listener)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		fatal_errno("socketpair (control)");
	fflush(NULL); /* the child must not inherit (and later flush) half a CSV */
	pid_t pid = fork();
	if (pid < 0)
		fatal_errno("fork");
	if (pid == 0) {
		xclose(sv[0]);
		if (listener >= 0)
			xclose(listener);
		peer_main(sv[1], s->kind, s->n, port);
	}
	xclose(sv[1]);
	s->ctl = sv[0];
	return pid;
}

/* TCP: listen on 127.0.0.1:0, the peer connects n times, we accept n, batch by batch. */
static void build_tcp(struct fdset *s)
{
	int lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lis < 0)
		fatal_errno("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (bind(lis, (struct sockaddr *)&a, sizeof a) < 0 || listen(lis, 4096) < 0 ||
	    getsockname(lis, (struct sockaddr *)&a, &len) < 0)
		fatal_errno("listen on 127.0.0.1:0");
	s->peer = start_peer(s, ntohs(a.sin_port), lis);

	struct msg m;
	for (int i = 0; i < s->n;) {
		if (!msg_recv(s->ctl, &m, NULL, CTL_CONNECTED))
			fatal("the peer process exited while connecting (%d of %d connected)", i, s->n);
		if (m.count == 0 || i + (int)m.count > s->n)
			fatal("peer connected %u after %d of %d", m.count, i, s->n);
		for (uint32_t b = 0; b < m.count; b++, i++) {
			struct sockaddr_in from;
			socklen_t flen = sizeof from;
			int fd;
			/* The peer's connect() has returned, so accept() finds it queued. */
			while ((fd = accept4(lis, (struct sockaddr *)&from, &flen, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
				if (errno != EINTR)
					fatal_errno("accept4 (connection %d of %d)", i + 1, s->n);
			if (peer_tcp_id(&from) >= peer_tcp_slots(s->n))
				fatal("connection from an unexpected address");
			add(s, i, fd, peer_tcp_id(&from));
		}
		m = (struct msg){.type = CTL_ACK};
		msg_send(s->ctl, &m, NULL);
	}
	xclose(lis);
}

/* unix: socketpairs made here; one end of each goes to the peer over ctl (SCM_RIGHTS) and is
 * closed here, so it stops counting against this process's fds. While a batch waits to be sent,
 * its peer ends sit at the top of the fd table (F_DUPFD above `high`), so the registered fds stay
 * dense and low as TCP's are: select then takes N up to about 1,000 with either kind. */
static void build_unix(struct fdset *s)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal_errno("getrlimit");
	if (rl.rlim_cur < (rlim_t)s->n + CTL_BATCH + 16)
		fatal("%d unix sockets need more fds than RLIMIT_NOFILE %llu allows", s->n,
		     (unsigned long long)rl.rlim_cur);
	int high = (int)(rl.rlim_cur > INT_MAX ? INT_MAX : rl.rlim_cur) - CTL_BATCH - 8;
	s->peer = start_peer(s, 0, -1);
	struct msg m;
	int give[CTL_BATCH];
	for (int i = 0; i < s->n;) {
		uint32_t batch = 0;
		for (; batch < CTL_BATCH && i < s->n; batch++, i++) {
			int sv[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
				fatal_errno("socketpair (pair %d of %d)", i + 1, s->n);
			if ((give[batch] = fcntl(sv[1], F_DUPFD_CLOEXEC, high)) < 0)
				fatal_errno("fcntl F_DUPFD");
			xclose(sv[1]);
			add(s, i, sv[0], (unsigned)i);
		}
		m = (struct msg){.type = CTL_FDS, .count = batch};
		msg_send(s->ctl, &m, give);
		for (uint32_t b = 0; b < batch; b++)
			xclose(give[b]);
		if (!msg_recv(s->ctl, &m, NULL, CTL_ACK))
			fatal("the peer process exited while receiving sockets");
	}
}

/* Ask the peer to preload the K ready fds, then wait until every byte is in our receive queues:
 * on loopback TCP the data is normally there when the peer's send() returns, but softirq
 * processing may be deferred, and a measurement must not start on a half-built set. */
static void preload(struct fdset *s)
{
	struct msg m;
	for (int j = 0; j < s->k;) {
		m = (struct msg){.type = CTL_PRELOAD};
		for (; m.count < CTL_BATCH && j < s->k; j++)
			m.ids[m.count++] = s->id[s->ready_idx[j]];
		msg_send(s->ctl, &m, NULL);
		if (!msg_recv(s->ctl, &m, NULL, CTL_ACK))
			fatal("the peer process exited while preloading");
	}
	uint64_t deadline = now_ns() + 5000000000;
	for (int j = 0; j < s->k; j++) {
		int fd = s->fd[s->ready_idx[j]], queued;
		for (;;) {
			if (ioctl(fd, FIONREAD, &queued) < 0)
				fatal_errno("ioctl FIONREAD");
			if (queued == PRELOAD)
				break;
			if (queued > PRELOAD || now_ns() > deadline)
				fatal("a ready fd has %d bytes queued, expected %d", queued, PRELOAD);
			usleep(1000);
		}
	}
}

void fdset_build(struct fdset *s, int n, int k, enum sock_kind kind)
{
	if (n < 1 || k < 1 || k > n)
		fatal("fdset_build: n %d, k %d", n, k);
	*s = (struct fdset){.n = n, .k = k, .kind = kind, .maxfd = -1, .ctl = -1};
	s->fd = xcalloc((size_t)n, sizeof *s->fd);
	s->id = xcalloc((size_t)n, sizeof *s->id);
	s->ready = xcalloc((size_t)n, sizeof *s->ready);
	s->ready_idx = xcalloc((size_t)k, sizeof *s->ready_idx);
	for (int j = 0; j < k; j++) {
		s->ready_idx[j] = fdset_ready_index(j, n, k);
		s->ready[s->ready_idx[j]] = true;
	}
	if (kind == SOCK_TCP)
		build_tcp(s);
	else
		build_unix(s);
	preload(s);
}

void fdset_free(struct fdset *s)
{
	/* SO_LINGER 0 makes close() send a reset: no connection lingers in TIME_WAIT, holding
	 * ephemeral ports and kernel memory, when sets of 19,000 are built one after another. */
	struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
	for (int i = 0; i < s->n; i++) {
		if (s->kind == SOCK_TCP &&
		    setsockopt(s->fd[i], SOL_SOCKET, SO_LINGER, &abort_close, sizeof abort_close) < 0)
			fatal_errno("setsockopt SO_LINGER");
		xclose(s->fd[i]);
	}
	xclose(s->ctl); /* the peer sees EOF and exits */
	int status;
	while (waitpid(s->peer, &status, 0) < 0)
		if (errno != EINTR)
			fatal_errno("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fatal("the peer process ended with status %#x", status);
	free(s->fd);
	free(s->id);
	free(s->ready);
	free(s->ready_idx);
	*s = (struct fdset){.maxfd = -1, .ctl = -1};
}
