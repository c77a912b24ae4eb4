/* check.h - the assertions and deadlines of every C test: unit, integration, torture, loadgen.
 *
 * Shows: how a test states what it expects so that a failure is self-explanatory. Every assertion
 * survives release builds (no assert.h), prints file:line, the expression and BOTH values, then
 * kills every server the test started and exits 1 (meson: fail). Styled after libuv's test/task.h.
 * One set of macros for every suite, so a unit test and an integration test fail the same way.
 *
 * Why the kill: a failing test must not leave an echo server running (a busypoll server would burn
 * a core until the machine is rebooted). tests/integration/harness.c registers each server pid
 * here; a unit test registers none, and a failure is then just the message and exit 1.
 *
 * Every wait in the suites is bounded: deadlines are absolute CLOCK_MONOTONIC milliseconds, and
 * deadline_left() turns one into a poll() timeout.
 */
#ifndef MUXBENCH_CHECK_H
#define MUXBENCH_CHECK_H

#include <stdint.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/types.h>

/* Print "FAIL file:line: <message>", kill registered servers, exit 1. */
noreturn void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Print "SKIP: <message>", kill registered servers, exit 77 (meson: skipped). */
noreturn void check_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define SKIP(...) check_skip(__VA_ARGS__)

/* A progress line on stdout, prefixed with '#', so a failing log tells where the test was. */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Servers to SIGKILL (and reap) if the test fails or the watchdog fires. */
void check_register_pid(pid_t pid);
void check_unregister_pid(pid_t pid);
/* Called by the SIGALRM watchdog: async-signal-safe kill of every registered pid, and removal
 * of every registered temp dir. */
void check_kill_all_async(void);
/* For a test driver's main(): ignore SIGPIPE (a server that closes on us must show up as EPIPE,
 * not kill the test) and install the SIGALRM watchdog, which prints a FAIL line, kills every
 * registered server and exits 1. The driver arms it with alarm(case's limit), so no test hangs
 * even if a deadline was missed somewhere. */
void check_watchdog_install(void);

/* A server's temp dir and the stats file in it. On failure the stats file's last lines are
 * printed (they show what the server had counted), then both are removed, so failed runs
 * leave nothing behind in /tmp. */
void check_register_dir(const char *dir, const char *stats_path);
void check_unregister_dir(const char *dir);

/* Fails unless rv != -1; prints the expression and errno. Returns rv so it wraps a call. */
long check_sys(long rv, const char *expr, const char *file, int line);
#define SYS(expr) check_sys((long)(expr), #expr, __FILE__, __LINE__)

#define FAIL(...) check_fail(__FILE__, __LINE__, __VA_ARGS__)

/* The comparison macros evaluate each side once, as long long, and print both. The values tested
 * (byte counts, counters, fds, sizes) fit; a uint64_t above LLONG_MAX still compares equal or not
 * correctly (gcc converts modulo 2^64, one to one), only its printed value is negative. */
#define ASSERT_CMP_(a, op, b)                                                                     \
	do {                                                                                      \
		long long a_ = (long long)(a), b_ = (long long)(b);                               \
		if (!(a_ op b_))                                                                  \
			check_fail(__FILE__, __LINE__, "ASSERT(%s %s %s): %lld %s %lld is false", \
				   #a, #op, #b, a_, #op, b_);                                     \
	} while (0)
#define ASSERT_EQ(a, b) ASSERT_CMP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_CMP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_CMP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_CMP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP_(a, >=, b)

#define ASSERT_TRUE(cond)                                                                  \
	do {                                                                               \
		if (!(cond))                                                               \
			check_fail(__FILE__, __LINE__, "ASSERT_TRUE(%s) is false", #cond); \
	} while (0)

#define ASSERT_STR_EQ(a, b)                                                                       \
	do {                                                                                      \
		const char *a_ = (a), *b_ = (b);                                                  \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                              \
			check_fail(__FILE__, __LINE__, "ASSERT_STR_EQ(%s, %s): \"%s\" != \"%s\"", \
				   #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");               \
	} while (0)

/* Monotonic clock in milliseconds; deadlines are absolute values of it. */
int64_t now_ms(void);
int64_t deadline_in(int64_t ms);
/* Milliseconds left before the deadline, clamped to [0, INT_MAX]: a poll() timeout. */
int deadline_left(int64_t deadline);
void sleep_ms(int ms);

/* calloc/strdup that fail the test instead of returning NULL. */
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

#endif
