/* report.h - the loadgen's result: a summary for people (stderr) and one JSON object for scripts. */
#ifndef MUXBENCH_REPORT_H
#define MUXBENCH_REPORT_H

#include "loadgen.h"

struct result {
	const struct config *cfg;
	uint64_t t_connect, t_connected, t_warm, t0, t1; /* CLOCK_MONOTONIC ns */
	uint64_t real_warm, real_t0;			  /* CLOCK_REALTIME ns at t_warm and t0 */
	bool requests_reached;
	struct hist lat, lat_uncorrected;
	uint64_t responses, bytes_in, bytes_out, starved;
	uint64_t errors[ERR__COUNT];
	double cpu_us, user_us; /* the loadgen's own, over the window */
};

/* Writes both; returns the exit status: 0, or 1 when anything went wrong. */
int report(const struct result *r);

#endif
