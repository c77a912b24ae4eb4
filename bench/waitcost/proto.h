/* proto.h - the messages between waitcost and its peer process, over a SOCK_SEQPACKET socketpair.
 *
 * SEQPACKET keeps message boundaries, so one sendmsg() is one message and a short transfer is an
 * error, not something to resume; it also carries SCM_RIGHTS like any AF_UNIX socket.
 *
 *   peer -> parent  CTL_CONNECTED n  TCP: n more connections are in the listener's accept queue
 *   parent -> peer  CTL_FDS n        unix: n socket ends, attached as SCM_RIGHTS
 *   parent -> peer  CTL_PRELOAD n    write PRELOAD bytes to the ends named ids[0..n)
 *   either          CTL_ACK          done; the sender may go on
 * Every message is answered before the next is sent, which bounds both the listener's backlog
 * (somaxconn 4096) and the fds in flight.
 */
#ifndef WAITCOST_PROTO_H
#define WAITCOST_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#define CTL_BATCH 250 /* ids (or fds) per message; SCM_MAX_FD is 253 */

enum msg_type { CTL_CONNECTED = 1, CTL_FDS, CTL_PRELOAD, CTL_ACK };

struct msg {
	uint32_t type, count;
	uint32_t ids[CTL_BATCH];
};

/* Send a message with m->count ids (or, with fds, m->count fds as SCM_RIGHTS). Exits on error. */
void msg_send(int sock, const struct msg *m, const int *fds);
/* Receive one; false on EOF (the other side exited). With fds, up to CTL_BATCH fds land there.
 * A message of another type than want (0: any) is fatal. */
bool msg_recv(int sock, struct msg *m, int *fds, uint32_t want);

#endif
