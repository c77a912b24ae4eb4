/* harness.h - start, signal, inspect and stop one echo server process.
 *
 * Shows: the server's life cycle as the contract (CONTRACT.md) describes it, observed from outside:
 * the ready line `listening on 127.0.0.1:PORT` on stdout, stats lines appended to a file on
 * SIGUSR1 / SIGTERM, exit status 0 after SIGTERM, and what /proc says about its memory, CPU time
 * and open fds. Every wait has a deadline; a server that misses one is SIGKILLed and the test
 * fails with the reason.
 *
 * Why fork/exec and not system(): the test needs the pid (signals, /proc), the stdout pipe (ready
 * line), optionally the stderr pipe (bad options), and a per-child RLIMIT_NOFILE (emfile).
 */
#ifndef MUXBENCH_HARNESS_H
#define MUXBENCH_HARNESS_H

#include "table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The server under test, from the command line: its row name in the table of servers, its
 * executable and extra args; and what it can do, from that row (table.h). */
struct target {
	const char *name; /* the row's name: for messages, never to decide anything */
	const char *exe;
	char **args; /* extra server args from the row (e.g. --edge) */
	int nargs;
	struct server_caps caps;
};

/* A driver's "PROG CASE NAME EXE [-- ARGS...]" as a target (args point into argv; caps left
 * zero, see table_caps()); false if argv does not have that shape. */
bool target_from_argv(int argc, char **argv, struct target *t);

struct server_opts {
	const char *const
	    *more_args;      /* appended after the target's args (NULL-terminated or NULL) */
	long nofile;         /* >0: RLIMIT_NOFILE soft=hard=nofile in the child */
	bool capture_stderr; /* pipe stderr into the test instead of inheriting it */
	bool no_ready;       /* do not wait for the ready line (bad options, --help) */
	const char *ready_addr; /* the address the ready line must name (NULL: 127.0.0.1) */
};

struct server {
	pid_t pid;
	uint16_t port;
	int out_fd; /* read end of the child's stdout */
	int err_fd; /* read end of the child's stderr, or -1 */
	bool reaped;
	int status; /* waitpid status once reaped */
	char dir[64];
	char stats_path[96];
	long idle_rss_kb; /* VmRSS right after the ready line */
};

/* Fork/exec `exe --port 0 --stats DIR/stats.jsonl ARGS... MORE...`; wait up to 15 s for the ready
 * line (generous: sanitizer builds start slowly) and parse the port. */
void server_start(struct server *s, const struct target *t, const struct server_opts *o);

/* SIGTERM, wait up to timeout_ms for the exit, assert exit status 0 and that stdout printed
 * nothing after the ready line; then remove the temp dir. */
void server_stop(struct server *s, int timeout_ms);
/* The two halves of server_stop: SIGTERM + checks (the stats file stays readable), then closing
 * the pipes and removing the temp dir. */
void server_terminate(struct server *s, int timeout_ms);
void server_cleanup(struct server *s);
/* SIGKILL and reap (for cases that end the server themselves). Removes the temp dir. */
void server_kill(struct server *s);
/* Reap without signalling; true if the server exited within timeout_ms. */
bool server_wait_exit(struct server *s, int timeout_ms);
/* Fails if the server has exited (crashed) - "the server is alive". */
void server_assert_alive(const struct server *s, const char *when);
void server_signal(const struct server *s, int sig);

/* All bytes the child wrote to a pipe until EOF or the deadline (NUL-terminated, malloc'd). */
char *server_drain(int fd, int64_t deadline, size_t *len);

/* Stats file. Lines are complete lines (ending in '\n', the '\n' stripped); a torn last line is
 * not returned. Each returned line has been checked to be valid JSON (the test fails if not). */
struct stats_lines {
	char **line;
	size_t n;
};
void stats_read(const struct server *s, struct stats_lines *out);
void stats_free(struct stats_lines *l);
/* Send SIGUSR1 and wait (5 s) for one more "snapshot" line; returns it (malloc'd). */
char *server_snapshot(struct server *s);
/* A top-level numeric stats key; fails the test if missing or not an integer. */
uint64_t stats_u64(const char *line, const char *key);
/* Poll snapshots until `key` == want or the deadline; returns the last value seen. */
uint64_t server_wait_stat(struct server *s, const char *key, uint64_t want, int timeout_ms);

/* /proc: a "VmRSS"/"VmHWM" field of /proc/PID/status in kB; utime+stime in clock ticks; number of
 * entries in /proc/PID/fd. */
long proc_status_kb(pid_t pid, const char *field);
long long proc_cpu_ticks(pid_t pid);
int proc_count_fds(pid_t pid);
/* pid's children, from /proc/PID/task/PID/children (a server's main thread is the one that forks
 * its workers); returns how many were stored in kids. */
size_t proc_children(pid_t pid, pid_t *kids, size_t max);
/* The same over pid and its children (echo-epoll --workers: the supervisor and its workers). */
long long proc_tree_cpu_ticks(pid_t pid);
int proc_tree_count_fds(pid_t pid);
/* A /proc/PID/status field summed over pid and its children (VmHWM of a --workers server). */
long proc_tree_status_kb(pid_t pid, const char *field);

/* Raise this process's RLIMIT_NOFILE soft limit to the hard limit; returns the new soft limit. */
long raise_nofile(void);

#endif
