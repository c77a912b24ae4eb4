#!/usr/bin/env python3
"""test_chart_labels.py - a bar chart's value labels stand over their own bars.

plots/kinds.gp draws a rowstacked histogram (data row i at x = i) and a label over each bar with
its total. Once the labels' `using` counted the header line as row 0, and every total stood one
bar to the right of its own (49.31, busy-poll's, above poll). This test runs the script's own label
clause through gnuplot's `set table` on a data file laid out as bench/lib/plotdata.py writes it,
and checks that the label of data row i is at x = i and carries row i's total.

usage: test_chart_labels.py SOURCE_ROOT (exit 77 without gnuplot)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def main():
    root = sys.argv[1]
    if not shutil.which("gnuplot"):
        print("SKIP: no gnuplot")
        sys.exit(77)
    with open(os.path.join(root, "plots", "kinds.gp")) as f:
        script = f.read()
    # the label plot: the clause after the histogram's, "'' [skip ..] using ...with labels ..."
    m = re.search(r"''\s*((?:skip \d+\s+)?using [^\"]*?with labels)", script)
    if not m:
        fail("plots/kinds.gp: no \"'' ... with labels\" clause found")
    clause = m.group(1)
    rows = [("blocking", 2.0), ("busypoll", 49.31), ("poll", 2.04), ("epoll", 2.31)]
    with tempfile.TemporaryDirectory() as d:
        dat = os.path.join(d, "kinds.dat")
        with open(dat, "w") as f:  # plotdata.py's layout: a header, then server, 7 kinds, total
            f.write('server "a" "b" "c" "d" "e" "f" "g" total\n')
            for name, total in rows:
                f.write(f"{name} {total} 0 0 0 0 0 0 {total}\n")
        tab = os.path.join(d, "labels.tab")
        gp = f"set table '{tab}'\nplot '{dat}' {clause} notitle\nunset table\n"
        p = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True, timeout=30)
        if p.returncode != 0:
            fail(f"gnuplot: {p.stderr.strip()}")
        with open(tab) as f:
            got = [line.split() for line in f if line.strip() and not line.startswith("#")]
    if len(got) != len(rows):
        fail(f"{len(got)} labels for {len(rows)} bars: {got}")
    for i, ((name, total), g) in enumerate(zip(rows, got)):
        x, label = float(g[0]), g[2].strip('"')
        if x != i or abs(float(label) - total) > 0.005:
            fail(f"bar {i} ({name}, total {total}): its label stands at x = {x} and says {label}")
    print(f"ok: {len(rows)} labels over their own bars ({clause})")


if __name__ == "__main__":
    main()
