#!/usr/bin/env python3
"""snapshots.py - what a server did between its last two stats snapshots (the measured window).

Reads a server's stats file (one JSON object per line, see README.md) and prints one JSON object
with the window's differences: requests, cpu_us (user+sys), cpu_us_per_req, util (CPU seconds per
second of the window), syscalls per kind and in total, read_eagain, events per wake-up, the
readiness checks (checks, walked, scanned: None for a server that cannot count them, whose line
says null, or a line from before they existed), context switches, peak RSS and threads. The loadgen sends SIGUSR1 at the start and at the end of its
window (--server-pid), so the last two "snapshot" lines bracket it.

usage: snapshots.py STATS_FILE
"""
import json
import sys

# The readiness checks of results/README.md: null in a line whose server cannot count them.
CHECKS = ("checks", "walked", "scanned")


def delta(a, b, key):
    """b[key] - a[key], or None when either line has no count there (null, or no such key)."""
    x, y = a.get(key), b.get(key)
    return None if x is None or y is None else y - x


def window(lines):
    snaps = [x for x in lines if x.get("type") == "snapshot"]
    if len(snaps) < 2:
        raise SystemExit(f"snapshots.py: need two snapshots, found {len(snaps)}")
    a, b = snaps[-2], snaps[-1]
    req = b["requests"] - a["requests"]
    dt = (b["time_ns"] - a["time_ns"]) / 1e9
    cpu = (b["user_us"] + b["sys_us"]) - (a["user_us"] + a["sys_us"])
    out = {
        "requests": req,
        "seconds": dt,
        "cpu_us": cpu,
        "user_us": b["user_us"] - a["user_us"],
        "sys_us": b["sys_us"] - a["sys_us"],
        "cpu_us_per_req": cpu / req if req else None,
        "util": cpu / 1e6 / dt if dt > 0 else None,
        "ctxsw": (b["nvcsw"] + b["nivcsw"]) - (a["nvcsw"] + a["nivcsw"]),
        "wakeups": b["wakeups"] - a["wakeups"],
        "loop_passes": b["loop_passes"] - a["loop_passes"],
        "events": b["events"] - a["events"],
        **{k: delta(a, b, k) for k in CHECKS},
        "maxrss_kb": b["maxrss_kb"],
        "threads": b["threads"],
        "conns": b["conns"],
        "counters": b["counters"],
    }
    if b.get("syscalls"):
        out["syscalls"] = {k: b["syscalls"][k] - a["syscalls"][k] for k in b["syscalls"]}
        out["read_eagain"] = b["read_eagain"] - a["read_eagain"]
    else:
        out["syscalls"] = None
        out["read_eagain"] = None
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    json.dump(window(lines), sys.stdout)
    print()


if __name__ == "__main__":
    main()
