/* harness.c - the server process life cycle and /proc probes (see harness.h).
 *
 * The child gets PR_SET_PDEATHSIG(SIGKILL) so no server outlives a test killed by meson's timeout
 * or by a crash; the test is single-threaded, so "parent thread exits" means "test exits".
 * Pipes are O_CLOEXEC so later children do not hold earlier servers' pipes open.
 */
#include "harness.h"

#include "check.h"
#include "json.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 15000
/* A server that exits with this status before its ready line cannot run on this kernel (echo-uring
 * where io_uring is disabled or too old): the test is skipped, not failed. */
#define SERVER_UNSUPPORTED 77
#define SNAPSHOT_TIMEOUT_MS 5000

/* Runs in the forked child: only async-signal-safe calls until exec. Errors go to fd 2 and the
 * child exits 127, which the parent then reports as "exited before the ready line". */
static noreturn void child_exec(char *const argv[], const struct server_opts *o, int out_w,
				int err_w, pid_t parent)
{
	static const char msg[] = "echo_test: child setup failed before exec\n";
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127); /* the test already died between fork and prctl */
	if (dup2(out_w, STDOUT_FILENO) == -1 || (err_w >= 0 && dup2(err_w, STDERR_FILENO) == -1))
		goto fail;
	/* Start the server with only 0-2 open: fds inherited from whoever ran the test (a shell,
	 * meson) would otherwise count against its RLIMIT_NOFILE and shift its fd numbers
	 * (select_limit and emfile depend on both). */
	if (close_range(3, ~0U, 0) == -1)
		goto fail;
	if (o != NULL && o->nofile > 0) {
		struct rlimit rl = {.rlim_cur = (rlim_t)o->nofile, .rlim_max = (rlim_t)o->nofile};
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			goto fail;
	}
	/* The test ignores SIGPIPE; restore the default so that the server ignoring SIGPIPE is its
	 * own doing, as it must be in production. */
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
fail:
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing left to report with */
	}
	_exit(127);
}

/* argv: exe --port 0 --stats PATH target-args... more-args... NULL. Built before fork so the
 * child does nothing but async-signal-safe calls. */
static char **build_argv(const struct target *t, const struct server_opts *o, struct server *s)
{
	size_t nmore = 0;
	while (o != NULL && o->more_args != NULL && o->more_args[nmore] != NULL)
		nmore++;
	char **argv = xcalloc(6 + (size_t)t->nargs + nmore, sizeof *argv);
	size_t i = 0;
	argv[i++] = (char *)t->exe;
	argv[i++] = (char *)"--port";
	argv[i++] = (char *)"0";
	argv[i++] = (char *)"--stats";
	argv[i++] = s->stats_path;
	for (int k = 0; k < t->nargs; k++)
		argv[i++] = t->args[k];
	for (size_t k = 0; k < nmore; k++)
		argv[i++] = (char *)o->more_args[k];
	argv[i] = NULL;
	return argv;
}

static void make_tmpdir(struct server *s)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(s->dir, sizeof s->dir, "%s/muxbench-it-XXXXXX", tmp);
	if (mkdtemp(s->dir) == NULL)
		FAIL("mkdtemp(%s): %s", s->dir, strerror(errno));
	snprintf(s->stats_path, sizeof s->stats_path, "%s/stats.jsonl", s->dir);
	check_register_dir(s->dir, s->stats_path);
}

static void remove_tmpdir(struct server *s)
{
	if (s->dir[0] == '\0')
		return;
	check_unregister_dir(s->dir);
	if (unlink(s->stats_path) == -1 && errno != ENOENT)
		FAIL("unlink(%s): %s", s->stats_path, strerror(errno));
	SYS(rmdir(s->dir));
	s->dir[0] = '\0';
}

static bool try_reap(struct server *s)
{
	if (s->reaped)
		return true;
	pid_t r = (pid_t)SYS(waitpid(s->pid, &s->status, WNOHANG));
	if (r == 0)
		return false;
	s->reaped = true;
	check_unregister_pid(s->pid);
	return true;
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status 0x%x", status);
}

/* Read the first line from the child's stdout, one byte at a time so nothing after the newline is
 * consumed (it would be lost for the "nothing after the ready line" check). */
static void read_ready_line(struct server *s, const char *addr)
{
	char line[128];
	size_t n = 0;
	int64_t deadline = deadline_in(READY_TIMEOUT_MS);
	for (;;) {
		struct pollfd pfd = {.fd = s->out_fd, .events = POLLIN};
		int r = poll(&pfd, 1, deadline_left(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r == 0)
			FAIL("no ready line within %d ms (got %zu bytes: \"%.*s\")",
			     READY_TIMEOUT_MS, n, (int)n, line);
		char c;
		ssize_t got = read(s->out_fd, &c, 1);
		if (got == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		SYS(got);
		if (got == 0) {
			char why[96] = "still running";
			if (server_wait_exit(s, 2000))
				describe_status(s->status, why, sizeof why);
			if (s->reaped && WIFEXITED(s->status) &&
			    WEXITSTATUS(s->status) == SERVER_UNSUPPORTED) {
				printf("SKIP: the server says this kernel cannot run it (exit status %d)\n",
				       SERVER_UNSUPPORTED);
				exit(77); /* meson's "skipped" */
			}
			FAIL("server closed stdout before the ready line (%s; got \"%.*s\")", why,
			     (int)n, line);
		}
		if (c == '\n')
			break;
		if (n + 1 >= sizeof line)
			FAIL("ready line too long: \"%.*s\"", (int)n, line);
		line[n++] = c;
	}
	line[n] = '\0';
	unsigned port;
	char tail, want[64];
	int wlen = snprintf(want, sizeof want, "listening on %s:", addr);
	if (strncmp(line, want, (size_t)wlen) != 0 ||
	    sscanf(line + wlen, "%u%c", &port, &tail) != 1 || port == 0 || port > 65535)
		FAIL("bad ready line \"%s\" (want \"%sPORT\")", line, want);
	s->port = (uint16_t)port;
}

bool target_from_argv(int argc, char **argv, struct target *t)
{
	if (argc < 4 || (argc > 4 && strcmp(argv[4], "--") != 0))
		return false;
	*t = (struct target){.name = argv[2], .exe = argv[3]};
	if (argc > 4) {
		t->args = argv + 5;
		t->nargs = argc - 5;
	}
	return true;
}

void server_start(struct server *s, const struct target *t, const struct server_opts *o)
{
	int out[2], err[2] = {-1, -1};
	memset(s, 0, sizeof *s);
	s->err_fd = -1;
	make_tmpdir(s);
	SYS(pipe2(out, O_CLOEXEC));
	if (o != NULL && o->capture_stderr)
		SYS(pipe2(err, O_CLOEXEC));
	fflush(stdout);
	fflush(stderr);
	char **argv = build_argv(t, o, s);
	pid_t parent = getpid();
	pid_t pid = (pid_t)SYS(fork());
	if (pid == 0)
		child_exec(argv, o, out[1], err[1], parent);
	free(argv);
	s->pid = pid;
	check_register_pid(pid);
	SYS(close(out[1]));
	s->out_fd = out[0];
	if (err[1] >= 0) {
		SYS(close(err[1]));
		s->err_fd = err[0];
	}
	if (o != NULL && o->no_ready)
		return;
	read_ready_line(s, o != NULL && o->ready_addr != NULL ? o->ready_addr : "127.0.0.1");
	s->idle_rss_kb = proc_status_kb(s->pid, "VmRSS");
}

bool server_wait_exit(struct server *s, int timeout_ms)
{
	int64_t deadline = deadline_in(timeout_ms);
	/* waitpid has no timeout; poll it with a short sleep. 2 ms is far below every bound we
	 * test. */
	while (!try_reap(s)) {
		if (deadline_left(deadline) == 0)
			return false;
		sleep_ms(2);
	}
	return true;
}

void server_signal(const struct server *s, int sig)
{
	if (s->reaped)
		FAIL("cannot send signal %d: server already exited", sig);
	SYS(kill(s->pid, sig));
}

void server_assert_alive(const struct server *s, const char *when)
{
	struct server *m = (struct server *)s;
	if (try_reap(m)) {
		char why[96];
		describe_status(m->status, why, sizeof why);
		FAIL("server died %s: %s", when, why);
	}
}

/* One read() appended to a growing, NUL-terminable buffer: false at EOF. */
static bool read_chunk(int fd, char **buf, size_t *n, size_t *cap)
{
	if (*n + 1 >= *cap) {
		*cap *= 2;
		char *nb = realloc(*buf, *cap);
		if (nb == NULL)
			FAIL("realloc: out of memory");
		*buf = nb;
	}
	ssize_t got;
	do
		got = read(fd, *buf + *n, *cap - *n - 1);
	while (got == -1 && errno == EINTR);
	SYS(got);
	*n += (size_t)got;
	return got > 0;
}

char *server_drain(int fd, int64_t deadline, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xcalloc(1, cap);
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, deadline_left(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		SYS(r);
		if (r == 0)
			FAIL("pipe from the server still open at the deadline (%zu bytes so far)",
			     n);
		if (!read_chunk(fd, &buf, &n, &cap))
			break;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void close_pipes(struct server *s)
{
	if (s->out_fd >= 0)
		SYS(close(s->out_fd));
	if (s->err_fd >= 0)
		SYS(close(s->err_fd));
	s->out_fd = s->err_fd = -1;
}

void server_terminate(struct server *s, int timeout_ms)
{
	server_assert_alive(s, "before SIGTERM");
	server_signal(s, SIGTERM);
	if (!server_wait_exit(s, timeout_ms))
		FAIL("server did not exit within %d ms of SIGTERM", timeout_ms);
	char why[96];
	describe_status(s->status, why, sizeof why);
	if (!WIFEXITED(s->status) || WEXITSTATUS(s->status) != 0)
		FAIL("server ended with %s after SIGTERM, want exit status 0", why);
	size_t n;
	char *rest = server_drain(s->out_fd, deadline_in(2000), &n);
	if (n != 0)
		FAIL("server printed more than the ready line on stdout: \"%s\"", rest);
	free(rest);
}

void server_cleanup(struct server *s)
{
	close_pipes(s);
	remove_tmpdir(s);
}

void server_stop(struct server *s, int timeout_ms)
{
	server_terminate(s, timeout_ms);
	server_cleanup(s);
}

void server_kill(struct server *s)
{
	if (!s->reaped) {
		SYS(kill(s->pid, SIGKILL));
		if (!server_wait_exit(s, 5000))
			FAIL("server pid %d survived SIGKILL for 5 s", (int)s->pid);
	}
	server_cleanup(s);
}

void stats_free(struct stats_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
	l->line = NULL;
	l->n = 0;
}

void stats_read(const struct server *s, struct stats_lines *out)
{
	memset(out, 0, sizeof *out);
	int fd = open(s->stats_path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return; /* no line written yet: the server may create the file lazily */
	SYS(fd);
	size_t cap = 8192, n = 0;
	char *buf = xcalloc(1, cap);
	while (read_chunk(fd, &buf, &n, &cap))
		;
	SYS(close(fd));
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		/* A complete line. The server writes each line with one write(), so a reader sees
		 * whole lines only; we still ignore an unterminated tail rather than misjudge a
		 * torn read. */
		size_t len = i - start, err_at = 0;
		if (!json_valid(buf + start, len, &err_at))
			FAIL("stats line %zu is not valid JSON (at byte %zu): %.*s", out->n + 1,
			     err_at, (int)len, buf + start);
		char **nl = realloc(out->line, (out->n + 1) * sizeof *nl);
		if (nl == NULL)
			FAIL("realloc: out of memory");
		out->line = nl;
		out->line[out->n] = xcalloc(1, len + 1);
		memcpy(out->line[out->n], buf + start, len);
		out->n++;
		start = i + 1;
	}
	free(buf);
}

static size_t count_type(const struct stats_lines *l, const char *type)
{
	size_t c = 0;
	char t[32];
	for (size_t i = 0; i < l->n; i++)
		if (json_get_str(l->line[i], "type", t, sizeof t) == JSON_OK &&
		    strcmp(t, type) == 0)
			c++;
	return c;
}

char *server_snapshot(struct server *s)
{
	struct stats_lines l;
	stats_read(s, &l);
	size_t before = count_type(&l, "snapshot");
	stats_free(&l);
	server_signal(s, SIGUSR1);
	int64_t deadline = deadline_in(SNAPSHOT_TIMEOUT_MS);
	for (;;) {
		stats_read(s, &l);
		if (count_type(&l, "snapshot") > before) {
			/* The newest snapshot is the last snapshot line. */
			char *res = NULL;
			char t[32];
			for (size_t i = l.n; i-- > 0 && res == NULL;)
				if (json_get_str(l.line[i], "type", t, sizeof t) == JSON_OK &&
				    strcmp(t, "snapshot") == 0)
					res = xstrdup(l.line[i]);
			stats_free(&l);
			return res;
		}
		stats_free(&l);
		server_assert_alive(s, "after SIGUSR1");
		if (deadline_left(deadline) == 0)
			FAIL("no new \"snapshot\" line in %s within %d ms of SIGUSR1",
			     s->stats_path, SNAPSHOT_TIMEOUT_MS);
		sleep_ms(10);
	}
}

uint64_t stats_u64(const char *line, const char *key)
{
	uint64_t v = 0;
	switch (json_get_u64(line, key, &v)) {
	case JSON_OK:
		return v;
	case JSON_MISSING:
		FAIL("stats line has no \"%s\": %s", key, line);
	case JSON_WRONGTYPE:
		FAIL("stats \"%s\" is not a non-negative integer: %s", key, line);
	}
	FAIL("unreachable");
}

uint64_t server_wait_stat(struct server *s, const char *key, uint64_t want, int timeout_ms)
{
	int64_t deadline = deadline_in(timeout_ms);
	for (;;) {
		char *line = server_snapshot(s);
		uint64_t v = stats_u64(line, key);
		free(line);
		if (v == want || deadline_left(deadline) == 0)
			return v;
		sleep_ms(50);
	}
}

long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		FAIL("fopen(%s): %s", path, strerror(errno));
	size_t flen = strlen(field);
	long kb = -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			if (sscanf(line + flen + 1, "%ld kB", &kb) != 1)
				FAIL("cannot parse %s line: %s", path, line);
			break;
		}
	}
	fclose(f);
	if (kb < 0)
		FAIL("%s has no %s", path, field);
	return kb;
}

long long proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		FAIL("open(%s): %s", path, strerror(errno));
	ssize_t n = SYS(read(fd, buf, sizeof buf - 1));
	SYS(close(fd));
	buf[n] = '\0';
	/* comm (field 2) may contain spaces and ')': fields after the LAST ')' are fixed.
	 * After ") " come: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime(15). */
	char *p = strrchr(buf, ')');
	unsigned long long utime, stime;
	if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&utime, &stime) != 2)
		FAIL("cannot parse %s: %s", path, buf);
	return (long long)(utime + stime);
}

int proc_count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (d == NULL)
		FAIL("opendir(%s): %s", path, strerror(errno));
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	SYS(closedir(d));
	return n;
}

size_t proc_children(pid_t pid, pid_t *kids, size_t max)
{
	char path[80];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		FAIL("fopen(%s): %s", path, strerror(errno));
	size_t n = 0;
	int k;
	while (n < max && fscanf(f, "%d", &k) == 1)
		kids[n++] = (pid_t)k;
	fclose(f);
	return n;
}

long long proc_tree_cpu_ticks(pid_t pid)
{
	pid_t kids[64];
	size_t n = proc_children(pid, kids, 64);
	long long t = proc_cpu_ticks(pid);
	for (size_t i = 0; i < n; i++)
		t += proc_cpu_ticks(kids[i]);
	return t;
}

int proc_tree_count_fds(pid_t pid)
{
	pid_t kids[64];
	size_t n = proc_children(pid, kids, 64);
	int fds = proc_count_fds(pid);
	for (size_t i = 0; i < n; i++)
		fds += proc_count_fds(kids[i]);
	return fds;
}

long proc_tree_status_kb(pid_t pid, const char *field)
{
	pid_t kids[64];
	size_t n = proc_children(pid, kids, 64);
	long kb = proc_status_kb(pid, field);
	for (size_t i = 0; i < n; i++)
		kb += proc_status_kb(kids[i], field);
	return kb;
}

long raise_nofile(void)
{
	struct rlimit rl;
	SYS(getrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = rl.rlim_max;
	SYS(setrlimit(RLIMIT_NOFILE, &rl));
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : (long)rl.rlim_cur;
}
