#!/usr/bin/env python3
"""test_interval.py - bench/lib/interval.py: the distribution-free interval for a median.

  - coverage is the binomial sign-test figure: 3 values give [min, max] at 75%, 6 at 96.9%, 20
    values [x(6), x(15)] at 95.9% (the textbook table's), and 6 is the fewest values whose range
    reaches 95%;
  - the interval holds the median and is made of the values themselves, None values ignored;
  - by simulation (a skewed distribution, 4,000 draws of 9 values, seeded): the interval covers
    the true median at least as often as it says, to within sampling error;
  - overlap: intervals that share a value overlap, disjoint ones do not.

usage: test_interval.py SOURCE_DIR
"""
import os
import random
import sys

from verdict import fail

sys.path.insert(0, os.path.join(sys.argv[1], "bench", "lib"))
import interval  # noqa: E402


def main():
    a = interval.median_interval([3.0, 1.0, 2.0])
    if (a.lo, a.median, a.hi, a.coverage, a.n) != (1.0, 2.0, 3.0, 0.75, 3):
        fail(f"3 values: {a}")
    b = interval.median_interval(list(range(1, 7)))
    if (b.lo, b.hi) != (1, 6) or abs(b.coverage - 0.96875) > 1e-12:
        fail(f"6 values: {b}")
    c = interval.median_interval(list(range(1, 21)))
    if (c.lo, c.hi) != (6, 15) or abs(c.coverage - 0.9586) > 1e-4:
        fail(f"20 values: {c}")
    if interval.reps_for(0.95) != 6:
        fail(f"reps_for(0.95) = {interval.reps_for(0.95)}, want 6")
    d = interval.median_interval([None, 5.0, None])
    if (d.lo, d.median, d.hi, d.n) != (5.0, 5.0, 5.0, 1) or interval.median_interval([None]) is not None:
        fail(f"None values: {d}")

    rng = random.Random(18)
    true_median = 2 ** 0.5  # of exp(N(ln sqrt 2, 1)): a skewed, stolen-vCPU-like shape
    hits, want = 0, None
    for _ in range(4000):
        xs = [rng.lognormvariate(0.5 * 0.6931471805599453, 1.0) for _ in range(9)]
        iv = interval.median_interval(xs)
        want = iv.coverage
        hits += iv.lo <= true_median <= iv.hi
    if hits / 4000 < want - 0.02:
        fail(f"simulated coverage {hits / 4000:.3f} below the stated {want:.3f}")

    I = interval.Interval
    if not interval.overlap(I(1, 2, 3, 0.75, 3), I(3, 4, 5, 0.75, 3)) or \
            interval.overlap(I(1, 2, 3, 0.75, 3), I(3.5, 4, 5, 0.75, 3)) or interval.overlap(None, I(1, 1, 1, 0, 1)):
        fail("overlap")
    print(f"ok: sign-test intervals; 9 values cover the median {hits / 4000:.1%} of the time (stated {want:.1%})")


if __name__ == "__main__":
    main()
