/* hist.h - a latency histogram in the manner of HdrHistogram: log-linear buckets, fixed memory,
 * constant-time recording, and a bounded relative error instead of a bounded absolute one.
 *
 * Values are nanoseconds. Below 256 ns every value has its own bucket; above, each power of two
 * [2^k, 2^(k+1)) is split into 128 equal buckets, so a bucket's width is at most 1/128 of its lowest
 * value: any value is reported within 0.4% (the bucket's middle), better than the 1% we promise.
 * The range goes to 2^41 ns (about 36 minutes); larger values land in the last bucket and still
 * count in max and mean, which are kept exactly. One histogram per thread, merged at the end.
 */
#ifndef MUXBENCH_HIST_H
#define MUXBENCH_HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { HIST_SUB = 128, HIST_MAX_EXP = 41, HIST_BUCKETS = 2 * HIST_SUB + (HIST_MAX_EXP - 8) * HIST_SUB };

struct hist {
	uint64_t count, min, max;
	long double sum;
	uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t ns);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at quantile q (0..1): the middle of the bucket holding the ceil(q*count)-th value,
 * clamped to [min, max]. 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);
/* Every non-empty bucket as "value_us count cumulative_fraction", for CDF plots. */
bool hist_write(const struct hist *h, FILE *f);

/* Bucket arithmetic, exposed for the tests. */
unsigned hist_index(uint64_t ns);
uint64_t hist_bucket_low(unsigned idx);
uint64_t hist_bucket_width(unsigned idx);

#endif
