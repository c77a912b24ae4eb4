#!/usr/bin/env python3
"""snapshots.py - what a server did between its last two stats snapshots (the measured window).

Reads a server's stats file (one JSON object per line, see README.md) and prints one JSON object
with the window's differences: requests, cpu_us (user+sys), cpu_us_per_req, util (CPU seconds per
second of the window), syscalls per kind and in total, read_eagain, events per wake-up, the
readiness checks (checks, walked, scanned: None for a server that cannot count them, whose line
says null, or a line from before they existed), context switches, peak RSS and threads; for a
server with several loops each loop's share (loops: requests, accepted, cpu_us in the window, conns
at its end) and Jain's fairness index of each over the loops (fairness; 1 = even, 1/loops = one
loop has it all); for echo-uring --sqpoll its SQ thread's CPU in the window and where it ran
(sq_thread). The loadgen sends SIGUSR1 at the start and at the end of its
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


def jain(xs):
    """Jain's fairness index of xs: (sum x)^2 / (n sum x^2), 1 when all are equal, 1/n when one
    has everything; None for no values or all zero."""
    xs = [x for x in xs if x is not None]
    sq = sum(x * x for x in xs)
    return sum(xs) ** 2 / (len(xs) * sq) if xs and sq else None


def loops_window(a, b):
    """Each loop's share of the window (a server with several loops: --threads, --workers): its
    requests, accepts and CPU time in it, and the connections it holds at its end; None for a
    server with one loop, or lines whose loops do not match (a worker restarted)."""
    la, lb = a.get("loops"), b.get("loops")
    if not la or not lb or len(la) != len(lb):
        return None
    return [{"requests": y["requests"] - x["requests"], "accepted": y["accepted"] - x["accepted"],
             "conns": y["conns"], "cpu_us": delta(x, y, "cpu_us")} for x, y in zip(la, lb)]


def fairness(loops):
    """Jain's index over the loops of their requests, connections and CPU in the window."""
    if not loops:
        return None
    return {k: jain([lp[k] for lp in loops]) for k in ("requests", "conns", "cpu_us")}


def window(lines):
    snaps = [x for x in lines if x.get("type") == "snapshot"]
    if len(snaps) < 2:
        raise SystemExit(f"snapshots.py: need two snapshots, found {len(snaps)}")
    a, b = snaps[-2], snaps[-1]
    req = b["requests"] - a["requests"]
    dt = (b["time_ns"] - a["time_ns"]) / 1e9
    cpu = (b["user_us"] + b["sys_us"]) - (a["user_us"] + a["sys_us"])
    out = {
        "requests": req,  # the server's: reads that returned data (a pipelined batch is one)
        "bytes_in": b["bytes_in"] - a["bytes_in"],
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
        # epoll --busy-poll's connections without a NAPI id (busy polling had nothing to poll)
        "no_napi_conns": b.get("no_napi_conns", 0),
        "counters": b["counters"],
        "loops": loops_window(a, b),
    }
    # echo-uring --sqpoll: its kernel thread's CPU in the window (inside cpu_us: getrusage counts
    # the thread group), where it last ran and where it may run (servers/core/sqthread.h)
    sa, sb = a.get("sq_thread"), b.get("sq_thread")
    if sa and sb and sa.get("cpu_us") is not None and sb.get("cpu_us") is not None:
        out["sq_thread"] = {"cpu_us": sb["cpu_us"] - sa["cpu_us"], "cpu": sb["cpu"], "allowed": sb["allowed"]}
    # echo-uring --zc: its notifications in the window, and those that said the kernel copied
    if "zc_notifs" in b and "zc_notifs" in a:
        out["zc_notifs"] = b["zc_notifs"] - a["zc_notifs"]
        out["zc_copied"] = b["zc_copied"] - a["zc_copied"]
    out["fairness"] = fairness(out["loops"])
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
