/* config.c - the loadgen's command line: one option table (lib's opts.h), then the checks that
 * span options (--active <= --connections, --tick needs --rate) and turn text into addresses.
 *
 * Every mistake is one line on stderr and exit 2, never a run that measures something other than
 * what was asked: a pid beyond pid_t is refused rather than wrapped (4294967297 would be pid 1),
 * and a --source list must be all IPv4 addresses.
 */
#include "loadgen.h"

#include "fatal.h"
#include "opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NAME "loadgen"

static const struct opts_program program = {
	NAME,
	"usage: loadgen --port PORT [options]\n\n"
	"Opens --connections N to an echo server, of which --active M send requests of --size\n"
	"bytes, checks every byte that comes back, and reports throughput and latency percentiles\n"
	"of the measured window (after --warmup) as JSON (stdout or --json) and a summary (stderr).\n"
	"Without --rate: closed loop, --pipeline requests in flight per active connection; with\n"
	"--rate, requests go in batches of --pipeline, written at once to one connection.\n\n",
	"\nNumbers take units: 10k, 4KiB, 2s, 250ms. Exit status: 0 ok, 1 errors or starved\n"
	"connections or a failed set-up, 2 bad usage.\n",
	26,
};

static void parse_pid(struct config *cfg, const char *pid)
{
	char *end;
	errno = 0;
	long v = strtol(pid, &end, 10);
	/* pid_t is an int: a larger number would wrap, and 4294967297 would signal pid 1. */
	if (errno || *end || v <= 0 || v > INT_MAX)
		opts_fail(NAME, "--server-pid: not a pid: ", pid);
	if (kill((pid_t)v, 0) != 0)
		opts_fail(NAME, "--server-pid: no such process: ", pid);
	cfg->server_pid = v;
}

static void parse_sources(struct config *cfg)
{
	char *list = strdup(cfg->sources);
	/* "a,b": at most one address per two characters, plus one */
	cfg->source_addrs = calloc(strlen(cfg->sources) / 2 + 1, sizeof *cfg->source_addrs);
	if (!list || !cfg->source_addrs)
		fatal_errno("--source");
	for (char *save, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
		if (inet_pton(AF_INET, a, &cfg->source_addrs[cfg->nsources++]) != 1)
			opts_fail(NAME, "--source: not an IPv4 address: ", a);
	free(list);
}

void config_parse(struct config *cfg, int argc, char **argv)
{
	const char *pid = NULL;
	/* duration_ns 0: not given (the option itself must be more than 0), see below */
	*cfg = (struct config){.host = "127.0.0.1", .connections = 1, .size = 64, .pipeline = 1,
			       .threads = 1, .seed = 1, .warmup_ns = 1000000000u, .timeout_ns = 10000000000u};
	const struct opt opts[] = {
		{"host", OPT_STRING, &cfg->host, 0, 0, "ADDR", "server address (IPv4, default 127.0.0.1)"},
		{"port", OPT_COUNT, &cfg->port, 1, 65535, "PORT", "server port (required)"},
		{"connections", OPT_COUNT, &cfg->connections, 1, 1000000, "N", "connections to open (default 1)"},
		{"active", OPT_COUNT, &cfg->active, 0, 1000000, "M", "of which send requests (default: all)"},
		{"size", OPT_SIZE, &cfg->size, 1, 1u << 30, "BYTES", "request size (default 64)"},
		{"duration", OPT_DURATION, &cfg->duration_ns, 1, UINT64_MAX, "TIME", "measured window (default 5s)"},
		{"warmup", OPT_DURATION, &cfg->warmup_ns, 0, UINT64_MAX, "TIME", "traffic before the window (default 1s)"},
		{"rate", OPT_COUNT, &cfg->rate, 0, UINT64_MAX, "R", "total requests per second (default: closed loop)"},
		{"pipeline", OPT_COUNT, &cfg->pipeline, 1, 1024, "K", "requests in flight per connection; --rate: per batch (1)"},
		{"threads", OPT_COUNT, &cfg->threads, 1, 64, "T", "threads, each with its own event loop (1)"},
		{"requests", OPT_COUNT, &cfg->requests, 0, UINT64_MAX, "K",
		 "stop after K responses in the window (fixed work)"},
		{"connect-rate", OPT_COUNT, &cfg->connect_rate, 0, UINT64_MAX, "R",
		 "connections opened per second (no limit)"},
		{"source", OPT_STRING, &cfg->sources, 0, 0, "ADDR,...", "source addresses, to use more local ports"},
		{"tick", OPT_DURATION, &cfg->tick_ns, 0, UINT64_MAX, "TIME",
		 "--rate: send in one burst per TIME (default 0: evenly)"},
		{"start-at", OPT_COUNT, &cfg->start_at_ns, 1, UINT64_MAX, "NS",
		 "start the warm-up at this CLOCK_REALTIME instant (ns since 1970), once connected"},
		{"linger", OPT_DURATION, &cfg->linger_ns, 0, UINT64_MAX, "TIME",
		 "hold the connections open this long after the window (default 0)"},
		{"timeout", OPT_DURATION, &cfg->timeout_ns, 1, UINT64_MAX, "TIME", "per request (default 10s)"},
		{"server-pid", OPT_STRING, &pid, 0, 0, "PID", "SIGUSR1 it at the start and end of the window"},
		{"perf-ctl", OPT_STRING, &cfg->perf_ctl, 0, 0, "CTL[,ACK]",
		 "perf stat --control fifo: enable/disable at the same instants"},
		{"json", OPT_STRING, &cfg->json_path, 0, 0, "FILE", "write the JSON result there (default stdout)"},
		{"hist", OPT_STRING, &cfg->hist_path, 0, 0, "FILE", "write the whole latency histogram there"},
		{"seed", OPT_COUNT, &cfg->seed, 0, UINT64_MAX, "N", "seed of the payload content (default 1)"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "show this help"},
		{0},
	};
	opts_parse(&program, opts, argc, argv);

	if (!cfg->port)
		opts_fail(NAME, "--port is required", "");
	if (!cfg->active)
		cfg->active = cfg->connections;
	if (cfg->active > cfg->connections)
		opts_fail(NAME, "--active must not exceed --connections", "");
	if (cfg->threads > cfg->connections)
		opts_fail(NAME, "--threads must not exceed --connections", "");
	if (cfg->tick_ns && !cfg->rate)
		opts_fail(NAME, "--tick needs --rate", "");
	if (!cfg->duration_ns) /* fixed work (--requests): the window ends at K responses */
		cfg->duration_ns = cfg->requests ? 600ull * 1000000000u : 5000000000u;
	cfg->dest = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
	if (inet_pton(AF_INET, cfg->host, &cfg->dest.sin_addr) != 1)
		opts_fail(NAME, "--host: not an IPv4 address: ", cfg->host);
	if (pid)
		parse_pid(cfg, pid);
	if (cfg->sources)
		parse_sources(cfg);
}

/* Every connection is an fd: check the limit before opening thousands of them. */
void config_preflight(const struct config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal_errno("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0)
			fatal_errno("getrlimit RLIMIT_NOFILE");
	}
	uint64_t need = cfg->connections + 16 + cfg->threads;
	if (need > rl.rlim_cur) {
		fprintf(stderr, "loadgen: %llu connections need about %llu fds, but RLIMIT_NOFILE is %llu (hard "
			"limit %llu): lower --connections or raise the limit (ulimit -n, limits.conf)\n",
			(unsigned long long)cfg->connections, (unsigned long long)need,
			(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
		exit(1);
	}
}
