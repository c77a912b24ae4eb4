#!/usr/bin/env python3
"""spread.py - how far the gate's figures move when nothing changed: A/A gates (the head build
against itself, bench/regress --base-build BUILD), each a directory; the tolerances in
bench/lib/regress.py must sit above what these show, and not far above.

Per metric, over every server, point and run: the largest fall and rise of head/base - 1 (in an
A/A run a fall is as likely as a rise, so the tolerance must clear both); for CPU, the server's
median pair ratio over its points (what the gate checks), one point's median, and single pairs.

usage: spread.py GATE_DIR...
"""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regress  # noqa: E402


def main(argv):
    if not argv:
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    worst = {"instr": [], "sys": [], "cpu": [], "point": [], "pair": []}
    for d in argv:
        gate, instr, rows = regress.load_gate(d)
        for c in regress.cells(gate, instr, rows):
            where = (os.path.basename(d.rstrip("/")), c.server, c.n)
            if c.instr:
                worst["instr"].append((c.instr[1] / c.instr[0] - 1, where))
            if c.sys:
                worst["sys"].append((c.sys[1] / c.sys[0] - 1, where))
            if c.cpu and c.n == "all":
                worst["cpu"].append((c.cpu[0] - 1, where))
            elif c.cpu:
                worst["point"].append((c.cpu[0] - 1, where))
                worst["pair"] += [(r - 1, where) for r in c.ratios or []]
    names = {"instr": "instructions per request (or pass)", "sys": "syscalls per request",
             "cpu": "CPU/req, a server's median pair (gated)", "point": "CPU/req, one point's median pair",
             "pair": "CPU/req, one pair"}
    tol = {"instr": regress.INSTR_TOL, "sys": regress.SYSCALLS_TOL, "cpu": regress.CPU_TOL, "point": None,
           "pair": None}
    print(f"A/A spread over {len(argv)} gate run(s)")
    print(f"{'metric':<40} {'cells':>5} {'median |change|':>16} {'largest fall':>13} {'largest rise':>13}  "
          f"{'where (the rise)':<40} tolerance")
    for k, vals in worst.items():
        if not vals:
            continue
        top = max(vals, key=lambda v: v[0])
        low = min(vals, key=lambda v: v[0])
        mid = statistics.median(abs(v) for v, _ in vals)
        t = f"+{tol[k]:.1%}" if tol[k] is not None else "-"
        print(f"{names[k]:<40} {len(vals):>5} {mid:>16.3%} {low[0]:>+13.3%} {top[0]:>+13.3%}  "
              f"{' '.join(map(str, top[1])):<40} {t}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
