/* listener.c - listen and accept (see listener.h for the failure modes handled here). */
#include "listener.h"

#include "stats.h"
#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static _Noreturn void fail(const struct server_config *cfg, const char *what)
{
	fprintf(stderr, "echo-%s: %s %s: %s\n", cfg->name, what, cfg->bind, strerror(errno));
	exit(1);
}

static bool is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* Every connection is an fd: use all the process may have (the soft limit can be raised up to the
 * hard one without privileges). Per process and inherited: each --workers process has as many. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the limit we end up with is still valid */
	}
}

static void open_socket(struct listener *l, const struct server_config *cfg, bool blocking,
			uint16_t port_number, bool reuseport)
{
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai;
	char port[8];
	snprintf(port, sizeof port, "%u", (unsigned)port_number);
	int rc = getaddrinfo(cfg->bind, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "echo-%s: --bind '%s': not a numeric address (%s)\n", cfg->name, cfg->bind,
			gai_strerror(rc));
		exit(2);
	}
	l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
	if (l->fd < 0)
		fail(cfg, "socket");
	int one = 1;
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		fail(cfg, "setsockopt SO_REUSEADDR");
	if (reuseport && setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		fail(cfg, "setsockopt SO_REUSEPORT");
	/* Linux copies it into every socket accepted here, which echo-uring --fixed-files relies on:
	 * its connections have no fd for listener_admit()'s setsockopt(). */
	if (setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		fail(cfg, "setsockopt TCP_NODELAY");
	if (bind(l->fd, ai->ai_addr, ai->ai_addrlen) != 0)
		fail(cfg, "bind");
	freeaddrinfo(ai);
	/* The kernel caps the backlog at net.core.somaxconn; ask for the most it will give. */
	if (listen(l->fd, 65535) != 0)
		fail(cfg, "listen");
	int fd = l->fd; /* no fd_limit, no fd_lock: the callers that need them set them */
	*l = (struct listener){.fd = fd, .spare = sys_open_devnull(), .max_conns = cfg->max_conns,
			       .name = cfg->name};
	if (l->spare < 0)
		fail(cfg, "open /dev/null for");
}

void listener_open(struct listener *l, const struct server_config *cfg, bool blocking)
{
	raise_nofile();
	open_socket(l, cfg, blocking, (uint16_t)cfg->port, false);
	listener_ready(cfg, l->fd);
}

void listener_open_at(struct listener *l, const struct server_config *cfg, uint16_t port,
		      bool reuseport)
{
	raise_nofile();
	open_socket(l, cfg, false, port, reuseport);
}

uint16_t listener_port(const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0) {
		fprintf(stderr, "echo-%s: getsockname: %s\n", l->name, strerror(errno));
		exit(1);
	}
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

void listener_share(struct listener *copy, const struct listener *l)
{
	*copy = *l;
	copy->spare = sys_open_devnull();
	if (copy->spare < 0) {
		fprintf(stderr, "echo-%s: open /dev/null: %s\n", l->name, strerror(errno));
		exit(1);
	}
}

void listener_unshare(struct listener *copy)
{
	if (copy->spare >= 0)
		sys_close(copy->spare);
}

void listener_ready(const struct server_config *cfg, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[INET6_ADDRSTRLEN], serv[8];
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, serv, sizeof serv,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		fail(cfg, "getsockname");
	if (!is_loopback((struct sockaddr *)&ss))
		fprintf(stderr, "echo-%s: warning: listening on %s, not a loopback address: any host that "
			"can reach it can use this server\n", cfg->name, host);
	printf(ss.ss_family == AF_INET6 ? "listening on [%s]:%s\n" : "listening on %s:%s\n", host, serv);
	if (fflush(stdout) != 0)
		fail(cfg, "write the ready line for");
}

/* An accept() that fails for lack of memory leaves the connection pending and the listener readable:
 * retrying at once would spin. Pausing the loop 10 ms is crude, and rare enough not to matter. */
static void back_off(void)
{
	nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
}

/* Out of fds: give up the spare to accept the connection only to close it, so that it leaves the
 * backlog and the listener stops being readable. */
static int shed_at_emfile(struct listener *l, bool blocking)
{
	/* On a blocking listener the shed's accept() would wait, spare given up, for the next
	 * arrival and shed it even if a client had left meanwhile and freed an fd (emfile_churn under
	 * a CPU quota). So first wait for an arrival, then go back: the caller's accept takes a freed
	 * fd, or comes back here with a connection pending to shed. The 1 s bound: not forever. */
	if (blocking && !l->arrival_pending) {
		struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
		if (sys_poll_ms(&pfd, 1, 1000) > 0) /* counted: it is the server's work at EMFILE */
			l->arrival_pending = true;
		errno = ECONNABORTED; /* call again */
		return -1;
	}
	l->arrival_pending = false;
	if (l->fd_lock)
		pthread_rwlock_wrlock(l->fd_lock);
	/* With several blocking acceptors, another may have taken that arrival since the poll: look
	 * again, now that no one else can accept (the write side). Nothing pending: no shed, whose
	 * accept() would sleep, spare given up, and shed the next arrival even if an fd came free. */
	if (blocking && l->fd_lock &&
	    sys_poll_ms(&(struct pollfd){.fd = l->fd, .events = POLLIN}, 1, 0) <= 0) {
		pthread_rwlock_unlock(l->fd_lock);
		errno = ECONNABORTED; /* call again */
		return -1;
	}
	int fd = -1;
	if (l->spare >= 0 || (l->spare = sys_open_devnull()) >= 0) {
		sys_close(l->spare);
		fd = sys_accept4(l->fd, SOCK_CLOEXEC);
		if (fd >= 0) {
			sys_close(fd);
			STAT_ADD(accept_emfile, 1); /* one connection refused for lack of fds */
		}
		l->spare = sys_open_devnull();
	}
	if (l->fd_lock)
		pthread_rwlock_unlock(l->fd_lock);
	if (fd < 0 && l->spare < 0)
		back_off(); /* not even the spare: nothing to do but not spin */
	/* EMFILE, not EAGAIN, when nothing was shed: every fd is still in use, which echo-uring's
	 * accept (it takes an fd before it looks at the backlog) must know. */
	errno = fd >= 0 ? ECONNABORTED : EMFILE;
	return -1;
}

int listener_accept(struct listener *l, bool blocking)
{
	if (l->fd_lock)
		pthread_rwlock_rdlock(l->fd_lock);
	int fd = sys_accept4(l->fd, SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK));
	int err = errno;
	if (l->fd_lock)
		pthread_rwlock_unlock(l->fd_lock);
	errno = err;
	if (fd < 0) {
		switch (errno) {
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			errno = EAGAIN;
			return -1;
		case ECONNABORTED:
		case EPROTO: /* the client gave up before we accepted: nothing to do for it */
			errno = ECONNABORTED;
			return -1;
		case EMFILE:
		case ENFILE:
			return shed_at_emfile(l, blocking);
		default:
			STAT_ADD(accept_errors, 1);
			back_off();
			return -1;
		}
	}
	l->arrival_pending = false;
	return listener_admit(l, fd) ? fd : -1;
}

bool listener_admit(struct listener *l, int fd)
{
	if (l->fd_limit && fd >= l->fd_limit) {
		if (STAT_ADD(rejected_fd_setsize, 1) == 0)
			fprintf(stderr, "echo-%s: refusing connections whose fd is >= %d (FD_SETSIZE); they "
				"are closed and counted in rejected_fd_setsize\n", l->name, l->fd_limit);
		sys_close(fd);
		errno = ECONNABORTED;
		return false;
	}
	if (!listener_admit_direct(l)) {
		sys_close(fd);
		errno = ECONNABORTED;
		return false;
	}
	int one = 1;
	if (sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
		STAT_ADD(accept_errors, 1);
		sys_close(fd);
		errno = ECONNABORTED;
		return false;
	}
	return true;
}

bool listener_admit_direct(struct listener *l)
{
	if (l->max_conns && STAT_GAUGE(conns) >= l->max_conns) {
		STAT_ADD(rejected_max_conns, 1);
		return false;
	}
	return true;
}

void listener_close(struct listener *l)
{
	sys_close(l->fd);
	if (l->spare >= 0)
		sys_close(l->spare);
}
