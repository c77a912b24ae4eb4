#!/usr/bin/env python3
"""test_ratebasis.py - the sweep's fixed rate as a share of echo-epoll's capacity (bench/lib/ratebasis.py).

  - the rate is FRACTION of the capacity to two significant figures (125,313 -> 19,000 at 15%);
  - a search that cannot run (a bound bench/capacity refuses) gives the fallback rate and says why,
    exit 0: the sweep goes on at a stated rate rather than stop;
  - `meta` puts rate.json into meta.json as rate_basis and keeps every other key;
  - the report's first paragraph says where the rate came from: the capacity with its interval,
    RATE= as given, or the fallback and its reason;
  - `scale` (bench/variants' rate for its larger requests): RATE x FACTOR to two figures, at least
    FLOOR, k and m understood; a rate that is not one is exit 2.

usage: test_ratebasis.py SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, report_beside_sample

SRC = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
import ratebasis  # noqa: E402

SCRIPT = os.path.join(SRC, "bench", "lib", "ratebasis.py")


def report_first_paragraph(tmp, basis):
    with open(os.path.join(tmp, "rate.json"), "w") as f:
        json.dump(basis, f)
    shutil.copy(os.path.join(SRC, "results", "sample", "meta.json"), tmp)
    subprocess.run([sys.executable, SCRIPT, "meta", tmp], check=True, timeout=30)
    with open(os.path.join(tmp, "meta.json")) as f:
        meta = json.load(f)
    report = report_beside_sample(SRC, tmp, meta=meta)
    return report.split("\n\n")[1]


def main():
    for cap, want in ((125_313, 19_000), (140_000, 21_000), (6_000, 1_000), (1_234_567, 190_000)):
        got = max(1000, ratebasis.two_figures(ratebasis.FRACTION * cap))
        if got != want:
            fail(f"{ratebasis.FRACTION:.0%} of {cap:,}: {got:,}, want {want:,}")
    for rate, want in (("20k", "2500"), ("28000", "3500"), ("1.5k", "500"), ("2m", "250000")):
        p = subprocess.run([sys.executable, SCRIPT, "scale", rate, "0.125", "500"], capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0 or p.stdout.strip() != want:
            fail(f"scale {rate} 0.125 500: exit {p.returncode}, printed {p.stdout!r}, want {want}")
    p = subprocess.run([sys.executable, SCRIPT, "scale", "fast", "0.125", "500"], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 2 or "not a rate" not in p.stderr:
        fail(f"scale of a rate that is not one: exit {p.returncode}, {p.stderr!r}")
    tmp = tempfile.mkdtemp(prefix="muxbench-ratebasis.")
    try:
        p = subprocess.run([sys.executable, SCRIPT, "measure", tmp, "p99=fast", "1", "1s"], capture_output=True,
                           text=True, timeout=60)
        with open(os.path.join(tmp, "rate.json")) as f:
            doc = json.load(f)
        if p.returncode != 0 or p.stdout.strip() != str(ratebasis.FALLBACK) or doc.get("rate") != ratebasis.FALLBACK \
                or "exit 2" not in doc.get("fallback", ""):
            fail(f"a search that cannot run: exit {p.returncode}, printed {p.stdout!r}, rate.json {doc}")

        meta = os.path.join(tmp, "meta.json")
        with open(meta, "w") as f:
            json.dump({"kernel": "k", "cores": 2}, f)
        subprocess.run([sys.executable, SCRIPT, "meta", tmp], check=True, timeout=30)
        with open(meta) as f:
            m = json.load(f)
        if m.get("kernel") != "k" or m.get("cores") != 2 or m.get("rate_basis") != doc:
            fail(f"meta.json after merging: {m}")

        measured = {"fraction": 0.15, "server": "epoll", "connections": 10000, "slo": "p99=5ms", "reps": 3,
                    "capacity_rps": 125313, "interval": [120000, 240000], "verdict": "ok", "rate": 19000}
        para = report_first_paragraph(tmp, measured)
        want = ("15% of echo-epoll's capacity at N = 10,000 under p99=5ms, measured at the start of this sweep "
                "(125,313 [120,000–240,000] req/s)")
        if want not in para:
            fail(f"the first paragraph does not say the rate's basis ({want!r}): {para!r}")
        para = report_first_paragraph(tmp, {"given": True, "rate": "20k"})
        if "as RATE= gave it" not in para:
            fail(f"RATE= given: {para!r}")
        para = report_first_paragraph(tmp, dict(doc))
        if "the fallback" not in para or "exit 2" not in para:
            fail(f"the fallback: {para!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: the rate from the capacity, the fallback and why, meta.json's rate_basis, the report's sentence")


if __name__ == "__main__":
    main()
