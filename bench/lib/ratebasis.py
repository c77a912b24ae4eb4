#!/usr/bin/env python3
"""ratebasis.py - the sweep's fixed rate as a share of what this machine's echo-epoll can serve.

Machines of this kind differ up to 5x in speed, so an absolute default rate (20k req/s) saturates
poll at N = 10,000 on a slow one and leaves every server idle on a fast one. The sweep's default
rate is instead FRACTION of echo-epoll's capacity at N = 10,000 under the capacity search's latency
bound (bench/capacity), measured at the start of the sweep, to two significant figures. The search
lands in OUT/capacity/epoll-n10000/ (bench/capacities keeps it), its basis in OUT/rate.json, which
the sweep copies into meta.json's `rate_basis` at its end and the report's first paragraph states.
A search that finds no capacity leaves the rate at FALLBACK and says why; RATE= skips all of it.

usage: ratebasis.py measure OUT SLO REPS DURATION   (prints the rate; exit 0 even on a fallback)
       ratebasis.py given OUT RATE                  (RATE= was set: the basis says so)
       ratebasis.py meta OUT                        (rate.json into OUT/meta.json)
       ratebasis.py scale RATE FACTOR FLOOR         (RATE x FACTOR to two figures, at least FLOOR:
                                                     bench/variants' rate for its larger requests)
"""
import json
import os
import subprocess
import sys

import capacity

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FRACTION = 0.15
SERVER, CONNECTIONS = "epoll", 10000
FALLBACK = 20000


def two_figures(x):
    """x rounded to two significant figures (123,456 -> 120,000)."""
    e = 10 ** max(0, len(str(int(x))) - 2)
    return int(round(x / e) * e)


def write(out, doc):
    with open(os.path.join(out, "rate.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def measure(out, slo, reps, duration):
    d = os.path.join(out, "capacity", f"{SERVER}-n{CONNECTIONS}")
    argv = [os.path.join(ROOT, "bench", "capacity"), "--server", SERVER, "--connections", str(CONNECTIONS),
            "--slo", slo, "--reps", reps, "--duration", duration, "--start", "auto", "--out", d]
    doc = {"fraction": FRACTION, "server": SERVER, "connections": CONNECTIONS, "slo": slo, "reps": int(reps),
           "capacity_json": os.path.relpath(os.path.join(d, "capacity.json"), out)}
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=3600)
    sys.stderr.write("".join(line + "\n" for line in p.stderr.splitlines() if line.startswith("capacity:")))
    try:
        with open(os.path.join(d, "capacity.json")) as f:
            cap = json.load(f)
    except (OSError, ValueError):
        cap = None
    if p.returncode != 0 or not cap or not cap.get("capacity_rps"):
        why = (f"bench/capacity exit {p.returncode}" if p.returncode != 0 else
               f"the search found no capacity ({cap['verdict']})" if cap else "no capacity.json")
        doc.update(rate=FALLBACK, fallback=why)
    else:
        doc.update(capacity_rps=cap["capacity_rps"], interval=cap.get("interval"), verdict=cap["verdict"],
                   rate=max(1000, two_figures(FRACTION * cap["capacity_rps"])))
    write(out, doc)
    print(doc["rate"])
    return 0


def merge_meta(out):
    try:
        with open(os.path.join(out, "rate.json")) as f:
            basis = json.load(f)
    except (OSError, ValueError):
        return 0
    path = os.path.join(out, "meta.json")
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            meta = json.load(f)
    meta["rate_basis"] = basis
    with open(path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return 0


def said(basis):
    """The report's clause on where the fixed rate came from, after 'a fixed rate of R requests/s'
    ('' when the run has no basis)."""
    if not basis:
        return ""
    if basis.get("given"):
        return ", as RATE= gave it"
    if basis.get("fallback"):
        return (f", the fallback: its default, {basis['fraction']:.0%} of echo-{basis['server']}'s capacity, could not "
                f"be measured ({basis['fallback']})")
    iv = " " + capacity.interval_text(basis["interval"]) if basis.get("interval") else ""
    bound = ", at least: the loadgen could not drive more" if basis.get("verdict") == "loadgen_bound" else ""
    return (f", {basis['fraction']:.0%} of echo-{basis['server']}'s capacity at N = {basis['connections']:,} under "
            f"{basis['slo']}, measured at the start of this sweep ({basis['capacity_rps']:,}{iv} req/s{bound})")


def scale(rate, factor, floor):
    """RATE (a count, or with k or m: 20k) times FACTOR, to two significant figures, at least FLOOR."""
    mult = {"k": 1000, "m": 1000000}.get(rate[-1:].lower(), 1)
    digits = rate[:-1] if mult > 1 else rate
    try:
        value = float(digits) * mult * float(factor)
        low = int(floor)
    except ValueError:
        print(f"ratebasis.py: scale: not a rate, factor and floor: {rate!r} {factor!r} {floor!r}", file=sys.stderr)
        return 2
    print(max(low, two_figures(value)) if value >= 1 else low)
    return 0


def main(argv):
    if len(argv) == 5 and argv[0] == "measure":
        return measure(*argv[1:])
    if len(argv) == 3 and argv[0] == "given":
        write(argv[1], {"given": True, "rate": argv[2]})
        return 0
    if len(argv) == 4 and argv[0] == "scale":
        return scale(*argv[1:])
    if len(argv) == 2 and argv[0] == "meta":
        return merge_meta(argv[1])
    print(__doc__.strip().splitlines()[-3], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
