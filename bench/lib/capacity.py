"""capacity.py - the highest fixed rate a server holds under a latency bound: the search and its verdicts.

A closed loop on two cores measures whichever side saturates first, and one fixed rate says only
how a server does at that rate. The question a capacity planner asks (wrk2's practice, tcpkali's
-r @latency) is: how fast can I offer requests before the tail gives? A step offers a rate R for
K repetitions; it passes when the median over them of the chosen percentile, measured from each
request's scheduled send (the loadgen's corrected latency: no coordinated omission), is within
the bound AND the median achieved rate is at least MET (99%) of R, with every repetition's row ok.
A step that fails while the loadgen's CPU was saturated and the server's was not (the row's
`bound` is loadgen: bench/run's sampler of both sides' cgroups) ends the search: what was
measured past that point would be the loadgen's capacity.

The search brackets (from START, doubling after a pass, halving after a fail, within FLOOR and
CEILING), then bisects the bracket geometrically until its ends are within PRECISION (5%) of each
other. The capacity is the bracket's lower end: the highest rate that passed.

    parse_slo("p99=1ms") -> ("p99", 1000.0)        (p50, p90, p99, p999, p9999, max; us, ms, s)
    verdict(rows, rate, pct, bound_us) -> Step
    search(measure, start, floor, ceiling, precision) -> Result
measure(rate) -> Step is the caller's (bench/capacity runs bench/run); this module runs nothing.
"""
import math
import re
import statistics
from collections import namedtuple

MET = 0.99
PRECISION = 0.05
PERCENTILES = {"p50": "p50_us", "p90": "p90_us", "p99": "p99_us", "p999": "p999_us", "max": "max_us"}

Step = namedtuple("Step", "rate verdict percentile_us achieved_ratio reps why")
Result = namedtuple("Result", "verdict capacity bracket steps")


class SloError(ValueError):
    pass


def parse_slo(text):
    m = re.fullmatch(r"(p50|p90|p99|p999|max)=([0-9]+(?:\.[0-9]+)?)(us|ms|s)", text or "")
    if not m:
        raise SloError(f"--slo '{text}': want PERCENTILE=BOUND, e.g. p99=1ms (p50 p90 p99 p999 max; us ms s)")
    value = float(m.group(2)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(3)]
    if value <= 0:
        raise SloError(f"--slo '{text}': the bound must be above 0")
    return m.group(1), value


def verdict(rows, rate, pct, bound_us):
    """One step's rows (bench/run's, at rate) -> Step: pass, fail or loadgen."""
    if not rows:
        return Step(rate, "fail", None, None, 0, "no rows")
    bad = [r["status"] for r in rows if r["status"] != "ok"]
    if bad and all(b.startswith("unsupported") for b in bad) and len(bad) == len(rows):
        return Step(rate, bad[0], None, None, len(rows), f"{bad[0]}: not run at any rate")
    key = PERCENTILES[pct]
    ok = [r for r in rows if r["status"] == "ok"]
    p = statistics.median(r[key] for r in ok) if ok else None
    achieved = statistics.median(r["achieved_rps"] / rate for r in ok) if ok else None
    # the row's bound (row.py): the loadgen's CPUs saturated and the server's not. (The loadgen
    # JSON's own loadgen_bound is true for any missed rate, whoever missed it.)
    behind = any(r.get("bound") == "loadgen" for r in rows)
    if bad:
        why = f"{len(bad)} of {len(rows)} reps not ok ({bad[0]})"
    elif p > bound_us:
        why = f"{pct} {p:,.0f} us > {bound_us:,.0f} us"
    elif achieved < MET:
        why = f"achieved {achieved:.1%} of the offered rate < {MET:.0%}"
    else:
        return Step(rate, "pass", p, achieved, len(rows), f"{pct} {p:,.0f} us, achieved {achieved:.1%}")
    if behind:
        return Step(rate, "loadgen", p, achieved, len(rows), why + "; the loadgen could not keep its schedule")
    return Step(rate, "fail", p, achieved, len(rows), why)


def search(measure, start, floor, ceiling, precision=PRECISION):
    """Bracket, then bisect. Verdicts: ok (capacity within the bracket's precision), unsupported:<why>
    (the server cannot run this point at any rate: select past FD_SETSIZE), loadgen_bound
    (a step the loadgen could not drive: capacity is the highest pass so far, or None), ceiling
    (even CEILING passed: capacity at least that), below_floor (even FLOOR failed: None)."""
    if not 0 < floor <= start <= ceiling:
        raise ValueError("want 0 < floor <= start <= ceiling")
    steps, lo, hi, r = [], None, None, start
    while True:
        s = measure(r)
        steps.append(s)
        if s.verdict.startswith("unsupported"):
            return Result(s.verdict, None, (None, None), steps)
        if s.verdict == "loadgen":
            return Result("loadgen_bound", lo, (lo, r), steps)
        if s.verdict == "pass":
            lo = r
            if hi is not None:
                break
            if r >= ceiling:
                return Result("ceiling", lo, (lo, None), steps)
            r = min(ceiling, r * 2)
        else:
            hi = r
            if lo is not None:
                break
            if r <= floor:
                return Result("below_floor", None, (None, hi), steps)
            r = max(floor, r // 2)
    while hi > lo * (1 + precision):
        r = int(round(math.sqrt(lo * hi)))
        if r <= lo or r >= hi:
            break
        s = measure(r)
        steps.append(s)
        if s.verdict == "loadgen":
            return Result("loadgen_bound", lo, (lo, hi), steps)
        if s.verdict == "pass":
            lo = r
        else:
            hi = r
    return Result("ok", lo, (lo, hi), steps)
