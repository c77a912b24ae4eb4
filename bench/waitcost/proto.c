/* proto.c - send and receive one message over the control socket (proto.h). */
#include "proto.h"

#include "util.h"

#include "clock.h"
#include "fatal.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

static size_t msg_len(uint32_t count)
{
	return offsetof(struct msg, ids) + count * sizeof(uint32_t);
}

void msg_send(int sock, const struct msg *m, const int *fds)
{
	if (m->count > CTL_BATCH)
		fatal("message of %u entries", m->count);
	/* With fds the ids are not sent: the fds are the payload. */
	size_t len = fds ? msg_len(0) : msg_len(m->count);
	struct iovec iov = {.iov_base = (void *)m, .iov_len = len};
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_BATCH)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fds && m->count) {
		memset(&u, 0, sizeof u);
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->count);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * m->count);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * m->count);
	}
	ssize_t r;
	do
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		fatal_errno("control socket: sendmsg");
	if ((size_t)r != len) /* SEQPACKET is all or nothing; anything else is a broken assumption */
		fatal("control socket: sent %zd of %zu bytes", r, len);
}

bool msg_recv(int sock, struct msg *m, int *fds, uint32_t want)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
	union {
		char buf[CMSG_SPACE(sizeof(int) * CTL_BATCH)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof u.buf};
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		fatal_errno("control socket: recvmsg");
	if (r == 0)
		return false;
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		fatal("control socket: message truncated");
	if ((size_t)r < msg_len(0) || m->count > CTL_BATCH)
		fatal("control socket: malformed message (%zd bytes)", r);
	if (want && m->type != want)
		fatal("control socket: message type %u, expected %u", m->type, want);
	uint32_t nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (uint32_t)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (!fds || nfds > CTL_BATCH)
			fatal("control socket: %u unexpected fds", nfds);
		memcpy(fds, CMSG_DATA(c), sizeof(int) * nfds);
	}
	if (fds) {
		if (nfds != m->count)
			fatal("control socket: %u fds for a message of %u", nfds, m->count);
	} else if ((size_t)r != msg_len(m->count)) {
		fatal("control socket: %zd bytes for %u ids", r, m->count);
	}
	return true;
}
