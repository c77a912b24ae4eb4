/* sqthread.c - the SQ thread's CPU, affinity and CPU time for the stats line (sqthread.h). */
#include "sqthread.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static pid_t sq_tid; /* 0: none found */

/* The whole of a small /proc file into buf, NUL-terminated; false if it cannot be read. */
static bool read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* One look through this process's threads for the SQ thread, by its name. */
static void look(void)
{
	char path[300], comm[64];
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return;
	struct dirent *e;
	while (!sq_tid && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		/* iou-sqp-PID, cut to the 15 characters a task name holds; this process has one ring */
		if (read_small(path, comm, sizeof comm) && strncmp(comm, "iou-sqp-", 8) == 0)
			sq_tid = (pid_t)atol(e->d_name);
	}
	closedir(d);
}

bool sqthread_find(void)
{
	/* The thread names itself once it first runs, which can be just after io_uring_setup()
	 * returns: until then it has this process's name. So look for up to a second. */
	for (int tries = 0; !sq_tid && tries < 1000; tries++) {
		look();
		if (!sq_tid)
			nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return sq_tid != 0;
}

/* Field 39 of /proc/.../stat, the CPU the task last ran on; -1 if unknown. */
static int last_cpu(void)
{
	char path[64], stat[1024];
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", (long)sq_tid);
	if (!read_small(path, stat, sizeof stat))
		return -1;
	const char *p = strrchr(stat, ')'); /* the name may hold spaces: fields count from after it */
	int field = 2;
	while (p && field < 39)
		if ((p = strchr(p + 1, ' ')))
			field++;
	return p ? atoi(p + 1) : -1;
}

/* The CPUs the task may run on, as a list: "0", "0-1", "0,2". */
static void allowed(char *buf, size_t cap)
{
	cpu_set_t set;
	buf[0] = '\0';
	if (sched_getaffinity(sq_tid, sizeof set, &set) != 0)
		return;
	size_t len = 0;
	for (int c = 0; c < CPU_SETSIZE && len + 16 < cap; c++) {
		if (!CPU_ISSET(c, &set) || (c > 0 && CPU_ISSET(c - 1, &set)))
			continue;
		int end = c;
		while (end + 1 < CPU_SETSIZE && CPU_ISSET(end + 1, &set))
			end++;
		const char *sep = len ? "," : "";
		if (end > c)
			len += (size_t)snprintf(buf + len, cap - len, "%s%d-%d", sep, c, end);
		else
			len += (size_t)snprintf(buf + len, cap - len, "%s%d", sep, c);
	}
}

size_t sqthread_format(char *buf, size_t cap)
{
	if (!sq_tid || cap == 0)
		return 0;
	/* a thread's CPU clock (MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)): any thread of this group */
	clockid_t clk = (clockid_t)((~(unsigned)sq_tid << 3) | 4u | 2u);
	struct timespec ts = {0};
	char cpu_us[24] = "null"; /* the thread has gone (the ring is torn down) */
	if (clock_gettime(clk, &ts) == 0)
		snprintf(cpu_us, sizeof cpu_us, "%lld", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	char cpus[64];
	allowed(cpus, sizeof cpus);
	int n = snprintf(buf, cap, ",\"sq_thread\":{\"tid\":%ld,\"cpu\":%d,\"allowed\":\"%s\",\"cpu_us\":%s}",
			 (long)sq_tid, last_cpu(), cpus, cpu_us);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
