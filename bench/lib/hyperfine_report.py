#!/usr/bin/env python3
"""hyperfine_report.py - bench/hyperfine's per-server exports become one table and one chart's data.

Reads OUT/hyperfine/<server>.json (hyperfine's --export-json, one per server) and writes
OUT/hyperfine.json (all results), OUT/hyperfine.md (mean, stddev, min, max, runs per server) and
OUT/plots/hyperfine.dat (for plots/), servers in the report's order (results.sort_key).

usage: hyperfine_report.py OUT_DIR
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def main(out):
    found = []
    for path in glob.glob(os.path.join(out, "hyperfine", "*.json")):
        with open(path) as f:
            found += json.load(f)["results"]
    found.sort(key=lambda r: results.sort_key(r["command"]))
    with open(os.path.join(out, "hyperfine.json"), "w") as f:
        json.dump({"results": found}, f, indent=1)
    with open(os.path.join(out, "hyperfine.md"), "w") as f:
        f.write("| server | mean (s) | stddev (s) | min (s) | max (s) | runs |\n"
                "| --- | ---: | ---: | ---: | ---: | ---: |\n")
        for r in found:
            f.write(f"| {r['command']} | {r['mean']:.3f} | {r['stddev'] or 0:.3f} | {r['min']:.3f} | {r['max']:.3f} "
                    f"| {len(r['times'])} |\n")
    with open(os.path.join(out, "plots", "hyperfine.dat"), "w") as f:
        f.write("server mean min max\n")
        for r in found:
            f.write(f"{r['command']} {r['mean']:.4f} {r['min']:.4f} {r['max']:.4f}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
