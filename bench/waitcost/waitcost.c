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
#include "util.h"

#include "clock.h"
#include "fatal.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_N 1000000
#define EPOLL_CTL_WORD "epoll_ctl" /* not a mechanism of mechs[]: rows of its own (measure.h) */

static struct config {
	struct opt_list fds, ready, ctl_fds;
	const struct mech *mechs[OPT_LIST_MAX];
	int nmechs;
	bool epoll_ctl, self_test;
	bool sockets[2]; /* [SOCK_TCP], [SOCK_UNIX]: which kinds of set to build */
	uint64_t reps, rep_ns;
	const char *csv;
} cfg = {
	.fds = {{10, 100, 1000, 10000, 19000}, 5},
	.ready = {{1, 100}, 2},
	.ctl_fds = {{1000, 10000}, 2},
	.reps = 11,
	.rep_ns = 7000000,
};

#define STR_(x) #x
#define STR(x) STR_(x)
static const struct opts_program program = {
	"waitcost",
	"usage: waitcost [options]\n\n"
	"Time per call of select, poll, epoll_wait, io_uring and a busy read() pass over N\n"
	"registered fds of which K are readable. CSV on stdout (or --csv), progress on stderr.\n\n"
	"options:\n",
	"\nNumbers take units: 10k, 7ms.\n",
	19,
};

static void parse_options(int argc, char **argv)
{
	/* The words of --mechanisms: every mechanism of mechs[], then epoll_ctl; all by default. */
	const char *mech_words[OPT_LIST_MAX + 2];
	int nwords = 0;
	for (; mechs[nwords] && nwords < OPT_LIST_MAX; nwords++)
		mech_words[nwords] = mechs[nwords]->name;
	mech_words[nwords] = EPOLL_CTL_WORD;
	mech_words[nwords + 1] = NULL;
	struct opt_words mechanisms = {mech_words, {.n = 0}};
	for (int i = 0; i <= nwords; i++)
		mechanisms.chosen.v[mechanisms.chosen.n++] = (uint64_t)i;
	static const char *const socket_words[] = {[SOCK_TCP] = "tcp", [SOCK_UNIX] = "unix", NULL};
	struct opt_words sockets = {socket_words, {{SOCK_TCP}, 1}};

	const struct opt opts[] = {
		{"fds", OPT_LIST, &cfg.fds, 1, MAX_N, "LIST", "N values (default 10,100,1000,10000,19000)"},
		{"ready", OPT_LIST, &cfg.ready, 1, MAX_N, "LIST", "K values; K > N is skipped (default 1,100)"},
		{"mechanisms", OPT_WORDS, &mechanisms, 0, 0, "LIST",
		 "of select,poll,epoll,uring,busy,epoll_ctl (default all)"},
		{"ctl-fds", OPT_LIST, &cfg.ctl_fds, 1, MAX_N, "LIST",
		 "N values for the epoll_ctl rows, at the smallest K (default 1000,10000)"},
		{"reps", OPT_COUNT, &cfg.reps, 1, 1000, "R",
		 "timed repetitions after " STR(WARMUP) " warm-up ones (default 11)"},
		{"rep-time", OPT_DURATION, &cfg.rep_ns, 100000, 10000000000ull, "T",
		 "target length of a repetition (default 7ms)"},
		{"unix", OPT_SET, &sockets, SOCK_UNIX, SOCK_UNIX, NULL, "AF_UNIX socketpairs instead of TCP over loopback"},
		{"sockets", OPT_WORDS, &sockets, 0, 0, "LIST",
		 "tcp,unix: the kinds of set to build (default tcp; TCP rows first)"},
		{"csv", OPT_STRING, &cfg.csv, 0, 0, "FILE", "write the CSV to FILE"},
		{"self-test", OPT_FLAG, &cfg.self_test, 0, 0, NULL,
		 "check the sets and every mechanism's view of them, then exit"},
		{"help", OPT_HELP, NULL, 0, 0, NULL, "show this help"},
		{0},
	};
	opts_parse(&program, opts, argc, argv);
	for (unsigned i = 0; i < mechanisms.chosen.n; i++) {
		uint64_t w = mechanisms.chosen.v[i];
		if (w == (uint64_t)nwords)
			cfg.epoll_ctl = true;
		else
			cfg.mechs[cfg.nmechs++] = mechs[w];
	}
	for (unsigned i = 0; i < sockets.chosen.n; i++)
		cfg.sockets[sockets.chosen.v[i]] = true;

	/* The set, plus stdio, the CSV, the control socket, a listener or a batch of unix ends in
	 * flight, and an epoll or io_uring fd, must fit under the fd limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		fatal_errno("getrlimit");
	int spare = cfg.sockets[SOCK_UNIX] ? 270 : 20;
	for (unsigned i = 0; i < cfg.fds.n; i++)
		if ((rlim_t)cfg.fds.v[i] + (rlim_t)spare > rl.rlim_cur) {
			char what[64], detail[96];
			snprintf(what, sizeof what, "--fds %llu", (unsigned long long)cfg.fds.v[i]);
			snprintf(detail, sizeof detail, ": needs %d more fds than RLIMIT_NOFILE %llu allows", spare,
				 (unsigned long long)rl.rlim_cur);
			opts_fail(program.name, what, detail);
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
		fatal_errno("writing the CSV");
}

static bool in_list(const struct opt_list *l, int v)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->v[i] == (uint64_t)v)
			return true;
	return false;
}

static int smallest(const struct opt_list *l)
{
	uint64_t m = l->v[0];
	for (unsigned i = 1; i < l->n; i++)
		if (l->v[i] < m)
			m = l->v[i];
	return (int)m;
}

static void run_set(FILE *out, int n, int k, enum sock_kind kind)
{
	struct fdset s;
	uint64_t t0 = now_ns();
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
		measure(m, &s, (int)cfg.reps, (int64_t)cfg.rep_ns, &sum);
		row(out, m->name, &s, &sum, true);
		fprintf(stderr, " %s %.0f ns;", m->name, sum.median);
	}
	if (cfg.epoll_ctl && in_list(&cfg.ctl_fds, n) && k == smallest(&cfg.ready)) {
		static const char *const names[3] = {"epoll_ctl_add", "epoll_ctl_mod", "epoll_ctl_del"};
		struct summary sum[3];
		measure_epoll_ctl(&s, (int)cfg.reps, sum);
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
		fatal_errno("open %s", cfg.csv);
	fprintf(out, "mechanism,fds,ready,reps,calls_per_rep,median_ns_per_call,min_ns_per_call,"
		     "max_ns_per_call,median_ns_per_ready,socket\n");
	for (int kind = SOCK_TCP; kind <= SOCK_UNIX; kind++)
		for (unsigned i = 0; cfg.sockets[kind] && i < cfg.fds.n; i++)
			for (unsigned j = 0; j < cfg.ready.n; j++)
				if (cfg.ready.v[j] <= cfg.fds.v[i])
					run_set(out, (int)cfg.fds.v[i], (int)cfg.ready.v[j], kind);
	if (fflush(out) == EOF || ferror(out) || (out != stdout && fclose(out) == EOF))
		fatal_errno("writing the CSV");
	return 0;
}
