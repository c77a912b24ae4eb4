/* bad_server.c - a deliberately broken echo server, for testing that the loadgen notices.
 *
 *   bad_server --flip N      echoes, but flips one bit in every N-th byte it sends back
 *   bad_server --mute        accepts connections and never reads from them
 *   bad_server --echo        echoes correctly: the control, so that a test can tell a fault the
 *                            loadgen reports from one in this file's plumbing
 *   bad_server --swap K AT   echoes, but once: two adjacent K-byte chunks come back in swapped order
 *   bad_server --dup K AT    echoes, but once: K bytes come back twice (the second copy right after)
 *   bad_server --drop K AT   echoes, but once: K bytes are left out of the echo
 *
 * The three stream faults strike once per server, in the first read of at least 2K bytes that
 * starts at or past byte AT of its connection's stream: its first two K-byte chunks are swapped,
 * or its last K bytes echoed twice, or its last K bytes dropped. Once, so that a test knows how many
 * faults the loadgen must count (exactly one); at an offset, so that the fault can be put past the
 * loadgen's first echo on each connection (its connect phase) and into the traffic. The faulty
 * echo is one write(), so the bytes around it arrive together, as a real server's reply would.
 *
 * Prints the same ready line as the real servers ('listening on 127.0.0.1:PORT'); stops on SIGTERM.
 * Deliberately plain (blocking poll() loop, no shared core): it must not share a bug with what
 * it tests.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_FDS = 4096, BUF = 65536 };
enum mode { FLIP, MUTE, ECHO, SWAP, DUP, DROP };

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "bad_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: bad_server --flip N | --mute | --echo | --swap K AT | --dup K AT | --drop K AT\n");
	exit(2);
}

/* A number in [min, max], all of the argument (atol would take "16x" as 16). */
static long number(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage();
	return v;
}

/* Blocking socket: a short write only on a signal. A failed write is the peer going away; the
 * next read on this connection then sees the end and closes it. */
static void write_all(int fd, const char *p, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno != EINTR)
			return;
		off += w > 0 ? (size_t)w : 0;
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		enum mode mode;
		int nargs;
	} modes[] = {{"--flip", FLIP, 1}, {"--mute", MUTE, 0}, {"--echo", ECHO, 0},
		     {"--swap", SWAP, 2}, {"--dup", DUP, 2},	 {"--drop", DROP, 2}};
	enum mode mode = ECHO;
	long flip = 0, k = 0, at = 0;
	size_t m = 0;
	for (; m < sizeof modes / sizeof modes[0]; m++)
		if (argc >= 2 && strcmp(argv[1], modes[m].name) == 0)
			break;
	if (m == sizeof modes / sizeof modes[0] || argc != 2 + modes[m].nargs)
		usage();
	mode = modes[m].mode;
	if (mode == FLIP)
		flip = number(argv[2], 1, LONG_MAX);
	if (modes[m].nargs == 2) {
		k = number(argv[2], 1, BUF / 2); /* the duplicate must fit after a full read */
		at = number(argv[3], 0, LONG_MAX);
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);

	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		die("listen");
	printf("listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
	fflush(stdout);

	static struct pollfd pfd[MAX_FDS];
	static long offset[MAX_FDS]; /* bytes read so far on pfd[i]'s connection */
	int n = 1, struck = 0;
	long echoed = 0;
	pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	while (!stop) {
		if (poll(pfd, (nfds_t)n, 100) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((pfd[0].revents & POLLIN) && n < MAX_FDS) {
			int c = accept(lfd, NULL, NULL);
			if (c >= 0) {
				offset[n] = 0;
				pfd[n++] = (struct pollfd){.fd = c, .events = mode == MUTE ? 0 : POLLIN};
			}
		}
		for (int i = 1; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			static char buf[BUF + BUF / 2], tmp[BUF / 2];
			ssize_t r = read(pfd[i].fd, buf, BUF);
			if (r <= 0) {
				close(pfd[i].fd);
				offset[i] = offset[n - 1];
				pfd[i--] = pfd[--n];
				continue;
			}
			size_t len = (size_t)r;
			bool strike = mode >= SWAP && !struck && offset[i] >= at && r >= 2 * k;
			offset[i] += r;
			if (mode == FLIP)
				for (ssize_t j = 0; j < r; j++)
					if (++echoed % flip == 0)
						buf[j] ^= 0x20;
			if (strike) {
				struck = 1;
				if (mode == SWAP) {
					memcpy(tmp, buf, (size_t)k);
					memmove(buf, buf + k, (size_t)k);
					memcpy(buf + k, tmp, (size_t)k);
				} else if (mode == DUP) {
					memcpy(buf + len, buf + len - (size_t)k, (size_t)k);
					len += (size_t)k;
				} else {
					len -= (size_t)k;
				}
			}
			write_all(pfd[i].fd, buf, len);
		}
	}
	return 0;
}
