#!/usr/bin/env python3
"""spread.py - how far the gate's figures move when nothing changed: A/A gates (the head build
against itself, bench/regress --base-build BUILD), each a directory; the tolerances in
bench/lib/regress.py must sit above what these show, and not far above.

Per metric, over every server, point and run: the largest change head/base - 1 (instructions,
syscalls per request: the rise the gate would see), and for CPU both the median pair ratio the
gate checks and the single pairs it is the median of.

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
    worst = {"instr": [], "sys": [], "cpu": [], "pair": []}
    for d in argv:
        gate, instr, rows = regress.load_gate(d)
        for c in regress.cells(gate, instr, rows):
            where = (os.path.basename(d.rstrip("/")), c.server, c.n)
            if c.instr:
                worst["instr"].append((c.instr[1] / c.instr[0] - 1, where))
            if c.sys:
                worst["sys"].append((c.sys[1] / c.sys[0] - 1, where))
            if c.cpu:
                worst["cpu"].append((c.cpu[0] - 1, where))
                worst["pair"] += [(c.cpu[1] - 1, where), (c.cpu[2] - 1, where)]
    names = {"instr": "instructions per request (or pass)", "sys": "syscalls per request",
             "cpu": "CPU per request, median pair ratio", "pair": "CPU per request, one pair's ratio"}
    tol = {"instr": regress.INSTR_TOL, "sys": regress.SYSCALLS_TOL, "cpu": regress.CPU_TOL, "pair": None}
    print(f"A/A spread over {len(argv)} gate run(s)")
    print(f"{'metric':<38} {'cells':>5} {'median |change|':>16} {'largest rise':>13}  {'where':<28} tolerance")
    for k, vals in worst.items():
        if not vals:
            continue
        top = max(vals)
        mid = statistics.median(abs(v) for v, _ in vals)
        t = f"+{tol[k]:.1%}" if tol[k] is not None else "-"
        print(f"{names[k]:<38} {len(vals):>5} {mid:>16.3%} {top[0]:>+13.3%}  {' '.join(map(str, top[1])):<28} {t}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
