#!/usr/bin/env python3
"""plotdata.py - the data files the gnuplot scripts in plots/ draw, computed from a run's rows.

Writes RUN_DIR/plots/*.dat. Each file holds one block per server (blocks separated by two blank
lines, so gnuplot's `index` walks them); a block starts with a header line whose first field is
the server's name (gnuplot's `title columnheader(1)`), then `x median min max` lines: the error
bars span the repetitions. Only `ok` repetitions count; a point with none (unsupported, failed)
is left out, and the report says why.

usage: plotdata.py RUN_DIR
"""
import glob
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

def style(lab):
    """The server's line type in plots/common.gp (its colour follows its name from chart to chart)."""
    return results.ORDER.index(lab) + 1 if lab in results.ORDER else len(results.ORDER)


KIND_ORDER = ["reads with data", "reads that found nothing", "writes", "waits", "epoll_ctl", "accept", "other"]


def series(f, rows, pts, mode, key, scale=1.0):
    """One block per server: N, median, min, max of key (points without ok rows skipped)."""
    for lab in results.labels(rows):
        lines = []
        for n in results.conns(rows):
            s = results.stat(pts.get((lab, n, mode), []), key)
            if s:
                lines.append(f"{n} {s.median * scale:.6g} {s.min * scale:.6g} {s.max * scale:.6g} {style(lab)}")
        if lines:
            f.write(f'"{lab}" median min max style\n' + "\n".join(lines) + "\n\n\n")


def kinds_at(rows, n):
    """Per server at N (rate mode): the median repetition's syscalls per request by kind."""
    out = {}
    for lab in results.labels(rows):
        reps = [r for r in rows if r["label"] == lab and r["connections"] == n and r["mode"] == "rate"
                and r["status"] == "ok"]
        if not reps:
            continue
        reps.sort(key=lambda r: r.get("syscalls_any") or 0)
        k = results.window_kinds(reps[len(reps) // 2])
        if k:
            out[lab] = k
    return out


def cdf_files(run_dir, rows, n):
    """Per server: the histogram file of its median-p99 repetition at N, fixed rate."""
    out = {}
    for lab in results.labels(rows):
        reps = [r for r in rows if r["label"] == lab and r["connections"] == n and r["mode"] == "rate"
                and r["status"] == "ok" and r.get("tag")]
        if not reps:
            continue
        reps.sort(key=lambda r: r["p99_us"])
        path = os.path.join(run_dir, "hist", reps[len(reps) // 2]["tag"] + ".hist")
        if os.path.exists(path):
            out[lab] = path
    return out


def loops(row):
    """Event loops of an echo-epoll row from bench/scaling: its --threads (times --workers)."""
    args = (row.get("server_args") or "").split()
    n = 1
    for opt in ("--threads", "--workers"):
        if opt in args and args.index(opt) + 1 < len(args):
            n *= int(args[args.index(opt) + 1])
    return n


def exclusive(row):
    """An echo-epoll row with one listener in every loop's set (--accept exclusive, EPOLLEXCLUSIVE)."""
    args = (row.get("server_args") or "").split()
    return "--accept" in args and args.index("--accept") + 1 < len(args) and args[args.index("--accept") + 1] == "exclusive"


# The per-loop figures a row's server_window carries (snapshots.py): connections held (every
# accept of the run, since they all connect before the window), requests and CPU in the window.
BALANCE = (("conns", "connections"), ("requests", "requests"), ("cpu_us", "CPU"))


def balance(rows):
    """The published rows of servers with several loops -> {(label, load): {"loops": k, "reps": n,
    "shares": {key: [median share of loop i]}, "jain": {key: results.Stat}}}; load is "closed" or
    the rate ("50k"). Jain's index (snapshots.jain): 1 when every loop has the same, 1/k when one
    has it all."""
    by = {}
    for r in rows:
        w = r.get("server_window") or {}
        if r["status"] != "ok" or not results.published(r) or len(w.get("loops") or []) < 2 or not w.get("fairness"):
            continue
        load = "closed" if r["mode"] == "closed" else f"{int(r['offered_rps']) // 1000}k"
        by.setdefault((results.label(r), load), []).append(w)
    out = {}
    for key, ws in by.items():
        k = min(len(w["loops"]) for w in ws)
        shares = {}
        for m, _ in BALANCE:
            # a figure no loop knows (echo-blocking's CPU per acceptor: null) has no shares
            per = [[lp[m] / tot for lp in w["loops"][:k]] for w in ws
                   if all(lp[m] is not None for lp in w["loops"][:k]) and (tot := sum(lp[m] for lp in w["loops"][:k]))]
            shares[m] = [statistics.median(x[i] for x in per) for i in range(k)] if per else None
        out[key] = {"loops": k, "reps": len(ws), "shares": shares,
                    "jain": {m: results.Stat([w["fairness"].get(m) for w in ws]) for m, _ in BALANCE}}
    return out


def balance_file(run_dir, d):
    """RUN_DIR/scaling -> plots/balance.dat: at the first fixed rate (the same work for each), one line
    per server with several loops and figure, each loop's share in percent."""
    target = os.path.join(d, "balance.dat")
    path = os.path.join(run_dir, "scaling")
    got = balance(results.load(path)[0]) if os.path.exists(os.path.join(path, "rows.json")) else {}
    rates = sorted({ld for _, ld in got if ld != "closed"}, key=lambda x: int(x[:-1]))
    got = {lab: v for (lab, ld), v in got.items() if rates and ld == rates[0]}
    if not got:
        if os.path.exists(target):
            os.remove(target)
        return 0
    k = max(v["loops"] for v in got.values())
    with open(target, "w") as f:
        f.write("what " + " ".join(f'"loop {i + 1}"' for i in range(k)) + "\n")
        for lab, v in got.items():
            for m, name in BALANCE:
                sh = v["shares"][m]
                if not sh:
                    continue  # not known (echo-blocking's CPU per acceptor)
                f.write(f'"{lab}: {name}" ' + " ".join(f"{100 * x:.2f}" for x in sh + [0.0] * (k - len(sh))) + "\n")
    return k


def scaling(run_dir, d):
    """RUN_DIR/scaling (bench/scaling) -> plots/scaling.dat: one block per load, x = event loops.
    Closed loop: thousand requests per second; each fixed rate: server CPU µs per request."""
    path = os.path.join(run_dir, "scaling")
    target = os.path.join(d, "scaling.dat")
    if not os.path.exists(os.path.join(path, "rows.json")):
        if os.path.exists(target):
            os.remove(target)
        return
    rows, _ = results.load(path)
    # x is echo-epoll's loops, reuseport's (the blocking acceptors are in balance.dat only)
    ok = [r for r in rows if r["status"] == "ok" and r["server"] == "epoll" and not exclusive(r)]
    blocks = [("closed loop: k req/s", "closed", None, "achieved_rps", 1e-3),
              ("closed loop: CPU us/req", "closed", None, "cpu_us_per_req", 1.0)]
    for rate in sorted({r["offered_rps"] for r in ok if r["mode"] == "rate"}):
        blocks.append((f"{int(rate) // 1000}k req/s: CPU us/req", "rate", rate, "cpu_us_per_req", 1.0))
    with open(target, "w") as f:
        for title, mode, rate, key, scale in blocks:
            lines = []
            for n in sorted({loops(r) for r in ok}):
                sel = [r for r in ok if loops(r) == n and r["mode"] == mode
                       and (rate is None or r["offered_rps"] == rate)]
                st = results.stat(sel, key)
                if st:
                    lines.append(f"{n} {st.median * scale:.6g} {st.min * scale:.6g} {st.max * scale:.6g}")
            f.write(f'"{title}" median min max\n' + "\n".join(lines) + "\n\n\n")


def capacities(run_dir):
    """RUN_DIR/capacity/*/capacity.json (bench/capacities) -> [doc], in server order, then N."""
    docs = []
    for path in glob.glob(os.path.join(run_dir, "capacity", "*", "capacity.json")):
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, ValueError):
            continue
    return sorted(docs, key=lambda d: (results.sort_key(d["server"]), d["connections"]))


def capacity(run_dir, d):
    """-> plots/capacity.dat: one block per server, N, capacity (k req/s), its interval's ends
    (bench/lib/capacity.py; an end no step measured is drawn at the capacity, and a search from
    before intervals gives its bracket); a search without a capacity (below_floor, unsupported)
    leaves its point out. Returns the SLO."""
    docs = capacities(run_dir)
    target = os.path.join(d, "capacity.dat")
    with open(target, "w") as f:
        for lab in dict.fromkeys(x["server"] for x in docs):
            lines = []
            for x in docs:
                if x["server"] != lab or not x.get("capacity_rps"):
                    continue
                cap = x["capacity_rps"]
                lo, hi = x.get("interval") or x["bracket"]
                lo, hi = lo or cap, hi or cap
                lines.append(f"{x['connections']} {cap / 1e3:.6g} {lo / 1e3:.6g} {hi / 1e3:.6g} {style(lab)}")
            if lines:
                f.write(f'"{lab}" capacity lo hi style\n' + "\n".join(lines) + "\n\n\n")
    return docs[0]["slo"] if docs else None


def shapes(run_dir, d):
    """RUN_DIR/shapes/rows.json (bench/shapes) -> plots/shapes-cpu.dat and shapes-syscalls.dat: one
    block per server and pipeline, request size (bytes), median, min, max of CPU (µs) and syscalls
    per request at the fixed rate. Returns (N, rate) of those rows, or None without them."""
    path = os.path.join(run_dir, "shapes")
    if not os.path.exists(os.path.join(path, "rows.json")):
        for name in ("shapes-cpu", "shapes-syscalls"):
            for ext in (".dat", ".png", ".svg"):
                if os.path.exists(os.path.join(d, name + ext)):
                    os.remove(os.path.join(d, name + ext))
        return None
    rows, _ = results.load(path, shapes=True)
    ok = [r for r in rows if r["status"] == "ok" and r["mode"] == "rate"]
    for name, key in (("shapes-cpu", "cpu_us_per_req"), ("shapes-syscalls", "syscalls_any")):
        with open(os.path.join(d, name + ".dat"), "w") as f:
            for lab in results.labels(ok):
                for k in sorted({results.shape(r)[1] for r in ok if r["label"] == lab}):
                    lines = []
                    for size in sorted({results.shape(r)[0] for r in ok}):
                        st = results.stat([r for r in ok if r["label"] == lab and results.shape(r) == (size, k)], key)
                        if st:
                            lines.append(f"{size} {st.median:.6g} {st.min:.6g} {st.max:.6g} {style(lab)}")
                    if lines:
                        f.write(f'"{lab}, pipeline {k}" size median min max style\n' + "\n".join(lines) + "\n\n\n")
    if not ok:
        return None
    return ok[0]["connections"], ok[0]["offered_rps"]


def main():
    run_dir = sys.argv[1]
    rows, meta = results.load(run_dir)
    pts = results.points(rows)
    d = os.path.join(run_dir, "plots")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "checks.dat"), "w") as f:
        series(f, rows, pts, "rate", "checks_any")
    with open(os.path.join(d, "waitshare.dat"), "w") as f:
        series(f, rows, pts, "rate", "wait_share", 100)
    with open(os.path.join(d, "syscalls.dat"), "w") as f:
        series(f, rows, pts, "rate", "syscalls_any")
    with open(os.path.join(d, "cpu.dat"), "w") as f:
        series(f, rows, pts, "rate", "cpu_us_per_req")
    with open(os.path.join(d, "p50.dat"), "w") as f:
        series(f, rows, pts, "rate", "p50_us", 1e-3)
    with open(os.path.join(d, "p99.dat"), "w") as f:
        series(f, rows, pts, "rate", "p99_us", 1e-3)
    with open(os.path.join(d, "throughput.dat"), "w") as f:
        series(f, rows, pts, "closed", "achieved_rps", 1e-3)
    with open(os.path.join(d, "rss.dat"), "w") as f:
        series(f, rows, pts, "rate", "rss_kb", 1 / 1024)
    with open(os.path.join(d, "threads.dat"), "w") as f:
        series(f, rows, pts, "rate", "threads")

    ns = results.conns(rows)
    at = 10000 if 10000 in ns else (ns[-1] if ns else 0)
    kinds = kinds_at(rows, at)
    with open(os.path.join(d, "kinds.dat"), "w") as f:
        f.write("server " + " ".join('"' + k + '"' for k in KIND_ORDER) + " total\n")
        for lab, k in kinds.items():
            f.write(lab + " " + " ".join(f"{k[x]:.4f}" for x in KIND_ORDER) + f" {sum(k.values()):.4f}\n")
    # the CPU's shares at N = at (profiled repetitions), one stacked bar per server, in percent
    with open(os.path.join(d, "shares.dat"), "w") as f:
        got = {lab: results.shares(pts.get((lab, at, "rate"), [])) for lab in results.labels(rows)}
        got = {lab: s for lab, s in got.items() if s}
        if got:
            f.write("server wait receive send \"other kernel\" user\n")
            for lab, s in got.items():
                f.write(lab + " " + " ".join(f"{100 * s[k]:.2f}" for k in results.SHARES) + "\n")
    cdfs = cdf_files(run_dir, rows, at)
    cdf_path = os.path.join(d, "cdf.dat")
    # No histograms (a copy of results/sample, which leaves hist/ out): keep the cdf.dat it came with.
    if cdfs or not os.path.exists(cdf_path):
        with open(cdf_path, "w") as f:
            for lab, path in cdfs.items():
                f.write(f'"{lab}" value_ms fraction style\n')
                with open(path) as h:
                    for line in h:
                        if line.startswith("#"):
                            continue
                        v, _, frac = line.split()
                        # plotted as 1/(1-F) on a log axis: the tail gets the room it deserves
                        f.write(f"{float(v) / 1000:.6g} {min(float(frac), 0.999999):.9f} {style(lab)}\n")
                f.write("\n\n")
    scaling(run_dir, d)
    balance_k = balance_file(run_dir, d)
    slo = capacity(run_dir, d)
    shaped = shapes(run_dir, d)
    machine = f"{meta.get('cpu_model', '?')}, {meta.get('cores', '?')} vCPU, Linux {meta.get('kernel', '?')}"
    rate = next((r["offered_rps"] for r in rows if r["mode"] == "rate" and r.get("offered_rps")), None)
    with open(os.path.join(d, "vars.gp"), "w") as f:
        f.write(f'machine = "{machine}"\n')
        f.write(f'rate = "{rate // 1000}k req/s" \n' if rate else 'rate = "?"\n')
        f.write(f"at_n = {at}\n")
        f.write(f"balance_loops = {balance_k}\n")
        f.write(f'placement = "{meta.get("placement", "?")}"\n')
        f.write(f'slo = "{slo or "?"}"\n')
        f.write(f'shapes_at = "N = {shaped[0]:,}, {shaped[1]:,} req/s"\n' if shaped else 'shapes_at = "?"\n')
    for stale in glob.glob(os.path.join(d, "*.tmp")):
        os.remove(stale)


if __name__ == "__main__":
    main()
