#!/usr/bin/env python3
"""spread.py - how much the regression gate's metrics move on their own, from one sweep with many
repetitions (make regress-spread: the gate's configuration, 10 repetitions).

The gate compares the median of 2 repetitions with a baseline. So the repetitions are cut into
pseudo-runs of 2 (reps 1-2, 3-4, ...), each pseudo-run's medians are computed as the gate would
(CPU per request divided by epoll's in the same pseudo-run), and each is set against the median of
all repetitions (which is what the baseline holds). The largest rise seen is what noise alone does
to the gate; its tolerances must stay above it, and not far above it.

usage: spread.py RUN_DIR [PER_RUN]      (PER_RUN: repetitions per pseudo-run, default 2)
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def main():
    run_dir = sys.argv[1]
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rows, _ = results.load(run_dir)
    rows = [r for r in rows if r["mode"] == "rate" and r["status"] == "ok"]
    by = {}
    for r in rows:
        by.setdefault((r["label"], r["connections"]), {})[r["rep"]] = r
    reps = sorted({r["rep"] for r in rows})
    groups = [reps[i:i + per] for i in range(0, len(reps) - per + 1, per)]

    def sysc(r):
        return r.get("perf_syscalls_per_req") or r.get("syscalls_per_req")

    worst = {"syscalls/req": (0, None), "CPU/req vs epoll": (0, None)}
    print(f"{'server':<12} {'N':>6}  {'metric':<17} {'all reps':>9} {'pseudo-runs of ' + str(per) + ': min..max':>28} {'max rise':>9}")
    for (lab, n) in sorted(by, key=lambda k: (results.sort_key(k[0]), k[1])):
        reps_ = by[(lab, n)]
        ep = by.get(("epoll", n), {})
        allv = {"syscalls/req": statistics.median([sysc(r) for r in reps_.values()]),
                "CPU/req vs epoll": statistics.median([r["cpu_us_per_req"] for r in reps_.values()]) /
                statistics.median([r["cpu_us_per_req"] for r in ep.values()]) if ep else None}
        for metric in ("syscalls/req", "CPU/req vs epoll"):
            if allv[metric] is None or (metric.startswith("CPU") and lab == "epoll"):
                continue
            vals = []
            for g in groups:
                mine = [reps_[k] for k in g if k in reps_]
                if not mine:
                    continue
                if metric == "syscalls/req":
                    vals.append(statistics.median([sysc(r) for r in mine]))
                else:
                    theirs = [ep[k] for k in g if k in ep]
                    if theirs:
                        vals.append(statistics.median([r["cpu_us_per_req"] for r in mine]) /
                                    statistics.median([r["cpu_us_per_req"] for r in theirs]))
            if not vals:
                continue
            rise = max(vals) / allv[metric] - 1
            if rise > worst[metric][0]:
                worst[metric] = (rise, f"{lab} N={n}")
            print(f"{lab:<12} {n:>6}  {metric:<17} {allv[metric]:>9.3f} {min(vals):>19.3f}..{max(vals):<8.3f} {rise:>+8.1%}")
    # What the gate compares for CPU: per server, the geometric mean over its unsaturated N of the
    # ratio to epoll (bench/lib/regress.py).
    gm_worst = (0, None)
    for lab in sorted({k[0] for k in by}, key=results.sort_key):
        if lab in ("epoll", "busypoll"):
            continue
        ns = [n for (l_, n) in by if l_ == lab and ("epoll", n) in by and
              statistics.median(r.get("server_util") or 0 for r in by[(lab, n)].values()) < 0.9]
        if not ns:
            continue

        def gm(keys):
            vals = []
            for n in ns:
                m = [by[(lab, n)][k]["cpu_us_per_req"] for k in keys if k in by[(lab, n)]]
                e = [by[("epoll", n)][k]["cpu_us_per_req"] for k in keys if k in by[("epoll", n)]]
                if not m or not e:
                    return None
                vals.append(statistics.median(m) / statistics.median(e))
            return statistics.geometric_mean(vals)
        base = gm(reps)
        for g in groups:
            v = gm(g)
            if v and base and v / base - 1 > gm_worst[0]:
                gm_worst = (v / base - 1, lab)
    worst["CPU/req vs epoll, geometric mean over unsaturated N"] = gm_worst
    for metric, (rise, where) in worst.items():
        print(f"spread: {metric}: the largest rise of a {per}-repetition median over the all-repetition median "
              f"was {rise:+.1%} ({where})")


if __name__ == "__main__":
    main()
