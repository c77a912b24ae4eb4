/* probe.c - small experiments that settle what the source articles claim about select, poll and
 * epoll's limits and memory, each printed as one JSON line for bench/lib/claims.py.
 *
 *   select-limit  Is select limited in the number of fds, or in their value? 1,000 fds below 1024
 *                 work with glibc's fd_set; so does a single fd of 1,500 when the bitmap handed to
 *                 the kernel is big enough (the kernel takes any nfds): the 1,024 is the size of
 *                 glibc's fd_set type (FD_SETSIZE bits), so what it limits is the fd *value*.
 *   poll-limit    poll "has no limit because it uses a linked list": the kernel refuses more
 *                 entries than RLIMIT_NOFILE (EINVAL), at the soft limit, whatever it is set to;
 *                 entries need not even be distinct fds.
 *   epoll-mmap    "epoll shares memory with the kernel through mmap": does mmap() of an epoll fd
 *                 succeed, and does the process map anything for its epoll instance? For contrast,
 *                 an io_uring instance (which really does share its rings) is mapped too.
 *
 * usage: probe select-limit|poll-limit|epoll-mmap
 */
#include "fatal.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

/* A pipe whose read end is readable: the fd every experiment polls. */
static int readable_fd(void)
{
	int p[2];
	if (pipe(p) != 0)
		fatal_errno("pipe");
	if (write(p[1], "x", 1) != 1)
		fatal_errno("write");
	return p[0]; /* the write end stays open: the read end stays readable, not at EOF */
}

/* select(2) with a bitmap of `bits` bits, one fd set: the raw syscall, so that no fd_set type
 * limits what we can ask (glibc's select() passes the pointer through unchanged anyway). */
static int select_bits(int fd, size_t bits)
{
	size_t words = (bits + 63) / 64;
	uint64_t *set = calloc(words, sizeof *set);
	if (!set)
		fatal_errno("calloc");
	set[fd / 64] |= 1ull << (fd % 64);
	struct timespec zero = {0, 0};
	long rc = syscall(SYS_pselect6, fd + 1, set, NULL, NULL, &zero, NULL);
	int ready = rc > 0 && (set[fd / 64] >> (fd % 64) & 1);
	free(set);
	return rc < 0 ? -errno : ready;
}

static void select_limit(void)
{
	/* 1,000 fds, all below FD_SETSIZE, in glibc's own fd_set. */
	int fd = readable_fd();
	fd_set rd;
	FD_ZERO(&rd);
	int low[1000], n = 0, maxfd = fd;
	for (; n < 1000; n++) {
		if ((low[n] = dup(fd)) < 0)
			fatal_errno("dup");
		if (low[n] >= FD_SETSIZE) {
			close(low[n]);
			break;
		}
		FD_SET(low[n], &rd);
		maxfd = low[n] > maxfd ? low[n] : maxfd;
	}
	struct timeval zero = {0, 0};
	int many = select(maxfd + 1, &rd, NULL, NULL, &zero);
	for (int i = 0; i < n; i++)
		close(low[i]);

	/* One fd numbered 1,500: beyond glibc's fd_set, but the kernel only needs a big enough map. */
	int high = 1500;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal_errno("getrlimit");
	if (rl.rlim_cur <= (rlim_t)high) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (dup2(fd, high) != high)
		fatal_errno("dup2 1500");
	int big = select_bits(high, 2048);
	printf("{\"probe\":\"select-limit\",\"fd_setsize\":%d,\"fd_set_bits\":%zu,"
	       "\"low_fds\":%d,\"low_fds_ready\":%d,\"high_fd\":%d,\"high_fd_ready_with_2048_bit_map\":%d}\n",
	       FD_SETSIZE, sizeof(fd_set) * 8, n, many, high, big);
	close(high);
	close(fd);
}

/* poll() with n entries, every one the same readable fd: how many it reports, or -errno. */
static int poll_entries(int fd, size_t n)
{
	struct pollfd *p = calloc(n, sizeof *p);
	if (!p)
		fatal_errno("calloc");
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = fd, .events = POLLIN};
	int rc = poll(p, n, 0);
	free(p);
	return rc < 0 ? -errno : rc;
}

static void poll_limit(void)
{
	int fd = readable_fd();
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal_errno("getrlimit");
	size_t soft = rl.rlim_cur;
	int at = poll_entries(fd, soft), over = poll_entries(fd, soft + 1);
	/* The limit follows the soft limit: lower it and look again. */
	struct rlimit low = {.rlim_cur = 1000, .rlim_max = rl.rlim_max};
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		fatal_errno("setrlimit");
	int at_low = poll_entries(fd, 1000), over_low = poll_entries(fd, 1001);
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal_errno("setrlimit");
	printf("{\"probe\":\"poll-limit\",\"rlimit_nofile\":%zu,\"entries_at_limit\":%d,"
	       "\"entries_over_limit\":%d,\"over_limit_error\":\"%s\",\"lowered_limit\":1000,"
	       "\"at_lowered\":%d,\"over_lowered\":%d,\"page_entries\":%zu}\n",
	       soft, at, over, over < 0 ? strerror(-over) : "none", at_low, over_low,
	       (size_t)sysconf(_SC_PAGESIZE) / sizeof(struct pollfd));
	close(fd);
}

/* Lines of /proc/self/maps that name the given anon inode. */
static int maps_mentioning(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		fatal_errno("/proc/self/maps");
	char line[512];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static void epoll_mmap(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal_errno("epoll_create1");
	int fd = readable_fd();
	struct epoll_event ev = {.events = EPOLLIN};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		fatal_errno("epoll_ctl");
	void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ep, 0);
	int mmap_errno = m == MAP_FAILED ? errno : 0;
	if (m != MAP_FAILED)
		munmap(m, 4096);
	int epoll_maps = maps_mentioning("eventpoll");
	int uring_maps = -1;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	if (io_uring_queue_init(8, &ring, 0) == 0) {
		uring_maps = maps_mentioning("io_uring");
		io_uring_queue_exit(&ring);
	}
#endif
	printf("{\"probe\":\"epoll-mmap\",\"mmap_ok\":%s,\"mmap_error\":\"%s\",\"maps_eventpoll\":%d,"
	       "\"maps_io_uring\":%d}\n",
	       mmap_errno ? "false" : "true", mmap_errno ? strerror(mmap_errno) : "none", epoll_maps,
	       uring_maps);
	close(fd);
	close(ep);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: probe select-limit|poll-limit|epoll-mmap\n");
		return 2;
	}
	if (strcmp(argv[1], "select-limit") == 0)
		select_limit();
	else if (strcmp(argv[1], "poll-limit") == 0)
		poll_limit();
	else if (strcmp(argv[1], "epoll-mmap") == 0)
		epoll_mmap();
	else {
		fprintf(stderr, "probe: unknown experiment '%s' (select-limit, poll-limit, epoll-mmap)\n",
			argv[1]);
		return 2;
	}
	return 0;
}
