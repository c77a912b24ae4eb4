/* peer.h - the child process that holds the other end of every registered fd (see fds.h). */
#ifndef WAITCOST_PEER_H
#define WAITCOST_PEER_H

#include "fds.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

/* How both sides name a TCP end of the peer's: 127.0.0.(1 + s) port p is s * 65536 + p. */
static inline unsigned peer_tcp_id(const struct sockaddr_in *a)
{
	return (ntohl(a->sin_addr.s_addr) - INADDR_LOOPBACK) * 65536u + ntohs(a->sin_port);
}

/* The ids n TCP connections can have. */
size_t peer_tcp_slots(int n);

/* Runs in the child after fork(): TCP: make n connections to 127.0.0.1:port; unix: receive n ends
 * over ctl. Then write PRELOAD bytes to the ends the parent names, until ctl reaches EOF. */
_Noreturn void peer_main(int ctl, enum sock_kind kind, int n, uint16_t port);

#endif
