/* fuzz_options.c - the servers' command line (servers/core/options.c) on arbitrary argv vectors.
 *
 * The input, split on NUL bytes, is argv[1..]. The table is the common one plus an extra table
 * like echo-epoll's and echo-uring's (a flag, bounded counts, a string, a duration), so both
 * halves of the option list are reached. Checked on every input:
 *  - success: every number lies within its option's min..max, strings are non-empty, and a
 *    string points into the input or at the default (never at freed or stack memory);
 *  - failure: the message is one line of printable text, "echo-fuzz: ... (see --help)" unless
 *    truncated by the buffer, which is the promise `exit 2 with one line` rests on;
 *  - the same argv parsed twice gives the same result: getopt's hidden state is reset.
 */
#include "fuzz.h"
#include "options.h"

#include <stdbool.h>
#include <string.h>

enum { MAX_ARGS = 64 };

struct extras {
	bool edge;
	uint64_t threads, workers, wait_ns;
	const char *accept;
};

struct outcome {
	enum options_result r;
	struct server_config cfg;
	struct extras x;
	char err[256];
};

static void parse(const char *input, size_t size, struct outcome *o, char *copy)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	memcpy(copy, input, size);
	copy[size] = '\0';
	argv[argc++] = "echo-fuzz";
	for (char *p = copy; p < copy + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	memset(o, 0, sizeof *o);
	o->x = (struct extras){.threads = 1, .accept = "reuseport", .wait_ns = 20000};
	const struct server_option extra[] = {
		{"edge", OPT_FLAG, &o->x.edge, 0, 0, NULL, "a flag"},
		{"threads", OPT_COUNT, &o->x.threads, 1, 64, "T", "a count with a floor"},
		{"workers", OPT_COUNT, &o->x.workers, 0, 64, "P", "a count from 0"},
		{"accept", OPT_STRING, &o->x.accept, 0, 0, "HOW", "a string"},
		{"batch-wait", OPT_DURATION, &o->x.wait_ns, 0, 1000000000u, "TIME", "a duration"},
		{0}};
	o->cfg.name = "fuzz";
	o->r = options_try_parse(&o->cfg, argc, argv, extra, o->err, sizeof o->err);
}

static bool points_into(const char *s, const char *buf, size_t size)
{
	return s >= buf && s <= buf + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome a, b;
	char *copy_a = malloc(size + 1), *copy_b = malloc(size + 1);
	INVARIANT(copy_a && copy_b, "out of memory");
	parse((const char *)data, size, &a, copy_a);
	parse((const char *)data, size, &b, copy_b);

	INVARIANT(a.r == b.r, "%d then %d", a.r, b.r);
	INVARIANT(strcmp(a.err, b.err) == 0, "'%s' then '%s'", a.err, b.err);
	if (a.r == OPTIONS_ERROR) {
		invariant_one_line_error(a.err, sizeof a.err, "echo-fuzz: ");
	} else {
		INVARIANT(a.err[0] == '\0', "'%s' on success", a.err);
		INVARIANT(a.cfg.port <= 65535, "port %llu", (unsigned long long)a.cfg.port);
		INVARIANT(a.cfg.buffer >= 1 && a.cfg.buffer <= 1u << 30, "buffer %llu",
			  (unsigned long long)a.cfg.buffer);
		INVARIANT(a.cfg.max_conns <= UINT32_MAX, "max-conns %llu", (unsigned long long)a.cfg.max_conns);
		INVARIANT(a.x.threads >= 1 && a.x.threads <= 64, "threads %llu", (unsigned long long)a.x.threads);
		INVARIANT(a.x.workers <= 64, "workers %llu", (unsigned long long)a.x.workers);
		INVARIANT(a.x.wait_ns <= 1000000000u, "batch-wait %llu", (unsigned long long)a.x.wait_ns);
		INVARIANT(*a.cfg.bind && (strcmp(a.cfg.bind, "127.0.0.1") == 0 ||
			  points_into(a.cfg.bind, copy_a, size)), "bind");
		INVARIANT(!a.cfg.stats_path || (*a.cfg.stats_path && points_into(a.cfg.stats_path, copy_a, size)),
			  "stats");
		INVARIANT(*a.x.accept, "accept");
		INVARIANT(a.cfg.port == b.cfg.port && a.cfg.buffer == b.cfg.buffer &&
			  a.cfg.max_conns == b.cfg.max_conns && a.x.edge == b.x.edge &&
			  a.x.threads == b.x.threads && a.x.workers == b.x.workers &&
			  a.x.wait_ns == b.x.wait_ns, "two parses of one argv differ");
	}
	free(copy_a);
	free(copy_b);
	return 0;
}
