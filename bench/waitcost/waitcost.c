/* waitcost.c - the cost of one wait: select, poll, epoll_wait, io_uring and a busy read() pass,
 * each asked which of N registered fds are readable when exactly K are.
 *
 * What it shows: select and poll pay for every registered fd on every call, so their time per call
 * grows linearly in N; epoll_wait and io_uring pay for the K ready ones only; the busy pass pays a
 * failed read() per idle fd. The servers (servers/) show the same thing inside whole echo loops;
 * this isolates the wait itself, the quantity behind Kerrisk's LCA 2006 table.
 *
 * For each N in --fds and K in --ready (K <= N) it builds a set (fds.h: the peers live in a child
 * process), times each mechanism on it (measure.h), and writes one CSV row per mechanism,
 * documented in results/README.md; epoll_ctl ADD/MOD/DEL costs are rows too. Progress and
 * skipped mechanisms go to stderr.
 *
 * Run: build/bench/waitcost/waitcost --fds 100,10k --ready 1 --reps 11
 */
#include "waitcost.h"

#include "fds.h"
#include "measure.h"
#include "mechanisms.h"
#include "units.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_LIST 16
#define MAX_N 1000000

struct list {
	int v[MAX_LIST], n;
};

static struct config {
	struct list fds, ready, ctl_fds;
	const struct mech *mechs[8];
	int nmechs;
	bool epoll_ctl, self_test;
	bool sockets[2]; /* [SOCK_TCP], [SOCK_UNIX]: which kinds of set to build */
	int reps;
	int64_t rep_ns;
	const char *csv;
} cfg = {
	.fds = {{10, 100, 1000, 10000, 19000}, 5},
	.ready = {{1, 100}, 2},
	.ctl_fds = {{1000, 10000}, 2},
	.reps = 11,
	.rep_ns = 7000000,
	.sockets = {[SOCK_TCP] = true},
};

static _Noreturn void usage_error(const char *what, const char *detail)
{
	fprintf(stderr, "waitcost: %s%s (see --help)\n", what, detail);
	exit(2);
}

static void usage(void)
{
	printf("usage: waitcost [options]\n\n"
	       "Time per call of select, poll, epoll_wait, io_uring and a busy read() pass over N\n"
	       "registered fds of which K are readable. CSV on stdout (or --csv), progress on stderr.\n\n"
	       "options:\n"
	       "  --fds LIST          N values (default 10,100,1000,10000,19000)\n"
	       "  --ready LIST        K values; K > N is skipped (default 1,100)\n"
	       "  --mechanisms LIST   of select,poll,epoll,uring,busy,epoll_ctl (default all)\n"
	       "  --ctl-fds LIST      N values for the epoll_ctl rows, at the smallest K (default 1000,10000)\n"
	       "  --reps R            timed repetitions after %d warm-up ones (default 11)\n"
	       "  --rep-time T        target length of a repetition (default 7ms)\n"
	       "  --unix              AF_UNIX socketpairs instead of TCP over loopback\n"
	       "  --sockets LIST      tcp,unix: the kinds of set to build (default tcp; TCP rows first)\n"
	       "  --csv FILE          write the CSV to FILE\n"
	       "  --self-test         check the sets and every mechanism's view of them, then exit\n"
	       "  --help              show this help\n\n"
	       "Numbers take units: 10k, 7ms.\n",
	       WARMUP);
}

static void parse_list(const char *opt, const char *arg, struct list *l, uint64_t min, uint64_t max)
{
	char what[128], *copy = strdup(arg), *save = NULL;
	if (!copy)
		die("strdup");
	snprintf(what, sizeof what, "--%s '%s'", opt, arg);
	l->n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (!parse_units(tok, UNIT_COUNT, &v))
			usage_error(what, ": not a list of numbers");
		if (v < min || v > max) {
			char range[64];
			snprintf(range, sizeof range, ": %llu out of range %llu..%llu", (unsigned long long)v,
				 (unsigned long long)min, (unsigned long long)max);
			usage_error(what, range);
		}
		if (l->n == MAX_LIST)
			usage_error(what, ": more than 16 values");
		l->v[l->n++] = (int)v;
	}
	free(copy);
	if (l->n == 0)
		usage_error(what, ": empty list");
}

static void parse_mechanisms(const char *arg)
{
	char what[128], *copy = strdup(arg), *save = NULL;
	if (!copy)
		die("strdup");
	snprintf(what, sizeof what, "--mechanisms '%s'", arg);
	cfg.nmechs = 0;
	cfg.epoll_ctl = false;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct mech *m = mech_find(tok);
		if (strcmp(tok, "epoll_ctl") == 0)
			cfg.epoll_ctl = true;
		else if (!m)
			usage_error(what, ": not one of select,poll,epoll,uring,busy,epoll_ctl");
		else if (cfg.nmechs < 8)
			cfg.mechs[cfg.nmechs++] = m;
	}
	free(copy);
	if (!cfg.nmechs && !cfg.epoll_ctl)
		usage_error(what, ": empty list");
}

static void parse_sockets(const char *arg)
{
	char what[128], *copy = strdup(arg), *save = NULL;
	if (!copy)
		die("strdup");
	snprintf(what, sizeof what, "--sockets '%s'", arg);
	cfg.sockets[SOCK_TCP] = cfg.sockets[SOCK_UNIX] = false;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "tcp") == 0)
			cfg.sockets[SOCK_TCP] = true;
		else if (strcmp(tok, "unix") == 0)
			cfg.sockets[SOCK_UNIX] = true;
		else
			usage_error(what, ": not a list of tcp,unix");
	}
	free(copy);
	if (!cfg.sockets[SOCK_TCP] && !cfg.sockets[SOCK_UNIX])
		usage_error(what, ": empty list");
}

static void parse_options(int argc, char **argv)
{
	enum { O_FDS, O_READY, O_MECH, O_CTL, O_REPS, O_REPTIME, O_UNIX, O_SOCKETS, O_CSV, O_SELF, O_HELP };
	static const struct option longopts[] = {
		{"fds", required_argument, NULL, O_FDS},        {"ready", required_argument, NULL, O_READY},
		{"mechanisms", required_argument, NULL, O_MECH}, {"ctl-fds", required_argument, NULL, O_CTL},
		{"reps", required_argument, NULL, O_REPS},      {"rep-time", required_argument, NULL, O_REPTIME},
		{"unix", no_argument, NULL, O_UNIX},            {"sockets", required_argument, NULL, O_SOCKETS},
		{"csv", required_argument, NULL, O_CSV},
		{"self-test", no_argument, NULL, O_SELF},       {"help", no_argument, NULL, O_HELP},
		{0},
	};
	for (int i = 0; mechs[i]; i++)
		cfg.mechs[cfg.nmechs++] = mechs[i];
	cfg.epoll_ctl = true;
	opterr = 0; /* getopt's own messages take two lines; ours take one */
	int o;
	uint64_t v;
	char what[128];
	while ((o = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		snprintf(what, sizeof what, "%s '%s'", argv[optind - 1], optarg ? optarg : "");
		switch (o) {
		case O_FDS: parse_list("fds", optarg, &cfg.fds, 1, MAX_N); break;
		case O_READY: parse_list("ready", optarg, &cfg.ready, 1, MAX_N); break;
		case O_CTL: parse_list("ctl-fds", optarg, &cfg.ctl_fds, 1, MAX_N); break;
		case O_MECH: parse_mechanisms(optarg); break;
		case O_REPS:
			if (!parse_units(optarg, UNIT_COUNT, &v) || v < 1 || v > 1000)
				usage_error(what, ": not a count 1..1000");
			cfg.reps = (int)v;
			break;
		case O_REPTIME:
			if (!parse_units(optarg, UNIT_DURATION, &v) || v < 100000 || v > 10000000000ull)
				usage_error(what, ": not a duration 100us..10s");
			cfg.rep_ns = (int64_t)v;
			break;
		case O_UNIX: cfg.sockets[SOCK_TCP] = false, cfg.sockets[SOCK_UNIX] = true; break;
		case O_SOCKETS: parse_sockets(optarg); break;
		case O_CSV:
			if (!*optarg)
				usage_error("--csv", ": empty file name");
			cfg.csv = optarg;
			break;
		case O_SELF: cfg.self_test = true; break;
		case O_HELP: usage(); exit(0);
		case ':': usage_error(argv[optind - 1], " needs a value");
		default: usage_error("unknown option ", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument ", argv[optind]);

	/* The set, plus stdio, the CSV, the control socket, a listener or a batch of unix ends in
	 * flight, and an epoll or io_uring fd, must fit under the fd limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	int spare = cfg.sockets[SOCK_UNIX] ? 270 : 20;
	for (int i = 0; i < cfg.fds.n; i++)
		if ((rlim_t)cfg.fds.v[i] + (rlim_t)spare > rl.rlim_cur) {
			snprintf(what, sizeof what, "--fds %d", cfg.fds.v[i]);
			char detail[96];
			snprintf(detail, sizeof detail, ": needs %d more fds than RLIMIT_NOFILE %llu allows", spare,
				 (unsigned long long)rl.rlim_cur);
			usage_error(what, detail);
		}
}

static void row(FILE *out, const char *mech, const struct fdset *s, const struct summary *sum, bool per_ready)
{
	fprintf(out, "%s,%d,%d,%d,%ld,%.1f,%.1f,%.1f,", mech, s->n, s->k, sum->reps, sum->calls, sum->median,
		sum->min, sum->max);
	if (per_ready)
		fprintf(out, "%.1f", sum->median / s->k);
	fprintf(out, ",%s\n", sock_kind_name(s->kind));
	if (fflush(out) == EOF)
		die("writing the CSV");
}

static bool in_list(const struct list *l, int v)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

static int smallest(const struct list *l)
{
	int m = l->v[0];
	for (int i = 1; i < l->n; i++)
		if (l->v[i] < m)
			m = l->v[i];
	return m;
}

static void run_set(FILE *out, int n, int k, enum sock_kind kind)
{
	struct fdset s;
	int64_t t0 = now_ns();
	fdset_build(&s, n, k, kind);
	fprintf(stderr, "waitcost: %s N=%d K=%d: set built in %.2f s;", sock_kind_name(kind), n, k,
		(double)(now_ns() - t0) / 1e9);
	for (int i = 0; i < cfg.nmechs; i++) {
		const struct mech *m = cfg.mechs[i];
		const char *why = m->unusable(&s);
		if (why) {
			fprintf(stderr, " %s skipped (%s);", m->name, why);
			continue;
		}
		struct summary sum;
		measure(m, &s, cfg.reps, cfg.rep_ns, &sum);
		row(out, m->name, &s, &sum, true);
		fprintf(stderr, " %s %.0f ns;", m->name, sum.median);
	}
	if (cfg.epoll_ctl && in_list(&cfg.ctl_fds, n) && k == smallest(&cfg.ready)) {
		static const char *const names[3] = {"epoll_ctl_add", "epoll_ctl_mod", "epoll_ctl_del"};
		struct summary sum[3];
		measure_epoll_ctl(&s, cfg.reps, sum);
		for (int o = 0; o < 3; o++)
			row(out, names[o], &s, &sum[o], false);
		fprintf(stderr, " epoll_ctl add/mod/del %.0f/%.0f/%.0f ns;", sum[0].median, sum[1].median,
			sum[2].median);
	}
	fprintf(stderr, " total %.2f s\n", (double)(now_ns() - t0) / 1e9);
	fdset_free(&s);
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	if (cfg.self_test)
		return self_test();
	FILE *out = stdout;
	if (cfg.csv && !(out = fopen(cfg.csv, "w")))
		die("open %s", cfg.csv);
	fprintf(out, "mechanism,fds,ready,reps,calls_per_rep,median_ns_per_call,min_ns_per_call,"
		     "max_ns_per_call,median_ns_per_ready,socket\n");
	for (int kind = SOCK_TCP; kind <= SOCK_UNIX; kind++)
		for (int i = 0; cfg.sockets[kind] && i < cfg.fds.n; i++)
			for (int j = 0; j < cfg.ready.n; j++)
				if (cfg.ready.v[j] <= cfg.fds.v[i])
					run_set(out, cfg.fds.v[i], cfg.ready.v[j], kind);
	if (fflush(out) == EOF || ferror(out) || (out != stdout && fclose(out) == EOF))
		die("writing the CSV");
	return 0;
}
