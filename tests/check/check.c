/* check.c - failure reporting, the server kill list, and the monotonic clock (see check.h).
 *
 * The kill list is a small fixed array of pids so that the SIGALRM watchdog can walk it with
 * nothing but kill() and waitpid(), which are async-signal-safe.
 */
#include "check.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIDS 8
#define MAX_DIRS 8
#define STATS_TAIL 2048

static volatile pid_t pids[MAX_PIDS];

/* Fixed-size copies: the watchdog reads these from a signal handler. */
static struct {
	volatile sig_atomic_t used;
	char dir[64];
	char stats[96];
} dirs[MAX_DIRS];

void check_register_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++) {
		if (pids[i] == 0) {
			pids[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	FAIL("more than %d servers at once", MAX_PIDS);
}

void check_unregister_pid(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (pids[i] == pid)
			pids[i] = 0;
}

void check_register_dir(const char *dir, const char *stats_path)
{
	for (int i = 0; i < MAX_DIRS; i++) {
		if (!dirs[i].used) {
			snprintf(dirs[i].dir, sizeof dirs[i].dir, "%s", dir);
			snprintf(dirs[i].stats, sizeof dirs[i].stats, "%s", stats_path);
			dirs[i].used = 1;
			return;
		}
	}
	FAIL("more than %d temp dirs at once", MAX_DIRS);
}

void check_unregister_dir(const char *dir)
{
	for (int i = 0; i < MAX_DIRS; i++)
		if (dirs[i].used && strcmp(dirs[i].dir, dir) == 0)
			dirs[i].used = 0;
}

static void remove_dirs_async(void)
{
	for (int i = 0; i < MAX_DIRS; i++) {
		if (dirs[i].used) {
			unlink(dirs[i].stats); /* may not exist: nothing to do about errors here */
			rmdir(dirs[i].dir);
			dirs[i].used = 0;
		}
	}
}

/* The end of each registered stats file, on stderr: the counters at the failure. */
static void dump_stats_tails(void)
{
	static char buf[STATS_TAIL + 1];
	for (int i = 0; i < MAX_DIRS; i++) {
		if (!dirs[i].used)
			continue;
		FILE *f = fopen(dirs[i].stats, "re");
		if (f == NULL) {
			fprintf(stderr, "(no stats file %s)\n", dirs[i].stats);
			continue;
		}
		long start = 0;
		if (fseek(f, 0, SEEK_END) == 0) {
			long end = ftell(f);
			start = end > STATS_TAIL ? end - STATS_TAIL : 0;
		}
		size_t n = 0;
		if (fseek(f, start, SEEK_SET) == 0)
			n = fread(buf, 1, STATS_TAIL, f);
		fclose(f);
		buf[n] = '\0';
		fprintf(stderr, "last stats lines (%s):\n%s%s", dirs[i].stats, buf,
			n > 0 && buf[n - 1] != '\n' ? "\n" : "");
	}
}

void check_kill_all_async(void)
{
	for (int i = 0; i < MAX_PIDS; i++) {
		pid_t pid = pids[i];
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL,
				0); /* SIGKILL cannot be ignored: this returns promptly */
			pids[i] = 0;
		}
	}
	remove_dirs_async();
}

static void on_alarm(int sig)
{
	static const char msg[] =
	    "FAIL: watchdog: the case exceeded its time limit; server killed\n";
	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing else to do in a signal handler */
	}
	check_kill_all_async();
	_exit(1);
}

void check_watchdog_install(void)
{
	struct sigaction sa = {.sa_handler = SIG_IGN};
	SYS(sigemptyset(&sa.sa_mask));
	SYS(sigaction(SIGPIPE, &sa, NULL));
	sa.sa_handler = on_alarm;
	SYS(sigaction(SIGALRM, &sa, NULL));
}

noreturn void check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_stats_tails();
	check_kill_all_async();
	fflush(NULL);
	/* _exit, not exit: a failure leaves buffers in flight, and LeakSanitizer's at-exit report
	 * of them would only bury the message above. */
	_exit(1);
}

noreturn void check_skip(const char *fmt, ...)
{
	va_list ap;
	fputs("SKIP: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	check_kill_all_async();
	fflush(NULL);
	_exit(77);
}

void note(const char *fmt, ...)
{
	va_list ap;
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

long check_sys(long rv, const char *expr, const char *file, int line)
{
	if (rv == -1) {
		int e = errno;
		check_fail(file, line, "%s failed: %s (errno %d)", expr, strerror(e), e);
	}
	return rv;
}

int64_t now_ms(void)
{
	struct timespec ts;
	SYS(clock_gettime(CLOCK_MONOTONIC, &ts));
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t deadline_in(int64_t ms)
{
	return now_ms() + ms;
}

int deadline_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left < 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	/* Restart on EINTR with the remaining time so the sleep is neither cut short nor unbounded.
	 */
	while (nanosleep(&ts, &ts) == -1) {
		if (errno != EINTR)
			FAIL("nanosleep: %s", strerror(errno));
	}
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		FAIL("calloc(%zu, %zu): out of memory", n, size);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		FAIL("strdup: out of memory");
	return p;
}
