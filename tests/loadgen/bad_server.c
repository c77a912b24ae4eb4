/* bad_server.c - a deliberately broken echo server, for testing that the loadgen notices.
 *
 *   bad_server --flip N   echoes, but flips one bit in every N-th byte it sends back
 *   bad_server --mute     accepts connections and never reads from them
 *
 * Prints the same ready line as the real servers ('listening on 127.0.0.1:PORT'); stops on SIGTERM.
 * Deliberately plain (blocking poll() loop, no shared core): it must not share a bug with what
 * it tests.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_FDS = 4096 };

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

int main(int argc, char **argv)
{
	long flip = 0;
	int mute = 0;
	if (argc == 3 && strcmp(argv[1], "--flip") == 0 && (flip = atol(argv[2])) > 0)
		;
	else if (argc == 2 && strcmp(argv[1], "--mute") == 0)
		mute = 1;
	else {
		fprintf(stderr, "usage: bad_server --flip N | --mute\n");
		return 2;
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
	int n = 1;
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
			if (c >= 0)
				pfd[n++] = (struct pollfd){.fd = c, .events = mute ? 0 : POLLIN};
		}
		for (int i = 1; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char buf[65536];
			ssize_t r = read(pfd[i].fd, buf, sizeof buf);
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i--] = pfd[--n];
				continue;
			}
			for (ssize_t k = 0; k < r; k++)
				if (++echoed % flip == 0)
					buf[k] ^= 0x20;
			for (ssize_t off = 0; off < r;) { /* blocking socket: a short write only on a signal */
				ssize_t w = write(pfd[i].fd, buf + off, (size_t)(r - off));
				if (w < 0 && errno != EINTR)
					break;
				off += w > 0 ? w : 0;
			}
		}
	}
	return 0;
}
