/* test_hist.c - the latency histogram against the truth: percentiles of random data, computed
 * exactly from the sorted values, must match the histogram's within 1%; merging per-thread
 * histograms must equal recording everything in one. */
#include "check.h"
#include "hist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint64_t rnd(void) /* xorshift64*: reproducible, no libc state */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The exact value at quantile q: the ceil(q*n)-th smallest, as hist_quantile defines it. */
static uint64_t exact(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	return sorted[rank ? rank - 1 : 0];
}

static void check_close(const char *what, double q, uint64_t got, uint64_t want)
{
	double err = fabs((double)got - (double)want) / (double)want;
	if (err > 0.01) {
		FAIL("%s: q=%g: histogram %llu, exact %llu: %.2f%% off", what, q,
		     (unsigned long long)got, (unsigned long long)want, 100 * err);
	}
}

static void run(const char *what, uint64_t (*gen)(void), size_t n)
{
	static uint64_t values[200000];
	static struct hist whole, parts[4], merged;
	ASSERT_TRUE(n <= sizeof values / sizeof values[0]);
	hist_init(&whole);
	hist_init(&merged);
	for (int t = 0; t < 4; t++)
		hist_init(&parts[t]);
	long double sum = 0;
	for (size_t i = 0; i < n; i++) {
		values[i] = gen();
		sum += values[i];
		hist_record(&whole, values[i]);
		hist_record(&parts[i % 4], values[i]);
	}
	for (int t = 0; t < 4; t++)
		hist_merge(&merged, &parts[t]);
	ASSERT_TRUE(memcmp(whole.buckets, merged.buckets, sizeof whole.buckets) == 0);
	ASSERT_EQ(merged.count, n);
	ASSERT_EQ(merged.min, whole.min);
	ASSERT_EQ(merged.max, whole.max);

	qsort(values, n, sizeof values[0], cmp_u64);
	const double qs[] = {0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		check_close(what, qs[i], hist_quantile(&whole, qs[i]), exact(values, n, qs[i]));
		check_close(what, qs[i], hist_quantile(&merged, qs[i]), exact(values, n, qs[i]));
	}
	ASSERT_EQ(hist_quantile(&whole, 1.0), values[n - 1]); /* max is exact */
	ASSERT_EQ(hist_quantile(&whole, 0.0), values[0]);     /* so is min */
	ASSERT_TRUE(fabs(hist_mean(&whole) - (double)(sum / n)) < 1e-6 * (double)(sum / n) + 1e-9);
}

/* Latency-like: log-uniform from 1 µs to 60 s, so every decade of buckets is exercised. */
static uint64_t log_uniform(void)
{
	double u = (double)(rnd() >> 11) / 9007199254740992.0;
	return (uint64_t)(1000.0 * pow(6e7, u));
}

/* A tight cluster with a long tail, like a loaded server. */
static uint64_t clustered(void)
{
	uint64_t r = rnd();
	return r % 100 == 0 ? 1000000 + r % 50000000 : 20000 + r % 5000;
}

static uint64_t small(void) /* below 256 ns every value is its own bucket */
{
	return rnd() % 300;
}

int main(void)
{
	/* the layout: contiguous buckets, each at most 1/128 of its lowest value wide */
	for (unsigned i = 1; i < HIST_BUCKETS; i++) {
		ASSERT_EQ(hist_bucket_low(i), hist_bucket_low(i - 1) + hist_bucket_width(i - 1));
		ASSERT_TRUE(hist_bucket_width(i) * 128 <= (hist_bucket_low(i) > 256 ? hist_bucket_low(i) : 256));
		ASSERT_EQ(hist_index(hist_bucket_low(i)), i);
		ASSERT_EQ(hist_index(hist_bucket_low(i) + hist_bucket_width(i) - 1), i);
	}
	ASSERT_TRUE(hist_bucket_low(HIST_BUCKETS - 1) >= 60ull * 1000000000ull); /* 60 s fits */
	ASSERT_EQ(hist_index(UINT64_MAX), HIST_BUCKETS - 1);

	run("log-uniform", log_uniform, 200000);
	run("clustered", clustered, 200000);
	run("small", small, 50000);
	run("few", log_uniform, 7);

	struct hist empty;
	hist_init(&empty);
	ASSERT_EQ(hist_quantile(&empty, 0.5), 0);
	puts("hist: ok");
	return 0;
}
