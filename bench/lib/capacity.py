"""capacity.py - the highest fixed rate a server holds under a latency bound: the search and its verdicts.

A closed loop on two cores measures whichever side saturates first, and one fixed rate says only
how a server does at that rate. The question a capacity planner asks (wrk2's practice, tcpkali's
-r @latency) is: how fast can I offer requests before the tail gives? A step offers a rate R for
K repetitions; it passes when the median over them of the chosen percentile, measured from each
request's scheduled send (the loadgen's corrected latency: no coordinated omission), is within
the bound AND the median achieved rate is at least MET (99%) of R, with every repetition's row ok.
A step that fails while the loadgen's CPU was saturated and the server's was not (the row's
`bound` is loadgen, bench/run's sampler of both sides' cgroups, in most of its repetitions) is the
loadgen's limit, not the server's: nothing above it is measured. The search bisects below it (the
rates between the last pass and that limit are still the server's to pass or fail) and, when the
bracket's upper end is such a step, ends as loadgen_bound: the capacity is at least the bracket's
lower end, and the loadgen could not drive the upper one.

The search brackets (from START, up by a factor after a pass, down by it after a fail: 2, or 1.4
from a closed-loop peak; within FLOOR and CEILING), then bisects the bracket geometrically until its ends are within PRECISION (5%) of each
other. The capacity is the bracket's lower end: the highest rate that passed.

    parse_slo("p99=1ms") -> ("p99", 1000.0)        (p50, p90, p99, p999, p9999, max; us, ms, s)
    verdict(rows, rate, pct, bound_us) -> Step
    search(measure, start, floor, ceiling, precision) -> Result
    interval(steps, capacity) -> (lo, hi)
    confirm_low(measure, result, floor) -> result with one more step where the interval has no lower end

The capacity's interval. The bracket says how far bisection went, not how sure each verdict was:
with 3 repetitions a step's median can pass by luck. Each step is also judged at the ends of its
repetitions' median intervals (bench/lib/interval.py, the sign test's order statistics; [min, max]
at 3 reps): `sure` is pass when even the interval's worst end passes (the percentile's upper end
within the bound, the achieved share's lower end at least MET), fail when even its best end fails,
None when the noise decides. The interval runs from the highest surely passing step at or below
the capacity to the lowest surely failing step above it: the rates in between are those the
measurement could not tell apart from the capacity. Where no step at or below the capacity passed
surely, one more step at CONFIRM_AT (80%) of it is measured (confirm_low) to give the interval a
lower end; where that one is not sure either, the end stays open.
measure(rate) -> Step is the caller's (bench/capacity runs bench/run); this module runs nothing.
`capacity.py same DIR SLO REPS` exits 0 when DIR holds a finished search under that SLO and
repetitions (bench/capacities keeps it). `capacity.py start RUN_DIR SERVER N` prints where
bench/capacities starts a search: PEAK_START (75%) of the median closed-loop req/s of that point in
RUN_DIR's rows (the sweep measured it already), or auto.
"""
import math
import re
import statistics
from collections import namedtuple

import interval as median_interval

MET = 0.99
PRECISION = 0.05
PERCENTILES = {"p50": "p50_us", "p90": "p90_us", "p99": "p99_us", "p999": "p999_us", "max": "max_us"}

Step = namedtuple("Step", "rate verdict percentile_us achieved_ratio reps why sure", defaults=(None,))
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
    # A step is the loadgen's when most of its repetitions were (a median verdict, like the rest).
    behind = 2 * sum(r.get("bound") == "loadgen" for r in rows) > len(rows)
    sure = None
    if ok and not bad:
        pi = median_interval.median_interval([r[key] for r in ok])
        ai = median_interval.median_interval([r["achieved_rps"] / rate for r in ok])
        if pi.hi <= bound_us and ai.lo >= MET:
            sure = "pass"
        elif pi.lo > bound_us or ai.hi < MET:
            sure = "fail"
    elif bad:  # errors, a refused or timed-out request: not latency noise, a failure
        sure = "fail"
    if bad:
        why = f"{len(bad)} of {len(rows)} reps not ok ({bad[0]})"
    elif p > bound_us:
        why = f"{pct} {p:,.0f} us > {bound_us:,.0f} us"
    elif achieved < MET:
        why = f"achieved {achieved:.1%} of the offered rate < {MET:.0%}"
    else:
        return Step(rate, "pass", p, achieved, len(rows), f"{pct} {p:,.0f} us, achieved {achieved:.1%}", sure)
    if behind:
        return Step(rate, "loadgen", p, achieved, len(rows), why + "; the loadgen could not keep its schedule", sure)
    return Step(rate, "fail", p, achieved, len(rows), why, sure)


def search(measure, start, floor, ceiling, precision=PRECISION, factor=2.0):
    """Bracket, then bisect. Verdicts: ok (capacity within the bracket's precision), unsupported:<why>
    (the server cannot run this point at any rate: select past FD_SETSIZE); factor: the bracketing
    step (2: doubling and halving; 1.4 from a start near the capacity, one bisection fewer), loadgen_bound
    (the bracket's upper end is a step the loadgen could not drive: the capacity is at least its
    lower end; None when even the first step was the loadgen's), ceiling
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
            if lo is None:
                return Result("loadgen_bound", None, (None, r), steps)
            hi, hi_loadgen = r, True
            break
        hi_loadgen = False
        if s.verdict == "pass":
            lo = r
            if hi is not None:
                break
            if r >= ceiling:
                return Result("ceiling", lo, (lo, None), steps)
            r = min(ceiling, max(r + 1, int(round(r * factor))))
        else:
            hi = r
            if lo is not None:
                break
            if r <= floor:
                return Result("below_floor", None, (None, hi), steps)
            r = max(floor, int(round(r / factor)))
    while hi > lo * (1 + precision):
        r = int(round(math.sqrt(lo * hi)))
        if r <= lo or r >= hi:
            break
        s = measure(r)
        steps.append(s)
        if s.verdict == "pass":
            lo = r
        else:
            hi, hi_loadgen = r, s.verdict == "loadgen"
    return Result("loadgen_bound" if hi_loadgen else "ok", lo, (lo, hi), steps)


# When no step at or below the capacity passed surely, one more step at this share of it gives the
# interval a lower end (most often it does: a fifth below the edge the repetitions agree).
CONFIRM_AT = 0.8


def confirm_low(measure, res, floor):
    """res with at most one more step, at CONFIRM_AT x its capacity (not below floor), where no step
    at or below the capacity passed surely; the capacity and bracket stay the search's."""
    if not res.capacity or interval(res.steps, res.capacity)[0] is not None:
        return res
    r = max(floor, int(round(res.capacity * CONFIRM_AT)))
    if r >= res.capacity or any(s.rate == r for s in res.steps):
        return res
    return res._replace(steps=res.steps + [measure(r)])


def interval(steps, capacity):
    """(lo, hi): the highest surely passing step at or below capacity (None: none) and the lowest
    surely failing step above it (None: none measured); see the top of this file."""
    lo = max((s.rate for s in steps if s.sure == "pass" and capacity is not None and s.rate <= capacity),
             default=None)
    hi = min((s.rate for s in steps if s.sure == "fail" and (capacity is None or s.rate > capacity)), default=None)
    return lo, hi


def interval_text(iv):
    """[lo–hi] with thousands separators; ? for an end no step measured."""
    lo, hi = iv or (None, None)
    return "[" + "–".join(f"{v:,}" if v else "?" for v in (lo, hi)) + "]"


# From a closed-loop peak P the search starts at PEAK_START x P and brackets by PEAK_FACTOR: a fixed
# rate above P cannot be achieved, so one step up (1.05 P) fails, and a capacity below the start is
# found by steps of 1.4; a bracket of 1.4 needs 3 bisections to reach 5% (one of 2 needs 4).
PEAK_START, PEAK_FACTOR = 0.75, 1.4


def start_from_peak(peak, floor, ceiling):
    """Where a search starts from a closed-loop peak: PEAK_START of it, to two significant figures,
    within the limits."""
    if not peak:
        return floor
    half = peak * PEAK_START
    e = 10 ** max(0, int(math.log10(half)) - 1)
    return int(min(ceiling, max(floor, round(half / e) * e)))


def start_from_rows(rows, server, n, floor=500, ceiling=1_000_000):
    """The search's start from a sweep's closed-loop rows of (server, N), or None without them."""
    import results
    got = [r["achieved_rps"] for r in rows if results.label(r) == server and r.get("connections") == n
           and r.get("mode") == "closed" and r.get("status") == "ok" and results.published(r)
           and results.shape(r) == (64, 1)]
    return start_from_peak(statistics.median(got), floor, ceiling) if got else None


def same(doc, slo, reps):
    """A finished search (capacity.json) under this SLO with this many repetitions a step."""
    return bool(doc) and doc.get("slo") == slo and doc.get("reps") == reps and "interval" in doc


def main(argv):
    import json
    import os
    if len(argv) == 4 and argv[0] == "same" and argv[3].isdigit():  # exit 0: keep DIR's search
        try:
            with open(os.path.join(argv[1], "capacity.json")) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return 1
        return 0 if same(doc, argv[2], int(argv[3])) else 1
    if len(argv) != 4 or argv[0] != "start" or not argv[3].isdigit():
        print("usage: capacity.py start RUN_DIR SERVER N | same DIR SLO REPS", file=sys.stderr)
        return 2
    try:
        with open(os.path.join(argv[1], "rows.json")) as f:
            rows = json.load(f)
    except (OSError, ValueError):
        rows = []
    print(start_from_rows(rows, argv[2], int(argv[3])) or "auto")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
