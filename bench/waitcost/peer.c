/* peer.c - the peer process: holds the far end of every registered fd and makes K of them readable.
 *
 * It lives in its own process so that the parent's fd table holds only the N registered fds (the
 * fd limit is per process), and it sleeps in recvmsg() on the control socket while the parent
 * measures, so it takes no CPU from the measurement. It exits when the control socket reaches EOF
 * (the parent is done, or died: PR_SET_PDEATHSIG covers a parent killed before the socket closes).
 */
#include "peer.h"

#include "proto.h"
#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* connect() that survives EINTR: the connection goes on in the background, so wait for it. */
static void connect_to(int s, const struct sockaddr_in *to)
{
	if (connect(s, (const struct sockaddr *)to, sizeof *to) == 0)
		return;
	if (errno != EINTR)
		fatal_errno("peer: connect to 127.0.0.1:%u", ntohs(to->sin_port));
	struct pollfd p = {.fd = s, .events = POLLOUT};
	int err = 0;
	socklen_t len = sizeof err;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			fatal_errno("peer: poll");
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		fatal_errno("peer: getsockopt SO_ERROR");
	if (err) {
		errno = err;
		fatal_errno("peer: connect to 127.0.0.1:%u", ntohs(to->sin_port));
	}
}

/* Connections per source address. connect() picks ephemeral ports of one parity first (even on
 * this kernel, 14,116 of the 28,232): once our own connections to this listener hold them all,
 * every further connect() walks the whole half before finding a port, and building a large set
 * slows down with every connection. So every SOURCE_SPAN connections move to the next 127.0.0.x source
 * (IP_BIND_ADDRESS_NO_PORT: the port is still chosen at connect(), for the whole 4-tuple), and
 * the parent names an end by (source, port). Ports other connections hold towards other
 * destinations can be shared, so a busy machine does not run this out. */
#define SOURCE_SPAN 8000

size_t peer_tcp_slots(int n)
{
	return ((size_t)(n - 1) / SOURCE_SPAN + 1) * 65536;
}

/* Each connect() returns once the handshake is done, so the connection is in the accept queue
 * when CTL_CONNECTED goes out. */
static void connect_all(int ctl, int n, uint16_t port, int *by_id)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct msg m;
	for (int i = 0; i < n;) {
		uint32_t batch = 0;
		for (; batch < CTL_BATCH && i < n; batch++, i++) {
			int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
			if (s < 0)
				fatal_errno("peer: socket (connection %d of %d)", i + 1, n);
			struct sockaddr_in from = {.sin_family = AF_INET,
						   .sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)(i / SOURCE_SPAN))};
			if (setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0 ||
			    bind(s, (struct sockaddr *)&from, sizeof from) < 0)
				fatal_errno("peer: bind to 127.0.0.%d", 1 + i / SOURCE_SPAN);
			connect_to(s, &to);
			struct sockaddr_in me;
			socklen_t len = sizeof me;
			if (getsockname(s, (struct sockaddr *)&me, &len) < 0)
				fatal_errno("peer: getsockname");
			by_id[peer_tcp_id(&me)] = s;
		}
		m = (struct msg){.type = CTL_CONNECTED, .count = batch};
		msg_send(ctl, &m, NULL);
		if (!msg_recv(ctl, &m, NULL, CTL_ACK))
			_exit(1); /* the parent gave up; it says why */
	}
}

static void receive_all(int ctl, int n, int *by_id)
{
	struct msg m;
	for (int i = 0; i < n; i += (int)m.count) {
		if (!msg_recv(ctl, &m, by_id + i, CTL_FDS))
			_exit(1);
		if (m.count == 0 || i + (int)m.count > n)
			fatal("peer: %u fds after %d of %d", m.count, i, n);
		m = (struct msg){.type = CTL_ACK, .count = m.count};
		msg_send(ctl, &m, NULL);
	}
}

/* Queue PRELOAD bytes on fd's peer, in as few writes as the socket takes (one, on this machine). */
static void preload(int fd)
{
	static char bytes[PRELOAD];
	size_t done = 0;
	while (done < PRELOAD) {
		ssize_t r = send(fd, bytes + done, PRELOAD - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN)
			fatal_errno("peer: send");
		/* Full: wait a little for room; a socket that never takes PRELOAD bytes is an error,
		 * not a hang (the parent checks that every byte arrived). */
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int pr;
		while ((pr = poll(&p, 1, 5000)) < 0 && errno == EINTR)
			;
		if (pr < 0)
			fatal_errno("peer: poll");
		if (pr == 0)
			fatal("peer: a socket took only %zu of %d preload bytes", done, PRELOAD);
	}
}

void peer_main(int ctl, enum sock_kind kind, int n, uint16_t port)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		fatal_errno("peer: prctl");
	/* TCP ends are named by source and port (peer_tcp_id), unix ends by their index. */
	size_t slots = kind == SOCK_TCP ? peer_tcp_slots(n) : (size_t)n;
	int *by_id = malloc(slots * sizeof *by_id);
	if (!by_id)
		fatal_errno("peer: malloc");
	for (size_t i = 0; i < slots; i++)
		by_id[i] = -1;
	if (kind == SOCK_TCP)
		connect_all(ctl, n, port, by_id);
	else
		receive_all(ctl, n, by_id);

	struct msg m;
	while (msg_recv(ctl, &m, NULL, CTL_PRELOAD)) {
		for (uint32_t j = 0; j < m.count; j++) {
			if (m.ids[j] >= slots || by_id[m.ids[j]] < 0)
				fatal("peer: no socket named %u", m.ids[j]);
			preload(by_id[m.ids[j]]);
		}
		m = (struct msg){.type = CTL_ACK, .count = m.count};
		msg_send(ctl, &m, NULL);
	}
	/* EOF: the parent has closed (and, for TCP, reset) its ends. Exiting closes ours. */
	free(by_id);
	_exit(0);
}
