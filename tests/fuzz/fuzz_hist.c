/* fuzz_hist.c - hist_merge() (loadgen/hist.c): merging per-thread histograms loses nothing.
 *
 * The loadgen keeps one histogram per thread and merges them after join; the report is then read
 * from the merge. The input is a split byte and a list of values (8 bytes each, shifted right by
 * a per-value amount so that small and huge latencies both occur). Values go to histogram A or B
 * by the split byte's bits, and all of them to C; merge(A, B) must equal C exactly: count, min,
 * max, every bucket and so every quantile. The sum (for the mean) is a long double: it must agree
 * exactly too while it stays below 2^64, where long double holds every integer.
 */
#include "fuzz.h"
#include "hist.h"

#include <inttypes.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hist a, b, c, empty;
	if (size < 1)
		return 0;
	hist_init(&a);
	hist_init(&b);
	hist_init(&c);
	hist_init(&empty);
	uint8_t split = data[0];
	long double exact_limit = 18446744073709551616.0L; /* 2^64 */
	size_t n = 0;
	for (size_t off = 1; off + 9 <= size; off += 9, n++) {
		uint64_t v;
		memcpy(&v, data + off + 1, sizeof v);
		v >>= data[off] % 64; /* most inputs then hold values of every magnitude */
		hist_record((split >> (n % 8)) & 1 ? &a : &b, v);
		hist_record(&c, v);
	}
	hist_merge(&a, &b);
	hist_merge(&a, &empty); /* merging an empty histogram changes nothing, min included */

	INVARIANT(a.count == c.count && a.count == n, "count %" PRIu64 " vs %" PRIu64, a.count, c.count);
	INVARIANT(a.min == c.min && a.max == c.max, "min/max %" PRIu64 "/%" PRIu64 " vs %" PRIu64 "/%" PRIu64,
		  a.min, a.max, c.min, c.max);
	INVARIANT(memcmp(a.buckets, c.buckets, sizeof a.buckets) == 0, "buckets differ");
	if (c.sum < exact_limit)
		INVARIANT(a.sum == c.sum, "sum %Lg vs %Lg", a.sum, c.sum);
	static const double qs[] = {0, 0.5, 0.9, 0.99, 0.999, 1};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		uint64_t qa = hist_quantile(&a, qs[i]), qc = hist_quantile(&c, qs[i]);
		INVARIANT(qa == qc, "q%g: %" PRIu64 " vs %" PRIu64, qs[i], qa, qc);
		/* and the quantile is a value the histogram could hold: within [min, max] */
		INVARIANT(n == 0 || (qa >= c.min && qa <= c.max), "q%g = %" PRIu64 " outside [%" PRIu64
			  ", %" PRIu64 "]", qs[i], qa, c.min, c.max);
	}
	return 0;
}
