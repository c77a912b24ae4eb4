/* syscallcost.c - what this machine charges for entering the kernel: nanoseconds per getppid() and
 * per read() that finds nothing.
 *
 * io_uring's saving is the syscalls it does not make, and what one is worth depends on the machine,
 * not on the server: the CPU's speculative-execution mitigations (retpolines, IBPB, safe-RET; the
 * kernel lists them in /sys/devices/system/cpu/vulnerabilities) are paid on every entry and exit,
 * and two VMs of one kind can differ there. So every run records two figures beside its results
 * (bench/lib/meta.py puts them in meta.json, the report in its environment table):
 *  - getppid: the cheapest syscall there is, entry and exit around nothing (called through
 *    syscall(), so no library can answer it from a cache);
 *  - read_eagain: read() on a connected TCP socket over loopback with nothing to read
 *    (non-blocking: EAGAIN), the call busy-poll makes on every idle connection every pass and
 *    epoll-edge once per drained one; the socket's own locking comes on top of the entry.
 * Each is ROUNDS rounds of CALLS calls, timed with CLOCK_MONOTONIC (a vDSO read, no syscall) around
 * the round; the figure is the median round's ns per call, with the fastest and slowest beside it.
 * Every call's result is checked: a getppid() that is not our parent's pid, or a read() that does
 * anything but fail with EAGAIN, ends the run (fatal.h), since the figure would not be of that call.
 *
 * usage: syscallcost [--calls N] [--rounds R]      prints one JSON object on stdout
 */
#include "clock.h"
#include "fatal.h"
#include "opts.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_ROUNDS = 1000 };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One round: calls of fn, ns per call. */
typedef void call_fn(int fd, uint64_t calls);

static void getppid_calls(int fd, uint64_t calls)
{
	(void)fd;
	pid_t parent = getppid();
	for (uint64_t i = 0; i < calls; i++)
		if (syscall(SYS_getppid) != parent)
			fatal("getppid() returned another pid than the parent's: not the call measured");
}

static void read_eagain_calls(int fd, uint64_t calls)
{
	char buf[64];
	for (uint64_t i = 0; i < calls; i++) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			if (n >= 0)
				fatal("read() on the idle socket returned %zd bytes: not the call measured", n);
			if (errno == EINTR)
				continue; /* a signal is not the kernel's answer to the read: not counted apart */
			fatal_errno("read() on the idle socket");
		}
	}
}

/* The median, fastest and slowest of rounds of fn, ns per call. */
static void measure(call_fn *fn, int fd, uint64_t calls, uint64_t rounds, double out[3])
{
	double ns[MAX_ROUNDS];
	fn(fd, calls / 10 + 1); /* warm the caches and the branch predictors */
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		fn(fd, calls);
		ns[r] = (double)(now_ns() - t0) / (double)calls;
	}
	qsort(ns, rounds, sizeof ns[0], cmp_double);
	out[0] = rounds % 2 ? ns[rounds / 2] : (ns[rounds / 2 - 1] + ns[rounds / 2]) / 2;
	out[1] = ns[0];
	out[2] = ns[rounds - 1];
}

/* A connected TCP pair over loopback; returns the accepted end, non-blocking, and keeps the
 * others open in *keep so that the connection stays up and idle. */
static int idle_tcp_socket(int keep[2])
{
	int lis = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lis < 0)
		fatal_errno("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (bind(lis, (struct sockaddr *)&a, sizeof a) != 0 || listen(lis, 1) != 0 ||
	    getsockname(lis, (struct sockaddr *)&a, &len) != 0)
		fatal_errno("listen on 127.0.0.1");
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		fatal_errno("socket");
	int r;
	do
		r = connect(c, (struct sockaddr *)&a, sizeof a);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		fatal_errno("connect to 127.0.0.1:%d", ntohs(a.sin_port));
	int s;
	do
		s = accept4(lis, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	while (s < 0 && errno == EINTR);
	if (s < 0)
		fatal_errno("accept4");
	keep[0] = lis;
	keep[1] = c;
	return s;
}

int main(int argc, char **argv)
{
	uint64_t calls = 200000, rounds = 15;
	const struct opt opts[] = {
		{"calls", OPT_COUNT, &calls, 1000, 100000000, "N", "calls per round (default 200k)"},
		{"rounds", OPT_COUNT, &rounds, 1, MAX_ROUNDS, "R", "timed rounds of each call (default 15)"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "show this help"},
		{0},
	};
	const struct opts_program program = {
		.name = "syscallcost",
		.before = "usage: syscallcost [--calls N] [--rounds R]\n"
			  "ns per getppid() and per read() that finds nothing on an idle TCP socket; one JSON object on stdout\n",
		.after = "Exit status: 0 measured, 1 a call did not do what it is measured as, 2 bad usage.\n",
		.width = 14,
	};
	opts_parse(&program, opts, argc, argv);

	int keep[2];
	int fd = idle_tcp_socket(keep);
	double g[3], rd[3];
	measure(getppid_calls, -1, calls, rounds, g);
	measure(read_eagain_calls, fd, calls, rounds, rd);
	if (printf("{\"calls\":%llu,\"rounds\":%llu,"
		   "\"getppid_ns\":%.1f,\"getppid_ns_min\":%.1f,\"getppid_ns_max\":%.1f,"
		   "\"read_eagain_ns\":%.1f,\"read_eagain_ns_min\":%.1f,\"read_eagain_ns_max\":%.1f}\n",
		   (unsigned long long)calls, (unsigned long long)rounds, g[0], g[1], g[2], rd[0], rd[1],
		   rd[2]) < 0 ||
	    fflush(stdout) != 0)
		fatal_errno("write the figures");
	return 0; /* the sockets close with the process */
}
