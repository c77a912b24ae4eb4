#!/usr/bin/env python3
"""regress.py - compare a quick sweep against the committed baseline; fail on a regression.

What is compared, per server and N (medians over the repetitions):
  - syscalls per request, as the kernel counted them (perf; the server's own count where perf
    could not run): nearly deterministic, so a rise of more than SYSCALLS_TOL fails. The kernel's
    count also sees a syscall that bypasses the servers' counting wrappers;
  - CPU per request divided by epoll's at the same N in the same run: the machine's speed and
    noise cancel out in the ratio; a rise of more than CPU_RATIO_TOL fails;
  - errors: any error or failed repetition fails;
  - a server (or N) in the baseline but not in the run fails, naming it.
The tolerances come from the spread measured over 10 runs (results/README.md).

usage: regress.py compare BASELINE.csv RUN_DIR      -> table, last line 'regress: N passed, N failed'
       regress.py baseline RUN_DIR > BASELINE.csv   -> the baseline from a run (with its environment)
"""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

SYSCALLS_TOL = 0.10
CPU_RATIO_TOL = 0.25
FIELDS = ["server", "connections", "active", "rate", "reps", "syscalls_per_req", "cpu_us_per_req", "cpu_ratio_to_epoll"]


def summarize(run_dir):
    """{(server, N): {metric: median, 'errors': n, 'failed': [statuses], ...}} for the rate rows."""
    rows, meta = results.load(run_dir)
    rows = [r for r in rows if r["mode"] == "rate"]
    pts = results.points(rows)
    out = {}
    for (lab, n, _), reps in pts.items():
        epoll = results.stat(pts.get(("epoll", n, "rate"), []), "cpu_us_per_req")
        cpu = results.stat(reps, "cpu_us_per_req")
        out[(lab, n)] = {
            "server": lab, "connections": n, "active": reps[0]["active"], "rate": reps[0].get("offered_rps"),
            "reps": len(reps),
            "syscalls_per_req": (results.stat(reps, "perf_syscalls_per_req") or results.stat(reps, "syscalls_any")).median,
            "cpu_us_per_req": cpu.median,
            "cpu_ratio_to_epoll": cpu.median / epoll.median if cpu and epoll else None,
            "errors": sum(r.get("errors") or 0 for r in reps),
            "failed": [r["status"] for r in reps if r["status"] != "ok"],
        }
    return out, meta


def read_baseline(path):
    with open(path) as f:
        lines = [x for x in f if not x.startswith("#")]
    base = {}
    for r in csv.DictReader(io.StringIO("".join(lines))):
        base[(r["server"], int(r["connections"]))] = {
            k: (float(r[k]) if r[k] not in ("", None) else None) for k in ("syscalls_per_req", "cpu_ratio_to_epoll")}
    return base


def compare(base_path, run_dir, out=sys.stdout):
    base = read_baseline(base_path)
    now, _ = summarize(run_dir)
    lines, passed, failed = [], 0, 0

    def verdict(server, n, metric, b, v, ok, note=""):
        nonlocal passed, failed
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
        change = f"{(v - b) / b * 100:+.1f}%" if isinstance(b, float) and isinstance(v, float) and b else ""
        fmt = lambda x: f"{x:.3f}" if isinstance(x, float) else ("-" if x is None else str(x))  # noqa: E731
        lines.append((server, f"{n:,}", metric, fmt(b), fmt(v), change, ("ok" if ok else "FAIL") + note))

    for (server, n), b in sorted(base.items(), key=lambda kv: (results.sort_key(kv[0][0]), kv[0][1])):
        cur = now.get((server, n))
        if cur is None:
            verdict(server, n, "present", "yes", "missing", False, f": {server} at N={n:,} is in the baseline but not in this run")
            continue
        ok = not cur["failed"] and cur["errors"] == 0
        verdict(server, n, "errors", 0, cur["errors"] if not cur["failed"] else ",".join(cur["failed"]), ok)
        if b["syscalls_per_req"] is not None:
            v = cur["syscalls_per_req"]
            verdict(server, n, "syscalls/req", b["syscalls_per_req"], v,
                    v is not None and v <= b["syscalls_per_req"] * (1 + SYSCALLS_TOL),
                    f" (limit +{SYSCALLS_TOL:.0%})" if v is None or v > b["syscalls_per_req"] * (1 + SYSCALLS_TOL) else "")
        if b["cpu_ratio_to_epoll"] is not None and server != "epoll":
            v = cur["cpu_ratio_to_epoll"]
            verdict(server, n, "CPU/req vs epoll", b["cpu_ratio_to_epoll"], v,
                    v is not None and v <= b["cpu_ratio_to_epoll"] * (1 + CPU_RATIO_TOL),
                    f" (limit +{CPU_RATIO_TOL:.0%})" if v is None or v > b["cpu_ratio_to_epoll"] * (1 + CPU_RATIO_TOL) else "")
    head = ("server", "N", "metric", "baseline", "now", "change", "verdict")
    widths = [max(len(str(x[i])) for x in lines + [head]) for i in range(len(head))]
    for line in [head] + lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip(), file=out)
    print(f"regress: {passed} passed, {failed} failed", file=out)
    return failed == 0


def baseline(run_dir, out=sys.stdout):
    now, meta = summarize(run_dir)
    print(f"# muxbench regression baseline: medians of the fixed-rate rows of one quick sweep (make regress-update)", file=out)
    for k in ("date", "kernel", "cpu_model", "cores", "git_commit", "placement", "count_method"):
        print(f"# {k}: {meta.get(k)}", file=out)
    w = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for key in sorted(now, key=lambda k: (results.sort_key(k[0]), k[1])):
        r = dict(now[key])
        if r["failed"] or r["errors"]:
            raise SystemExit(f"regress.py: {key[0]} at N={key[1]} failed or had errors: no baseline from this run")
        for k in ("syscalls_per_req", "cpu_us_per_req", "cpu_ratio_to_epoll"):
            r[k] = "" if r[k] is None else f"{r[k]:.4f}"
        w.writerow(r)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(0 if compare(sys.argv[2], sys.argv[3]) else 1)
    if len(sys.argv) == 3 and sys.argv[1] == "baseline":
        baseline(sys.argv[2])
        return
    print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
