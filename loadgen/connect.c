/* connect.c - a worker's connect phase: open its share of the N connections, and see each served.
 *
 * Connections are opened non-blocking, at most MAX_CONNECTING at once (so that the server's listen
 * backlog never overflows, which would cost a 1 s SYN retransmission), paced by --connect-rate. A
 * connection counts as made when one request has been echoed on it: connect() completes as soon
 * as the kernel queued the connection, and a server that accepts slowly (a thread per connection)
 * would otherwise still be accepting during the measured window. A connection whose first echo
 * does not come back within --timeout is given up (and counted). When a connection cannot be made
 * at all, explain_connect_failure() says what usually causes that errno on this kind of machine.
 */
#include "loadgen.h"

#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_CONNECTING = 256 };

static int open_socket(struct worker *w, struct lconn *c)
{
	const struct config *cfg = w->cfg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		goto fail;
	if (cfg->nsources) {
		/* Bind only the address; the port is picked at connect(), per destination, so the
		 * sources multiply the ports available instead of each binding its own. */
		struct sockaddr_in src = {.sin_family = AF_INET,
					  .sin_addr = cfg->source_addrs[c->id % cfg->nsources]};
		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0 ||
		    bind(fd, (struct sockaddr *)&src, sizeof src) != 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&cfg->dest, sizeof cfg->dest) != 0 && errno != EINPROGRESS)
		goto fail;
	c->fd = fd;
	c->connecting = true;
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	return 0;
fail:;
	int err = errno;
	close(fd);
	return -err;
}

/* connect() finished on c (EPOLLOUT): returns 0, or the errno that failed it. Once connected, c
 * sends its first request, whose echo settles it (conn.c's response_done). */
static int connected(struct worker *w, struct lconn *c, uint64_t now)
{
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		return errno;
	if (soerr)
		return soerr;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		return errno;
	c->connecting = false;
	w->connected++;
	lconn_schedule(w, c, now);
	lconn_send(w, c, now);
	return 0;
}

/* Returns false (and records why in w->connect_errno) when a connection could not be made. */
bool connect_all(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct epoll_event evs[MAX_EVENTS];
	size_t next = 0, connecting = 0;
	uint64_t start = now_ns(), next_scan = start + SCAN_NS;
	/* --connect-rate is for the whole loadgen: each thread takes its share */
	double per_ns = cfg->connect_rate ? (double)cfg->connect_rate / (double)cfg->threads / 1e9 : 0;

	while (w->settled < w->nconns) {
		uint64_t now = now_ns();
		while (next < w->nconns && connecting < MAX_CONNECTING &&
		       (!per_ns || (double)next < (double)(now - start) * per_ns + 1)) {
			int err = open_socket(w, &w->conns[next]);
			if (err) {
				w->connect_errno = -err;
				return false;
			}
			next++;
			connecting++;
		}
		if (atomic_load(&run_phase) >= PHASE_DONE)
			return false; /* the main thread gave up on us (its connect deadline) */
		int n = epoll_wait(w->ep, evs, MAX_EVENTS, per_ns ? 1 : 100);
		if (n < 0 && errno != EINTR) {
			w->connect_errno = errno;
			return false;
		}
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;
			if (c == NULL || c->dead)
				continue;
			if (!c->connecting) { /* its first echo, or its first request still going out */
				if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
					lconn_receive(w, c, now);
				if (!c->dead && (evs[i].events & EPOLLOUT))
					lconn_send(w, c, now);
				continue;
			}
			if ((w->connect_errno = connected(w, c, now)) != 0)
				return false;
			connecting--;
		}
		worker_flush_sends(w, now);
		if (now >= next_scan) {
			for (size_t i = 0; i < next; i++)
				if (lconn_overdue(w, &w->conns[i], now))
					lconn_fail(w, &w->conns[i], ERR_TIMEOUT);
			next_scan = now + SCAN_NS;
		}
	}
	return true;
}

void explain_connect_failure(const struct config *cfg, int err, uint64_t connected)
{
	fprintf(stderr, "loadgen: connecting to %s:%u failed after %llu of %llu connections: %s", cfg->host,
		(unsigned)cfg->port, (unsigned long long)connected, (unsigned long long)cfg->connections,
		strerror(err));
	switch (err) {
	case ECONNREFUSED:
		fprintf(stderr, " (is the server running? a full listen backlog, net.core.somaxconn, refuses too)\n");
		break;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		fprintf(stderr, " (out of local ports: see net.ipv4.ip_local_port_range and the connections in "
			"TIME_WAIT; add source addresses with --source 127.0.0.1,127.0.0.2,...)\n");
		break;
	case EMFILE:
	case ENFILE:
		fprintf(stderr, " (out of file descriptors: raise RLIMIT_NOFILE with ulimit -n, or fs.file-max)\n");
		break;
	default:
		fputc('\n', stderr);
	}
}
