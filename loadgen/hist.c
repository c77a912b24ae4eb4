/* hist.c - the log-linear latency histogram (see hist.h for the layout and its error bound). */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t ns)
{
	if (ns < 2 * HIST_SUB)
		return (unsigned)ns;
	unsigned k = 63u - (unsigned)__builtin_clzll(ns); /* 2^k <= ns < 2^(k+1), k >= 8 */
	if (k >= HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	unsigned shift = k - 7; /* 128 buckets of width 2^shift */
	return 2 * HIST_SUB + (k - 8) * HIST_SUB + (unsigned)((ns >> shift) - HIST_SUB);
}

uint64_t hist_bucket_low(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return idx;
	unsigned k = (idx - 2 * HIST_SUB) / HIST_SUB + 8;
	uint64_t sub = (idx - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	return sub << (k - 7);
}

uint64_t hist_bucket_width(unsigned idx)
{
	if (idx < 2 * HIST_SUB)
		return 1;
	return 1ull << ((idx - 2 * HIST_SUB) / HIST_SUB + 1);
}

void hist_record(struct hist *h, uint64_t ns)
{
	h->buckets[hist_index(ns)]++;
	h->count++;
	h->sum += (long double)ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

static uint64_t clamp(const struct hist *h, uint64_t v)
{
	return v < h->min ? h->min : v > h->max ? h->max : v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	/* The rank of the value asked for, 1-based: the smallest r with r/count >= q. */
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			return clamp(h, hist_bucket_low(i) + hist_bucket_width(i) / 2);
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}

bool hist_write(const struct hist *h, FILE *f)
{
	uint64_t seen = 0;
	fprintf(f, "# value_us count cumulative_fraction (bucket middles; %llu values)\n",
		(unsigned long long)h->count);
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		seen += h->buckets[i];
		double mid = (double)clamp(h, hist_bucket_low(i) + hist_bucket_width(i) / 2) / 1000.0;
		fprintf(f, "%.3f %llu %.9f\n", mid, (unsigned long long)h->buckets[i],
			(double)seen / (double)h->count);
	}
	return !ferror(f);
}
