"""interval.py - an interval for the median of a point's repetitions, and whether two overlap.

Repetitions of one point on this machine are not normal (a stolen vCPU makes one rep slow, never
fast) and are few (3 by default), so the interval is distribution-free: the order statistics
x(k) and x(n+1-k) of the n values cover the true median with probability 1 - 2 P(B <= k-1),
B ~ Binomial(n, 1/2), whatever the distribution (the sign-test interval; Conover, Practical
Nonparametric Statistics, 3.2). A bootstrap would need more repetitions than a point has to say
anything a median's order statistics do not. k is the largest with coverage at least the level
asked (95%); below 6 values no k reaches 95% (the widest interval, [min, max], covers
1 - 2^(1-n): 75% for 3 values), and the interval says its own coverage rather than claim 95%.

    median_interval(values, level=0.95) -> Interval(lo, median, hi, coverage, n) or None
    overlap(a, b) -> True when the two intervals share a value: a difference "within the noise"
"""
import math
import statistics
from collections import namedtuple

Interval = namedtuple("Interval", "lo median hi coverage n")


def binom_cdf(k, n):
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(0, k + 1)) / 2 ** n


def median_interval(values, level=0.95):
    xs = sorted(v for v in values if v is not None)
    n = len(xs)
    if n == 0:
        return None
    med = statistics.median(xs)
    if n == 1:
        return Interval(xs[0], med, xs[0], 0.0, 1)
    best = 1  # [x(1), x(n)] is always an interval
    for k in range(1, n // 2 + 1):
        if 1 - 2 * binom_cdf(k - 1, n) >= level:
            best = k
    return Interval(xs[best - 1], med, xs[n - best], 1 - 2 * binom_cdf(best - 1, n), n)


def overlap(a, b):
    return a is not None and b is not None and a.lo <= b.hi and b.lo <= a.hi


def reps_for(level=0.95):
    """The fewest values whose [min, max] covers the median with at least level."""
    n = 1
    while 1 - 2 * binom_cdf(0, n) < level:
        n += 1
    return n
