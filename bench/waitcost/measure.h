/* measure.h - time one mechanism on one set: calibrate, warm up, repeat, summarize.
 *
 * A repetition is a batch of C back-to-back calls between two CLOCK_MONOTONIC readings, so the
 * clock's own cost is spread over C calls; C is calibrated once per configuration so a
 * repetition lasts about rep_ns (default 7 ms: long enough to dwarf the clock, short enough that a
 * preemption by the other engineer's work spoils one repetition, not the median). The first
 * WARMUP repetitions are discarded (caches, the kernel's wait-queue allocations, branch history).
 */
#ifndef WAITCOST_MEASURE_H
#define WAITCOST_MEASURE_H

#include "fds.h"
#include "mechanisms.h"

#include <stdint.h>

#define WARMUP 2

struct summary {
	int reps;
	long calls;                /* calls (or operations) per repetition */
	double median, min, max;   /* ns per call, over the repetitions */
};

/* Sorts v[0..n) and summarizes it (the median of an even count is the mean of the middle two). */
void summarize(double *v, int n, struct summary *out);

/* Time m on s: reps repetitions after WARMUP. Any call that reports other than s->k ready fds
 * is fatal (exit 1). A consuming mechanism (busy) is held to the bytes left on the ready fds. */
void measure(const struct mech *m, struct fdset *s, int reps, int64_t rep_ns, struct summary *out);

/* The cost of epoll_ctl ADD, MOD and DEL, ns per operation, each over all N fds of s into a fresh
 * epoll instance per repetition: out[0] add, out[1] mod, out[2] del. */
void measure_epoll_ctl(const struct fdset *s, int reps, struct summary out[3]);

#endif
