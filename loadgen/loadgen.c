/* loadgen.c - the load generator: N connections, M of them active, closed loop or a fixed rate.
 *
 * The loadgen is half of every measurement: if it is slow it measures itself, if it waits for
 * replies it hides stalls, if it does not check what comes back it cannot tell an echo server from
 * a broken one. So:
 *  - threads like wrk: each runs its own epoll loop over its share of the connections (worker.c);
 *    counters and histograms are per thread and merged after join;
 *  - the M active connections are spread evenly over the N: active a is connection a*N/M; the
 *    others stay connected and idle for the whole run;
 *  - at a fixed rate, latency counts from each request's scheduled time (no coordinated omission);
 *    the uncorrected figure is reported beside it;
 *  - every response is checked byte for byte (conn.c);
 *  - it never hangs: each phase has a deadline, a request has --timeout, and a server that never
 *    answers leaves "starved" active connections and a non-zero exit;
 *  - nothing sent goes unaccounted: the requests in flight when the window ends are waited for
 *    (at most --timeout), so a response that never comes is a timeout even late in the run.
 * The main thread is the clock: connect, warm up, then the measured window, bracketed by SIGUSR1 to
 * the server (--server-pid) and by enable/disable on perf's control fifo (--perf-ctl), so that the
 * server's stats and the kernel's count cover the same window as the loadgen's.
 */
#include "loadgen.h"
#include "report.h"
#include "units.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

_Atomic int run_phase = PHASE_CONNECT;
_Atomic uint64_t window_responses;
_Atomic unsigned workers_connected;
_Atomic unsigned workers_drained;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One line, always: an argument echoed here may hold a newline (the servers' fuzzer found that in
 * their parser, options.c; this is the same fix), so control characters are shown as '?'. */
static _Noreturn void usage_error(const char *what, const char *detail)
{
	char msg[256];
	snprintf(msg, sizeof msg, "loadgen: %s%s (see --help)", what, detail);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%s\n", msg);
	exit(2);
}

enum opt_type { T_COUNT, T_SIZE, T_DURATION, T_STRING, T_PID, T_FLAG };
struct opt {
	const char *name;
	enum opt_type type;
	void *target;
	const char *arg, *help;
};

static void usage(const struct opt *opts, size_t n)
{
	printf("usage: loadgen --port PORT [options]\n\n"
	       "Opens --connections N to an echo server, of which --active M send requests of --size\n"
	       "bytes, checks every byte that comes back, and reports throughput and latency percentiles\n"
	       "of the measured window (after --warmup) as JSON (stdout or --json) and a summary (stderr).\n"
	       "Without --rate: closed loop, --pipeline requests in flight per active connection.\n\n");
	for (size_t i = 0; i < n; i++) {
		char left[48];
		snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		printf("  %-26s %s\n", left, opts[i].help);
	}
	printf("\nNumbers take units: 10k, 4KiB, 2s, 250ms. Exit status: 0 ok, 1 errors or starved\n"
	       "connections or a failed set-up, 2 bad usage.\n");
}

static void parse(struct config *cfg, int argc, char **argv)
{
	bool help = false;
	const char *pid = NULL;
	*cfg = (struct config){.host = "127.0.0.1", .connections = 1, .size = 64, .pipeline = 1,
			       .threads = 1, .seed = 1, .duration_ns = 5000000000u,
			       .warmup_ns = 1000000000u, .timeout_ns = 10000000000u};
	const struct opt opts[] = {
		{"host", T_STRING, &cfg->host, "ADDR", "server address (IPv4, default 127.0.0.1)"},
		{"port", T_COUNT, &cfg->port, "PORT", "server port (required)"},
		{"connections", T_COUNT, &cfg->connections, "N", "connections to open (default 1)"},
		{"active", T_COUNT, &cfg->active, "M", "of which send requests (default: all)"},
		{"size", T_SIZE, &cfg->size, "BYTES", "request size (default 64)"},
		{"duration", T_DURATION, &cfg->duration_ns, "TIME", "measured window (default 5s)"},
		{"warmup", T_DURATION, &cfg->warmup_ns, "TIME", "traffic before the window (default 1s)"},
		{"rate", T_COUNT, &cfg->rate, "R", "total requests per second (default: closed loop)"},
		{"pipeline", T_COUNT, &cfg->pipeline, "K", "requests in flight per active connection (1)"},
		{"threads", T_COUNT, &cfg->threads, "T", "threads, each with its own event loop (1)"},
		{"requests", T_COUNT, &cfg->requests, "K", "stop after K responses in the window (fixed work)"},
		{"connect-rate", T_COUNT, &cfg->connect_rate, "R", "connections opened per second (no limit)"},
		{"source", T_STRING, &cfg->sources, "ADDR,...", "source addresses, to use more local ports"},
		{"tick", T_DURATION, &cfg->tick_ns, "TIME", "--rate: send in one burst per TIME (default 0: evenly)"},
		{"timeout", T_DURATION, &cfg->timeout_ns, "TIME", "per request (default 10s)"},
		{"server-pid", T_PID, &pid, "PID", "SIGUSR1 it at the start and end of the window"},
		{"perf-ctl", T_STRING, &cfg->perf_ctl, "CTL[,ACK]",
		 "perf stat --control fifo: enable/disable at the same instants"},
		{"json", T_STRING, &cfg->json_path, "FILE", "write the JSON result there (default stdout)"},
		{"hist", T_STRING, &cfg->hist_path, "FILE", "write the whole latency histogram there"},
		{"seed", T_COUNT, &cfg->seed, "N", "seed of the payload content (default 1)"},
		{"help", T_FLAG, &help, NULL, "show this help"},
	};
	enum { NOPTS = sizeof opts / sizeof opts[0] };
	struct option longopts[NOPTS + 1];
	for (int i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){opts[i].name, opts[i].type == T_FLAG ? no_argument : required_argument,
					      NULL, i};
	longopts[NOPTS] = (struct option){0};

	opterr = 0;
	int idx;
	while ((idx = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (idx == '?')
			usage_error("unknown option ", argv[optind - 1]);
		if (idx == ':')
			usage_error(argv[optind - 1], " needs a value");
		const struct opt *o = &opts[idx];
		char what[80];
		snprintf(what, sizeof what, "--%s '%s'", o->name, optarg ? optarg : "");
		switch (o->type) {
		case T_FLAG:
			*(bool *)o->target = true;
			break;
		case T_STRING:
		case T_PID:
			if (!*optarg)
				usage_error(what, ": must not be empty");
			*(const char **)o->target = optarg;
			break;
		case T_COUNT:
		case T_SIZE:
		case T_DURATION:
			if (!parse_units(optarg, o->type == T_COUNT ? UNIT_COUNT : o->type == T_SIZE ? UNIT_SIZE : UNIT_DURATION,
					 o->target))
				usage_error(what, o->type == T_COUNT ? ": not a number" : o->type == T_SIZE ? ": not a size (e.g. 64, 4KiB)"
													    : ": not a duration (e.g. 2s, 500ms)");
			if (o->target == &cfg->duration_ns)
				cfg->duration_set = true;
			break;
		}
	}
	if (optind < argc)
		usage_error("unexpected argument ", argv[optind]);
	if (help) {
		usage(opts, NOPTS);
		exit(0);
	}

	if (!cfg->port)
		usage_error("--port is required", "");
	if (cfg->port > 65535)
		usage_error("--port: out of range 1..65535", "");
	if (cfg->connections == 0 || cfg->connections > 1000000)
		usage_error("--connections: out of range 1..1000000", "");
	if (!cfg->active)
		cfg->active = cfg->connections;
	if (cfg->active > cfg->connections)
		usage_error("--active must not exceed --connections", "");
	if (cfg->size == 0 || cfg->size > (1u << 30))
		usage_error("--size: out of range 1..1GiB", "");
	if (cfg->pipeline == 0 || cfg->pipeline > 1024)
		usage_error("--pipeline: out of range 1..1024", "");
	if (cfg->threads == 0 || cfg->threads > 64 || cfg->threads > cfg->connections)
		usage_error("--threads: out of range 1..64 (and at most --connections)", "");
	if (cfg->duration_ns == 0)
		usage_error("--duration must be more than 0", "");
	if (cfg->tick_ns && !cfg->rate)
		usage_error("--tick needs --rate", "");
	if (cfg->timeout_ns == 0)
		usage_error("--timeout must be more than 0", "");
	if (cfg->requests && !cfg->duration_set)
		cfg->duration_ns = 600ull * 1000000000u; /* fixed work: the window ends at K responses */
	cfg->dest = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
	if (inet_pton(AF_INET, cfg->host, &cfg->dest.sin_addr) != 1)
		usage_error("--host: not an IPv4 address: ", cfg->host);
	if (pid) {
		char *end;
		errno = 0;
		cfg->server_pid = strtol(pid, &end, 10);
		/* pid_t is an int: a larger number would wrap, and 4294967297 would signal pid 1. */
		if (errno || *end || cfg->server_pid <= 0 || cfg->server_pid > INT_MAX)
			usage_error("--server-pid: not a pid: ", pid);
		if (kill((pid_t)cfg->server_pid, 0) != 0)
			usage_error("--server-pid: no such process: ", pid);
	}
	if (cfg->sources) {
		char *list = strdup(cfg->sources);
		if (!list)
			exit(1);
		cfg->source_addrs = calloc(strlen(list) / 2 + 1, sizeof *cfg->source_addrs);
		for (char *save, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
			if (inet_pton(AF_INET, a, &cfg->source_addrs[cfg->nsources++]) != 1)
				usage_error("--source: not an IPv4 address: ", a);
		free(list);
	}
}

/* Every connection is an fd: check the limit before opening thousands of them. */
static void preflight(const struct config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
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

static void explain_connect_failure(const struct config *cfg, int err, uint64_t connected)
{
	fprintf(stderr, "loadgen: connecting to %s:%u failed after %llu of %llu connections: %s", cfg->host,
		(unsigned)cfg->port, (unsigned long long)connected, (unsigned long long)cfg->connections,
		strerror(err));
	switch (err) {
	case ECONNREFUSED:
		fprintf(stderr, " (is the server running? a full listen backlog, net.core.somaxconn, refuses too)\n");
		break;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
		fprintf(stderr, " (out of local ports: see net.ipv4.ip_local_port_range and the connections in "
			"TIME_WAIT; add source addresses with --source 127.0.0.1,127.0.0.2,...)\n");
		break;
	case EMFILE:
	case ENFILE:
		fprintf(stderr, " (out of file descriptors: raise RLIMIT_NOFILE with ulimit -n, or fs.file-max)\n");
		break;
	default:
		fputc('\n', stderr);
	}
}

/* perf stat --control fifo:CTL[,ACK]: with ACK, each command waits for perf's "ack", so that the
 * kernel's count has started before the server's first snapshot is asked for. */
struct perf_ctl {
	int ctl, ack;
};

static void perf_open(struct perf_ctl *p, const char *spec)
{
	*p = (struct perf_ctl){-1, -1};
	if (!spec)
		return;
	char *ctl = strdup(spec), *comma = ctl ? strchr(ctl, ',') : NULL;
	if (!ctl)
		exit(1);
	if (comma)
		*comma = '\0';
	/* Non-blocking opens: a fifo with no perf at the other end fails at once (ENXIO) instead of
	 * hanging here. perf holds both ends open itself (O_RDWR). */
	if ((p->ctl = open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 ||
	    (comma && (p->ack = open(comma + 1, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)) {
		fprintf(stderr, "loadgen: --perf-ctl %s: %s%s\n", spec, strerror(errno),
			errno == ENXIO ? " (no perf stat --control reading that fifo)" : "");
		exit(1);
	}
	free(ctl);
}

static void perf_command(const struct perf_ctl *p, const char *cmd)
{
	if (p->ctl < 0)
		return;
	size_t len = strlen(cmd);
	if (write(p->ctl, cmd, len) != (ssize_t)len) {
		fprintf(stderr, "loadgen: --perf-ctl: write failed: %s\n", strerror(errno));
		return;
	}
	if (p->ack < 0)
		return;
	char buf[16];
	struct pollfd pfd = {.fd = p->ack, .events = POLLIN};
	if (poll(&pfd, 1, 2000) != 1 || read(p->ack, buf, sizeof buf) <= 0)
		fprintf(stderr, "loadgen: --perf-ctl: perf did not acknowledge '%.*s' within 2 s\n",
			(int)len - 1, cmd);
}

/* The window's edges: perf starts counting, then the server snapshots its stats; at the end the
 * other way round. Both brackets then hold the same requests but for the few in flight. */
static void mark_window(const struct config *cfg, const struct perf_ctl *perf, bool start)
{
	if (start)
		perf_command(perf, "enable\n");
	if (cfg->server_pid && kill((pid_t)cfg->server_pid, SIGUSR1) != 0)
		fprintf(stderr, "loadgen: --server-pid %ld: %s\n", cfg->server_pid, strerror(errno));
	if (!start)
		perf_command(perf, "disable\n");
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int main(int argc, char **argv)
{
	struct config cfg;
	parse(&cfg, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	preflight(&cfg);
	payload_init(cfg.seed, cfg.size);

	struct perf_ctl perf;
	perf_open(&perf, cfg.perf_ctl);

	/* Deal the connections: actives round-robin over the threads (so that every thread gets its
	 * share of the load), then the idle ones. */
	struct worker *ws = calloc(cfg.threads, sizeof *ws);
	struct lconn *all = calloc(cfg.connections, sizeof *all);
	struct lconn **actives = calloc(cfg.active, sizeof *actives);
	if (!ws || !all || !actives) {
		perror("loadgen");
		return 1;
	}
	for (uint64_t i = 0; i < cfg.connections; i++)
		all[i] = (struct lconn){.fd = -1, .id = (uint32_t)i};
	for (uint64_t a = 0; a < cfg.active; a++)
		all[a * cfg.connections / cfg.active].active = true;
	/* Each worker's connections are contiguous in `sorted`: its actives first. */
	struct lconn *sorted = calloc(cfg.connections, sizeof *sorted);
	if (!sorted) {
		perror("loadgen");
		return 1;
	}
	size_t pos = 0, apos = 0;
	for (unsigned t = 0; t < cfg.threads; t++) {
		struct worker *w = &ws[t];
		*w = (struct worker){.cfg = &cfg, .ep = -1, .conns = &sorted[pos]};
		hist_init(&w->lat);
		hist_init(&w->lat_uncorrected);
		uint64_t a = 0;
		for (uint64_t i = 0; i < cfg.connections; i++)
			if (all[i].active && a++ % cfg.threads == t)
				sorted[pos++] = all[i];
		w->nactive = (size_t)(&sorted[pos] - w->conns);
		uint64_t k = 0;
		for (uint64_t i = 0; i < cfg.connections; i++)
			if (!all[i].active && k++ % cfg.threads == t)
				sorted[pos++] = all[i];
		w->nconns = (size_t)(&sorted[pos] - w->conns);
		w->actives = &actives[apos];
		for (size_t i = 0; i < w->nactive; i++)
			actives[apos++] = &w->conns[i];
	}
	free(all);

	/* Connect. */
	uint64_t t_connect = now_ns();
	uint64_t connect_deadline = t_connect + 30000000000ull + cfg.timeout_ns +
				    (cfg.connect_rate ? cfg.connections * 1000000000ull / cfg.connect_rate : 0);
	for (unsigned t = 0; t < cfg.threads; t++)
		if (pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]) != 0) {
			perror("loadgen: pthread_create");
			return 1;
		}
	int failed_errno = 0;
	while (atomic_load(&workers_connected) < cfg.threads) {
		for (unsigned t = 0; t < cfg.threads && !failed_errno; t++)
			failed_errno = ws[t].connect_errno;
		if (failed_errno || now_ns() > connect_deadline)
			break;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	if (atomic_load(&workers_connected) < cfg.threads) {
		atomic_store(&run_phase, PHASE_EXIT);
		uint64_t connected = 0;
		for (unsigned t = 0; t < cfg.threads; t++) {
			pthread_join(ws[t].thread, NULL);
			connected += ws[t].connected;
		}
		if (failed_errno)
			explain_connect_failure(&cfg, failed_errno, connected);
		else
			fprintf(stderr, "loadgen: connecting %llu connections took longer than %.0f s\n",
				(unsigned long long)cfg.connections, (double)(connect_deadline - t_connect) / 1e9);
		free(ws);
		free(sorted);
		free(actives);
		free(cfg.source_addrs);
		payload_free();
		return 1;
	}
	uint64_t t_connected = now_ns();

	/* Warm up, then the measured window. */
	uint64_t t_warm = now_ns();
	if (cfg.rate) {
		for (unsigned t = 0; t < cfg.threads; t++) {
			struct worker *w = &ws[t];
			/* this thread's share: R * M_t / M requests per second, staggered between threads */
			w->rate_num = 1000000000ull * cfg.active;
			w->rate_den = cfg.rate * (w->nactive ? w->nactive : 1);
			w->rate_start_ns = t_warm + t * 1000000000ull / cfg.rate / cfg.threads;
		}
	}
	atomic_store(&run_phase, PHASE_WARMUP);
	sleep_until(t_warm + cfg.warmup_ns);

	struct rusage ru0, ru1;
	mark_window(&cfg, &perf, true);
	getrusage(RUSAGE_SELF, &ru0);
	uint64_t t0 = now_ns();
	atomic_store(&run_phase, PHASE_MEASURE);
	uint64_t end = t0 + cfg.duration_ns;
	int phase;
	while ((phase = atomic_load(&run_phase)) == PHASE_MEASURE && now_ns() < end)
		sleep_until(cfg.requests ? now_ns() + 1000000 : end); /* --requests: look every 1 ms */
	atomic_store(&run_phase, PHASE_DONE);
	uint64_t t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	mark_window(&cfg, &perf, false);
	/* The workers drain (worker.c): each request in flight is answered or times out. */
	while (atomic_load(&workers_drained) < cfg.threads)
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	atomic_store(&run_phase, PHASE_EXIT); /* now the workers may close their connections */
	if (perf.ctl >= 0)
		close(perf.ctl);
	if (perf.ack >= 0)
		close(perf.ack);

	for (unsigned t = 0; t < cfg.threads; t++)
		pthread_join(ws[t].thread, NULL);

	struct result r = {.cfg = &cfg, .t_connect = t_connect, .t_connected = t_connected, .t_warm = t_warm,
			   .t0 = t0, .t1 = t1, .requests_reached = cfg.requests && phase == PHASE_DONE};
	hist_init(&r.lat);
	hist_init(&r.lat_uncorrected);
	r.cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 +
		   (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
		   (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
		   (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	r.user_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 +
		    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec);
	for (unsigned t = 0; t < cfg.threads; t++) {
		struct worker *w = &ws[t];
		hist_merge(&r.lat, &w->lat);
		hist_merge(&r.lat_uncorrected, cfg.rate ? &w->lat_uncorrected : &w->lat);
		r.responses += w->responses;
		r.bytes_in += w->bytes_in;
		r.bytes_out += w->bytes_out;
		for (int k = 0; k < ERR__COUNT; k++)
			r.errors[k] += w->errors[k];
		for (size_t i = 0; i < w->nactive; i++)
			r.starved += !w->conns[i].responded;
	}
	int status = report(&r);
	free(ws);
	free(sorted);
	free(actives);
	free(cfg.source_addrs);
	payload_free();
	return status;
}
