#!/usr/bin/env python3
"""test_tax.py - bench/tax end to end, at a tiny load: one pair of N = 100 (10 active).

tax.json has every figure the table shows: closed-loop req/s of alone, own, kernel and profile with
their ratios to alone; at the fixed rate the server's CPU per request of own, kernel and profile
with their ratios to own, and the loadgen's of all four; every ratio positive; every run ok, in
ABBA order; the table printed; no process left behind; a bad option is a usage error (exit 2, one
line). No bound on the figures themselves: what counting costs is the measurement, and this
machine's is for results/README.md. Where bench/lib/profile.py is not in this checkout yet, bench/tax
runs with test_run.py's stand-in (its interface, perf report's plain figures) and says so.

usage: test_tax.py SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from test_run import STAND_IN, processes
from verdict import fail, need_bench_run

ROLES = ("alone", "own", "kernel", "profile")


def figure(t, *path):
    x = t
    for k in path:
        x = (x or {}).get(k)
    return x


def main():
    src, build = sys.argv[1], sys.argv[2]
    need_bench_run()
    tmp = tempfile.mkdtemp(prefix="muxbench-tax.")
    try:
        env = dict(os.environ, BUILD=build)
        if not os.path.isfile(os.path.join(src, "bench", "lib", "profile.py")):
            os.makedirs(os.path.join(tmp, "stand-in"))
            with open(os.path.join(tmp, "stand-in", "profile.py"), "w") as f:
                f.write(STAND_IN)
            env["PYTHONPATH"] = os.path.join(tmp, "stand-in")
            print("bench/lib/profile.py is not in this checkout: bench/tax runs with test_run.py's stand-in")

        p = subprocess.run([os.path.join(src, "bench", "tax"), "--pairs", "0", "--out", os.path.join(tmp, "bad")],
                           env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 2 or len(p.stderr.splitlines()) != 1 or os.path.exists(os.path.join(tmp, "bad")):
            fail(f"--pairs 0: exit {p.returncode}, want 2 with one line and no output: {p.stderr!r}")

        out = os.path.join(tmp, "out")
        p = subprocess.run([os.path.join(src, "bench", "tax"), "--connections", "100", "--active", "10", "--pairs", "1",
                            "--rate", "2k", "--duration", "0.5s", "--warmup", "0.2s", "--out", out],
                           env=env, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            fail(f"bench/tax exited {p.returncode}: {p.stderr.strip()[-1500:]}")
        with open(os.path.join(out, "tax.json")) as f:
            t = json.load(f)
        want = [("closed", "achieved_rps", r, "median") for r in ROLES]
        want += [("closed", "ratio_to_alone", r) for r in ROLES[1:]]
        want += [("fixed_rate", "cpu_us_per_req", r, "median") for r in ROLES[1:]]
        want += [("fixed_rate", "ratio_to_own", r) for r in ("kernel", "profile")]
        want += [("fixed_rate", "loadgen_cpu_us_per_req", r, "median") for r in ROLES]
        want += [("fixed_rate", "loadgen_ratio_to_alone", r) for r in ROLES[1:]]
        want += [("closed", "pair_ratio_to_alone", r, "median") for r in ROLES[1:]]
        want += [("fixed_rate", "pair_ratio_to_own", r, "median") for r in ("kernel", "profile")]
        # One pair: the ratio within it is the ratio of its two runs' figures, nothing else.
        for mode, key, base, ratios in (("closed", "achieved_rps", "alone", "pair_ratio_to_alone"),
                                        ("rate", "cpu_us_per_req", "own", "pair_ratio_to_own")):
            sect = "closed" if mode == "closed" else "fixed_rate"
            fig = {r["role"]: r.get(key) for r in t["runs"] if r["mode"] == mode}
            for role, s in t[sect][ratios].items():
                want_r = fig[role] / fig[base] if fig.get(role) and fig.get(base) else None
                if not s or want_r is None or abs(s["median"] - want_r) > 1e-9 * want_r:
                    fail(f"tax.json {sect}.{ratios}.{role} = {s!r}, want {want_r!r} ({role} / {base} of pair 1)")
        for path in want:
            v = figure(t, *path)
            if not (isinstance(v, (int, float)) and v > 0):
                fail(f"tax.json {'.'.join(path)} = {v!r}, want a positive figure")
        runs = [(r["mode"], r["role"], r["status"]) for r in t["runs"]]
        order = [(m, role, "ok") for m in ("closed", "rate") for role in ROLES]  # pair 1: alone first
        if runs != order:
            fail(f"runs {runs}, want {order}")
        for role in ROLES:
            if not any(line.split()[:1] == [role] for line in p.stdout.splitlines()):
                fail(f"the table has no {role} line:\n{p.stdout}")
        left = processes(f"{tmp}/")
        if left:
            fail(f"left behind: {left}")
        print(p.stdout.rstrip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("bench/tax: ok")


if __name__ == "__main__":
    main()
