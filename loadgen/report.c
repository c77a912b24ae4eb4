/* report.c - turn the merged counters into the summary and the JSON object.
 *
 * The JSON keys that scripts rely on are fixed (results/README.md documents them): requests,
 * achieved_rps, offered_rps (null in closed loop), errors, starved, latency_us {p50 p90 p99 p999
 * p9999 max mean}, loadgen_cpu_us_per_req, loadgen_cpu_util, loadgen_bound (null in closed loop,
 * where only bench/run, which also knows the server's utilization, can tell who set the pace).
 */
#include "report.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static const double quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
static const char *const qnames[] = {"p50", "p90", "p99", "p999", "p9999"};
enum { NQ = sizeof quantiles / sizeof quantiles[0] };

static void latency_json(FILE *f, const struct hist *h)
{
	fprintf(f, "{");
	for (int i = 0; i < NQ; i++)
		fprintf(f, "\"%s\":%.3f,", qnames[i], (double)hist_quantile(h, quantiles[i]) / 1e3);
	fprintf(f, "\"max\":%.3f,\"mean\":%.3f,\"count\":%llu}", (double)h->max / 1e3 * (h->count > 0),
		hist_mean(h) / 1e3, (unsigned long long)h->count);
}

/* The cores the loadgen may run on (taskset), at most one per thread. */
static unsigned usable_cores(unsigned threads)
{
	cpu_set_t set;
	unsigned n = 1;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = (unsigned)CPU_COUNT(&set);
	return threads < n ? threads : n;
}

int report(const struct result *r)
{
	const struct config *cfg = r->cfg;
	double window_s = (double)(r->t1 - r->t0) / 1e9;
	double achieved = window_s > 0 ? (double)r->responses / window_s : 0;
	uint64_t errors = 0;
	for (int k = 0; k < ERR__COUNT; k++)
		errors += r->errors[k];
	double cpu_per_req = r->responses ? r->cpu_us / (double)r->responses : 0;
	double util = window_s > 0 ? r->cpu_us / 1e6 / window_s / usable_cores((unsigned)cfg->threads) : 0;
	bool bound = cfg->rate && (achieved < 0.95 * (double)cfg->rate || util >= 0.95);
	bool incomplete = cfg->requests && !r->requests_reached;

	FILE *f = stdout;
	if (cfg->json_path && !(f = fopen(cfg->json_path, "w"))) {
		fprintf(stderr, "loadgen: --json %s: %s\n", cfg->json_path, strerror(errno));
		return 1;
	}
	fprintf(f, "{\"requests\":%llu,\"achieved_rps\":%.1f,", (unsigned long long)r->responses, achieved);
	if (cfg->rate)
		fprintf(f, "\"offered_rps\":%llu,", (unsigned long long)cfg->rate);
	else
		fprintf(f, "\"offered_rps\":null,");
	fprintf(f, "\"errors\":%llu,\"starved\":%llu,\"latency_us\":", (unsigned long long)errors,
		(unsigned long long)r->starved);
	latency_json(f, &r->lat);
	fprintf(f, ",\"latency_uncorrected_us\":");
	latency_json(f, &r->lat_uncorrected);
	fprintf(f, ",\"loadgen_cpu_us_per_req\":%.3f,\"loadgen_user_us_per_req\":%.3f,\"loadgen_cpu_util\":%.4f,",
		cpu_per_req, r->responses ? r->user_us / (double)r->responses : 0, util);
	if (cfg->rate)
		fprintf(f, "\"loadgen_bound\":%s,", bound ? "true" : "false");
	else
		fprintf(f, "\"loadgen_bound\":null,");
	fprintf(f, "\"errors_by_kind\":{");
	for (int k = 0; k < ERR__COUNT; k++)
		fprintf(f, "%s\"%s\":%llu", k ? "," : "", err_names[k], (unsigned long long)r->errors[k]);
	fprintf(f, "},\"incomplete\":%s,\"bytes_in\":%llu,\"bytes_out\":%llu,", incomplete ? "true" : "false",
		(unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out);
	fprintf(f, "\"window\":{\"start_ns\":%llu,\"end_ns\":%llu,\"seconds\":%.6f,\"start_realtime_ns\":%llu,"
		"\"warmup_realtime_ns\":%llu},\"connect_seconds\":%.3f,",
		(unsigned long long)r->t0, (unsigned long long)r->t1, window_s, (unsigned long long)r->real_t0,
		(unsigned long long)r->real_warm,
		(double)(r->t_connected - r->t_connect) / 1e9);
	fprintf(f, "\"config\":{\"host\":\"%s\",\"port\":%llu,\"connections\":%llu,\"active\":%llu,\"size\":%llu,"
		"\"mode\":\"%s\",\"rate\":%llu,\"pipeline\":%llu,\"threads\":%llu,\"requests\":%llu,"
		"\"tick_us\":%.3f,\"duration_s\":%.3f,\"warmup_s\":%.3f,\"timeout_s\":%.3f,\"sources\":%u,\"seed\":%llu,"
		"\"start_at_ns\":%llu}}\n",
		cfg->host, (unsigned long long)cfg->port, (unsigned long long)cfg->connections,
		(unsigned long long)cfg->active, (unsigned long long)cfg->size, cfg->rate ? "rate" : "closed",
		(unsigned long long)cfg->rate, (unsigned long long)cfg->pipeline, (unsigned long long)cfg->threads,
		(unsigned long long)cfg->requests, (double)cfg->tick_ns / 1e3, (double)cfg->duration_ns / 1e9, (double)cfg->warmup_ns / 1e9,
		(double)cfg->timeout_ns / 1e9, cfg->nsources, (unsigned long long)cfg->seed,
		(unsigned long long)cfg->start_at_ns);
	if (f != stdout && fclose(f) != 0) {
		fprintf(stderr, "loadgen: --json %s: %s\n", cfg->json_path, strerror(errno));
		return 1;
	}
	fflush(stdout);

	if (cfg->hist_path) {
		FILE *h = fopen(cfg->hist_path, "w");
		if (!h || !hist_write(&r->lat, h) || fclose(h) != 0) {
			fprintf(stderr, "loadgen: --hist %s: %s\n", cfg->hist_path, strerror(errno));
			return 1;
		}
	}

	fprintf(stderr, "loadgen: %llu connections (%llu active) to %s:%llu, %llu B, %s, %llu thread%s\n",
		(unsigned long long)cfg->connections, (unsigned long long)cfg->active, cfg->host,
		(unsigned long long)cfg->port, (unsigned long long)cfg->size, cfg->rate ? "fixed rate" : "closed loop",
		(unsigned long long)cfg->threads, cfg->threads > 1 ? "s" : "");
	fprintf(stderr, "  window %.2f s: %llu responses, %.0f req/s", window_s, (unsigned long long)r->responses,
		achieved);
	if (cfg->rate)
		fprintf(stderr, " of %llu offered (%.1f%%)", (unsigned long long)cfg->rate,
			100.0 * achieved / (double)cfg->rate);
	fprintf(stderr, "\n  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  p99.99 %.1f  max %.1f  mean %.1f\n",
		(double)hist_quantile(&r->lat, 0.5) / 1e3, (double)hist_quantile(&r->lat, 0.9) / 1e3,
		(double)hist_quantile(&r->lat, 0.99) / 1e3, (double)hist_quantile(&r->lat, 0.999) / 1e3,
		(double)hist_quantile(&r->lat, 0.9999) / 1e3, (double)r->lat.max / 1e3, hist_mean(&r->lat) / 1e3);
	if (cfg->rate)
		fprintf(stderr, "  uncorrected (from the actual send): p50 %.1f  p99 %.1f  max %.1f\n",
			(double)hist_quantile(&r->lat_uncorrected, 0.5) / 1e3,
			(double)hist_quantile(&r->lat_uncorrected, 0.99) / 1e3, (double)r->lat_uncorrected.max / 1e3);
	fprintf(stderr, "  errors: %llu (", (unsigned long long)errors);
	for (int k = 0; k < ERR__COUNT; k++)
		fprintf(stderr, "%s%s %llu", k ? ", " : "", err_names[k], (unsigned long long)r->errors[k]);
	fprintf(stderr, "); starved active connections: %llu\n", (unsigned long long)r->starved);
	fprintf(stderr, "  loadgen: %.2f us CPU per request, its core%s %.0f%% busy%s\n", cpu_per_req,
		cfg->threads > 1 ? "s" : "", 100 * util,
		bound ? " -- LOADGEN-BOUND: this run measured the loadgen, not the server" : "");
	if (incomplete)
		fprintf(stderr, "  incomplete: %llu of --requests %llu before the deadline\n",
			(unsigned long long)r->responses, (unsigned long long)cfg->requests);
	return errors || r->starved || incomplete || r->responses == 0 ? 1 : 0;
}
