#!/usr/bin/env python3
"""test_balance.py - the balance across loops: bench/scaling's three ways of accepting, per-loop
shares and Jain's index, from real runs.

Runs bench/scaling small (N = 1,000, M = 100, T = 2 with SO_REUSEPORT, with EPOLLEXCLUSIVE and as
echo-blocking's two blocking acceptors, closed loop and 5k req/s, one repetition of 0.3 s), then
plotdata.py and report.py on it, and checks what the report and the chart say against the rows:
  - every server's rows carry one entry per loop, whose connections add up to N (every accept of
    the run: they all connect before the window) and whose requests add up to the window's;
  - each Jain index in the rows is (sum x)^2 / (k sum x^2) of those per-loop figures, between 1/k and
    1; the blocking acceptors' CPU per loop is not known (null), and so is its index;
  - the report's "Balance across loops" table has every server at both loads, and its sentences
    compare their indices; balance.dat has one line per server and known figure (8), two loop
    columns that add up to 100%; the scaling table and chart stay echo-epoll's.

usage: test_balance.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, report_beside_sample

N = 1000


def jain(xs):
    s, q = sum(xs), sum(x * x for x in xs)
    return s * s / (len(xs) * q) if q else None


def main():
    src, build = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="muxbench-balance.")
    try:
        env = dict(os.environ, BUILD=os.path.abspath(build), THREADS="2", RATES="5k", CONNS=str(N), ACTIVE="100",
                   REPS="1", DURATION="0.3s", WARMUP="0.2s")
        p = subprocess.run(["bench/scaling", tmp], cwd=src, env=env, capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            fail(f"bench/scaling: exit {p.returncode}: {p.stderr[-500:]}")
        with open(os.path.join(tmp, "scaling", "rows.json")) as f:
            rows = json.load(f)
        got = sorted((r["variant"], r["mode"], r["status"]) for r in rows)
        want = sorted((v, m, "ok") for v in ("level-t2", "level-t2-exclusive", "a2") for m in ("closed", "rate"))
        if got != want:
            fail(f"bench/scaling rows {got}, want {want}")
        for r in rows:
            w = r["server_window"]
            loops, fair = w.get("loops") or [], w.get("fairness") or {}
            what = f"{r['variant']} {r['mode']}"
            if len(loops) != 2:
                fail(f"{what}: {len(loops)} loops in the window, want 2")
            if sum(lp["conns"] for lp in loops) != N or sum(lp["requests"] for lp in loops) != w["requests"]:
                fail(f"{what}: loops {loops} do not add up to {N} connections and {w['requests']} requests")
            blocking = r["server"] == "blocking"
            if blocking and (any(lp["cpu_us"] is not None for lp in loops) or fair.get("cpu_us") is not None):
                fail(f"{what}: the blocking acceptors' CPU per loop {loops}, index {fair.get('cpu_us')}: want null")
            for key in ("conns", "requests") + (() if blocking else ("cpu_us",)):
                j = jain([lp[key] for lp in loops])
                if fair.get(key) is None or abs(fair[key] - j) > 1e-9 or not 0.5 - 1e-9 <= j <= 1 + 1e-9:
                    fail(f"{what}: Jain's index of {key} {fair.get(key)}, from the loops {j}")
        # the report and the chart need a main run's rows beside scaling/: the committed sample's
        report = report_beside_sample(src, tmp)
        if "### Balance across loops" not in report:
            fail("the report has no 'Balance across loops'")
        for lab in ("epoll-t2", "epoll-t2-exclusive", "blocking-a2"):
            for load in ("closed", "5k"):
                if f"| {lab} | {load} |" not in report:
                    fail(f"the balance table lacks {lab} at {load}")
        if "Jain's index of epoll-t2 (SO_REUSEPORT" not in report or "against epoll-t2-exclusive" not in report:
            fail("the balance sentence does not compare reuseport's index with exclusive's")
        if "- blocking-a2 (2 threads blocked in accept() on one listener" not in report:
            fail("no sentence on the blocking acceptors' balance")
        if "| blocking-a2 | 2 |" in report:
            fail("the blocking acceptors are in the scaling table, which is echo-epoll's")
        with open(os.path.join(tmp, "plots", "balance.dat")) as f:
            lines = f.read().splitlines()
        data = [ln.rsplit(" ", 2) for ln in lines[1:]]
        if len(data) != 8 or any(abs(float(a) + float(b) - 100) > 0.1 for _, a, b in data):
            fail(f"balance.dat: {lines}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: reuseport, exclusive and blocking acceptors at T = 2: per-loop shares add up, Jain's indices match the loops, "
          "report table and sentence, balance.dat")


if __name__ == "__main__":
    main()
