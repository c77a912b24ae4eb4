/* cases_lifecycle.c - signals, the stats file, and command-line errors.
 *
 * signals_stats shows the measurement interface the benchmark relies on: SIGUSR1 appends a
 * snapshot without disturbing service, SIGTERM appends a final line and exits 0, every line is
 * valid JSON, and the counters agree with what the client did (bytes in = bytes out = bytes sent;
 * every request needed at least one read syscall). One connection at a time, so the iterative
 * server takes part too.
 *
 * bad_options shows that a mistyped command fails fast and plainly (one stderr line, exit 2, no
 * ready line) instead of starting a server with a surprising configuration.
 *
 * bind_any shows the other half of the security default: every other case checks that a server
 * started without --bind says "listening on 127.0.0.1:PORT"; this one asks for 0.0.0.0 and wants
 * the ready line to say so, a warning on stderr that the server is reachable from elsewhere, and
 * the echo still served on loopback.
 */
#include "cases.h"

#include "check.h"
#include "client.h"
#include "json.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* One connection: a round per size, each echoed before the next is sent, then close. Returns the
 * bytes sent. Separate rounds force at least one read() per round on the server. */
static uint64_t echo_rounds(const struct server *s, uint32_t id, const size_t *sizes, size_t n)
{
	struct conn c;
	conn_open(&c, s->port, id, deadline_in(5000));
	for (size_t i = 0; i < n; i++)
		echo_round(&c, 1, sizes[i], 0, deadline_in(10000));
	conn_close(&c);
	return c.tx;
}

static const char *line_type(const char *line, char *buf, size_t len)
{
	if (json_get_str(line, "type", buf, len) != JSON_OK)
		FAIL("stats line without a string \"type\": %s", line);
	return buf;
}

void case_signals_stats(const struct target *t)
{
	static const size_t first[] = {1, 100, 5000, 100000};
	static const size_t second[] = {7, 64 * KiB};
	const size_t rounds = 6;
	struct server s;
	server_start(&s, t, NULL);

	uint64_t sent1 = echo_rounds(&s, 1, first, 4);
	char *snap = server_snapshot(&s);
	/* Every byte was echoed back before the signal, so the snapshot must account for all. */
	ASSERT_EQ(stats_u64(snap, "bytes_in"), sent1);
	ASSERT_EQ(stats_u64(snap, "bytes_out"), sent1);
	ASSERT_EQ(stats_u64(snap, "pid"), s.pid);
	free(snap);
	uint64_t sent = sent1 + echo_rounds(&s, 2, second, 2); /* still serving after SIGUSR1 */

	server_terminate(&s, 5000);
	struct stats_lines l;
	stats_read(&s, &l); /* fails unless every complete line is valid JSON */
	ASSERT_GE(l.n, 2);
	char type[32];
	uint64_t prev_seq = 0;
	for (size_t i = 0; i < l.n; i++) {
		const char *want = i + 1 == l.n ? "final" : "snapshot";
		ASSERT_STR_EQ(line_type(l.line[i], type, sizeof type), want);
		uint64_t seq = stats_u64(l.line[i], "seq");
		if (i > 0)
			ASSERT_GT(seq, prev_seq);
		prev_seq = seq;
	}
	const char *fin = l.line[l.n - 1];
	note("final: %s", fin);
	ASSERT_EQ(stats_u64(fin, "bytes_in"), sent);
	ASSERT_EQ(stats_u64(fin, "bytes_out"), sent);
	ASSERT_EQ(stats_u64(fin, "accepted"), 2);
	uint64_t requests = stats_u64(fin, "requests");
	ASSERT_GE(requests, rounds);

	char counters[32];
	if (json_get_str(fin, "counters", counters, sizeof counters) != JSON_OK)
		FAIL("final line has no string \"counters\": %s", fin);
	if (strcmp(counters, "in-process") == 0) {
		uint64_t rd = 0, wr = 0, total = 0;
		if (json_get_u64_in(fin, "syscalls", "read", &rd) != JSON_OK ||
		    json_get_u64_in(fin, "syscalls", "write", &wr) != JSON_OK ||
		    json_get_u64_in(fin, "syscalls", "total", &total) != JSON_OK)
			FAIL(
			    "\"counters\":\"in-process\" but syscalls.read/write/total missing: %s",
			    fin);
		uint64_t enter = 0, ops = 0, recv = 0, send = 0;
		if (json_get_u64_in(fin, "syscalls", "io_uring_enter", &enter) == JSON_OK && enter > 0) {
			/* io_uring: the echo is done by submitted operations, not by read/write */
			if (json_get_u64_in(fin, "uring_ops", "total", &ops) != JSON_OK ||
			    json_get_u64_in(fin, "uring_ops", "recv", &recv) != JSON_OK ||
			    json_get_u64_in(fin, "uring_ops", "send", &send) != JSON_OK)
				FAIL("io_uring_enter counted but uring_ops.total/recv/send missing: %s",
				     fin);
			ASSERT_GE(recv, 2);  /* one multishot recv per connection at least */
			ASSERT_GE(send, requests > 0 ? 1 : 0);
			ASSERT_GE(ops, recv + send);
			ASSERT_GE(total, enter);
		} else {
			ASSERT_GE(rd, requests);
			ASSERT_GE(wr, 1);
			ASSERT_GE(total, rd + wr);
		}
	} else if (strcmp(counters, "none") == 0) {
		ASSERT_TRUE(json_is_null(fin, "syscalls"));
	} else {
		FAIL("\"counters\" is \"%s\", want \"in-process\" or \"none\"", counters);
	}
	stats_free(&l);
	server_cleanup(&s);
}

/* A line of `out` that is a ready line (help text may mention the words mid-line). */
static bool has_ready_line(const char *out)
{
	static const char ready[] = "listening on ";
	return strncmp(out, ready, sizeof ready - 1) == 0 || strstr(out, "\nlistening on ") != NULL;
}

/* Run the server with extra args that make it exit by itself; return its exit status and what
 * it printed. */
static int run_to_exit(const struct target *t, const char *const *args, char **out, char **err)
{
	struct server_opts o = {.more_args = args, .capture_stderr = true, .no_ready = true};
	struct server s;
	server_start(&s, t, &o);
	/* "Promptly": option errors need no I/O; 5 s leaves room for a sanitizer runtime's start.
	 */
	if (!server_wait_exit(&s, 5000))
		FAIL("server with %s %s did not exit within 5 s", args[0], args[1] ? args[1] : "");
	if (!WIFEXITED(s.status))
		FAIL("server with %s was killed by signal %d", args[0], WTERMSIG(s.status));
	*out = server_drain(s.out_fd, deadline_in(2000), NULL);
	*err = server_drain(s.err_fd, deadline_in(2000), NULL);
	server_cleanup(&s);
	return WEXITSTATUS(s.status);
}

void case_bad_options(const struct target *t)
{
	static const char *const bad[][3] = {
	    {"--bogus", NULL, NULL},
	    {"--port", "70000", NULL},
	    {"--buffer", "-1", NULL},
	    {"--buffer", "abc", NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *out, *err;
		int status = run_to_exit(t, bad[i], &out, &err);
		const char *what = bad[i][1] ? bad[i][1] : "";
		note("%s %s: exit %d, stderr: %.*s", bad[i][0], what, status,
		     (int)strcspn(err, "\n"), err);
		if (status != 2)
			FAIL("%s %s: exit status %d, want 2 (stderr: \"%s\")", bad[i][0], what,
			     status, err);
		if (has_ready_line(out))
			FAIL("%s %s: printed a ready line: \"%s\"", bad[i][0], what, out);
		size_t len = strlen(err);
		char *nl = strchr(err, '\n');
		if (len < 2 || nl != err + len - 1)
			FAIL("%s %s: stderr must be exactly one non-empty line, got \"%s\"",
			     bad[i][0], what, err);
		free(out);
		free(err);
	}
	static const char *const help[] = {"--help", NULL};
	char *out, *err;
	int status = run_to_exit(t, help, &out, &err);
	ASSERT_EQ(status, 0);
	if (has_ready_line(out))
		FAIL("--help printed a ready line: \"%s\"", out);
	if (out[0] == '\0' && err[0] == '\0')
		FAIL("--help printed nothing");
	free(out);
	free(err);
}

void case_bind_any(const struct target *t)
{
	static const char *const more[] = {"--bind", "0.0.0.0", NULL};
	struct server_opts o = {.more_args = more, .capture_stderr = true, .ready_addr = "0.0.0.0"};
	struct server s;
	server_start(&s, t, &o);
	struct conn c;
	conn_open(&c, s.port, 1, deadline_in(5000)); /* to 127.0.0.1: 0.0.0.0 includes loopback */
	echo_round(&c, 1, 1000, 0, deadline_in(5000));
	conn_close(&c);
	server_terminate(&s, 5000);
	char *err = server_drain(s.err_fd, deadline_in(2000), NULL);
	static const char warning[] = "warning: listening on 0.0.0.0, not a loopback address";
	if (strstr(err, warning) == NULL)
		FAIL("--bind 0.0.0.0: no \"%s\" on stderr (got \"%s\")", warning, err);
	note("stderr: %.*s", (int)strcspn(err, "\n"), err);
	free(err);
	server_cleanup(&s);
}
