#!/usr/bin/env python3
"""row.py - turn one measured run into one results row (bench/run calls it once per repetition).

Inputs: the server's stats file (its last two snapshots bracket the window), perf's CSV output
(or strace -c's table), the loadgen's JSON, and what bench/run knows (server, variant, load,
placement, ...). Output: one CSV line appended to DIR/rows.csv (header written when the file is
new) and one object appended to DIR/rows.json (an array), which also holds the per-kind syscall
breakdown from both counters.

Every per-request figure divides by the loadgen's responses in the window: requests as the client
saw them. results/README.md documents each column.
"""
import argparse
import csv
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from snapshots import window  # noqa: E402

COLUMNS = ("server,variant,connections,active,mode,offered_rps,size,rep,achieved_rps,p50_us,p90_us,"
           "p99_us,p999_us,max_us,syscalls_per_req,perf_syscalls_per_req,eagain_reads_per_read,"
           "cpu_us_per_req,user_us_per_req,sys_us_per_req,ctxsw_per_req,rss_kb,threads,errors,"
           "loadgen_cpu_us_per_req,loadgen_bound,count_method,placement,status").split(",")

# Counters that disagree by more than this are flagged in the row's status.
AGREEMENT = 0.05


def read_perf(path):
    """perf stat -x, output: value,unit,event,... -> {event: count}; '<not counted>' -> 0."""
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3 or line.startswith("#"):
                continue
            value, event = parts[0], parts[2]
            if not event:
                continue
            name = "total" if event == "raw_syscalls:sys_enter" else event.replace("syscalls:sys_enter_", "")
            counts[name] = int(value) if value.isdigit() else 0
    return counts


def read_strace(path):
    """strace -c -f table: '% time seconds usecs/call calls errors syscall' -> {syscall: calls}."""
    counts = {}
    total = 0
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
                total += int(m.group(1))
    counts["total"] = total
    return counts


def fmt(x, digits=3):
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def build_row(a):
    row = {c: None for c in COLUMNS}
    row.update(server=a.server, variant=a.variant, connections=a.connections, active=a.active,
               mode="rate" if a.rate else "closed", offered_rps=a.rate or None, size=a.size,
               rep=a.rep, count_method=a.count_method, placement=a.placement, status=a.status)
    detail = {"server_window": None, "perf": None, "loadgen": None}
    if a.status.startswith("unsupported"):
        return row, detail

    lg = json.load(open(a.loadgen)) if a.loadgen and os.path.exists(a.loadgen) else None
    try:
        with open(a.stats) as f:
            srv = window([json.loads(x) for x in f if x.strip()])
    except (OSError, ValueError, SystemExit, KeyError):
        srv = None
    kernel = None
    if a.perf and os.path.exists(a.perf):
        kernel = read_perf(a.perf) if a.count_method == "perf" else read_strace(a.perf)
    detail.update(server_window=srv, perf=kernel, loadgen=lg)

    problems = []
    if lg is None:
        problems.append("no_loadgen_result")
    if srv is None:
        problems.append("no_server_snapshots")
    if lg is None or srv is None:
        row["status"] = a.status if a.status != "ok" else "failed:" + problems[0]
        return row, detail

    req = lg["requests"]
    lat = lg["latency_us"]
    row.update(achieved_rps=lg["achieved_rps"], p50_us=lat["p50"], p90_us=lat["p90"], p99_us=lat["p99"],
               p999_us=lat["p999"], max_us=lat["max"], errors=lg["errors"],
               loadgen_cpu_us_per_req=lg["loadgen_cpu_us_per_req"], rss_kb=srv["maxrss_kb"],
               threads=srv["threads"])
    if req > 0:
        row["cpu_us_per_req"] = srv["cpu_us"] / req
        row["user_us_per_req"] = srv["user_us"] / req
        row["sys_us_per_req"] = srv["sys_us"] / req
        row["ctxsw_per_req"] = srv["ctxsw"] / req
        if srv["syscalls"]:
            row["syscalls_per_req"] = srv["syscalls"]["total"] / req
            useful = srv["syscalls"]["read"] - srv["read_eagain"]
            # io_uring receives without read(): its only reads are the signalfd's
            if not srv["syscalls"].get("io_uring_enter"):
                row["eagain_reads_per_read"] = srv["read_eagain"] / useful if useful else None
        if kernel and "total" in kernel:
            row["perf_syscalls_per_req"] = kernel["total"] / req

    # Who set the pace? A loadgen whose core is full while the server's is not measured itself.
    util_lg, util_srv = lg.get("loadgen_cpu_util") or 0, srv["util"] or 0
    missed = bool(a.rate) and lg["achieved_rps"] < 0.95 * a.rate
    row["loadgen_bound"] = (util_lg >= 0.95 and util_srv < 0.90) or missed
    detail["server_util"] = util_srv
    detail["loadgen_util"] = util_lg

    if row["status"] == "ok":
        if req == 0:
            problems.append("no_responses")
        if lg["starved"]:
            problems.append("starved")
        if lg["errors"]:
            problems.append("errors")
        if problems:
            row["status"] = "failed:" + problems[0]
    # The two counts must agree; a disagreement is reported, not hidden.
    s, p = row["syscalls_per_req"], row["perf_syscalls_per_req"]
    if s and p and abs(s - p) / max(s, p) > AGREEMENT:
        detail["count_disagreement"] = {"in_process": s, "kernel": p}
        if row["status"] == "ok":
            row["status"] = "failed:counts_disagree"
    return row, detail


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", required=True)
    for name in ("server", "variant", "placement", "count_method", "status"):
        p.add_argument("--" + name.replace("_", "-"), required=True)
    for name in ("connections", "active", "size", "rep"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--stats")
    p.add_argument("--perf")
    p.add_argument("--loadgen")
    p.add_argument("--extra", default="{}", help="JSON merged into the rows.json object")
    p.add_argument("--progress", help="REP/REPS, for the progress line on stderr")
    a = p.parse_args()

    row, detail = build_row(a)
    csv_path = os.path.join(a.out, "rows.csv")
    new = not os.path.exists(csv_path)
    with open(csv_path, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(COLUMNS)
        w.writerow([fmt(row[c]) for c in COLUMNS])

    json_path = os.path.join(a.out, "rows.json")
    rows = json.load(open(json_path)) if os.path.exists(json_path) else []
    obj = dict(row)
    obj.update(detail)
    obj.update(json.loads(a.extra))
    rows.append(obj)
    tmp = json_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmp, json_path)
    json.dump(row, sys.stdout)
    print()
    if a.progress:
        print(progress_line(row, a.progress), file=sys.stderr)


def progress_line(r, rep):
    """One line per run. Inside bench/sweep (MUXBENCH_SWEEP="DONE TOTAL START_EPOCH") it counts
    runs over the whole sweep and adds an ETA from the mean time per run so far."""
    import time
    prefix = f"[{rep}]"
    eta = ""
    sweep = os.environ.get("MUXBENCH_SWEEP", "").split()
    if len(sweep) == 3:
        done, total, start = int(sweep[0]) + int(rep.split("/")[0]), int(sweep[1]), float(sweep[2])
        prefix = f"[{done}/{total}]"
        left = (time.time() - start) / done * (total - done)
        eta = f" (ETA {int(left // 60)}m{int(left % 60):02d}s)"

    def f(k, spec):
        return format(r[k], spec) if r.get(k) is not None else "-"

    load = f"rate {r['offered_rps'] // 1000 if r['offered_rps'] % 1000 == 0 else r['offered_rps']}" \
        f"{'k' if r['offered_rps'] % 1000 == 0 else ''}" if r["mode"] == "rate" else "closed"
    name = results.label(r)  # the name the report and charts use
    p99 = r.get("p99_us")
    p99s = "-" if p99 is None else (f"{p99 / 1000:.1f} ms" if p99 >= 1000 else f"{p99:.0f} µs")
    status = "" if r["status"] == "ok" else f" [{r['status']}]"
    bound = " LOADGEN-BOUND" if r.get("loadgen_bound") else ""
    return (f"{prefix} {name} N={r['connections']:,} M={r['active']} {load}: {f('achieved_rps', ',.0f')} req/s, "
            f"{f('syscalls_per_req', '.2f')} syscalls/req (perf {f('perf_syscalls_per_req', '.2f')}), "
            f"{f('cpu_us_per_req', '.1f')} µs CPU/req, p99 {p99s}{eta}{status}{bound}")


if __name__ == "__main__":
    main()
