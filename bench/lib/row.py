#!/usr/bin/env python3
"""row.py - turn one measured run into one results row (bench/run calls it once per repetition).

Inputs: the server's stats file (its last two snapshots bracket the window), perf's CSV output
(or strace -c's table) in a kernel repetition, bench/lib/profile.py's summary of perf record's
samples in a profile repetition, the loadgen's JSON, and what bench/run knows (server, variant,
load, placement, the repetition's role, ...). Output: one CSV line appended to DIR/rows.csv (header
written when the file is new) and one object appended to DIR/rows.json (an array), which also holds
the per-kind syscall breakdown from both counters.

A row's `counting` says what else ran beside the server's own counters: "own" (nothing: its
throughput, latency and CPU are the published ones), "kernel" (perf stat or strace: the two syscall
counts are compared here, and for a server whose readiness checks are its reads, the two check
counts too), "profile" (perf record: the server's CPU shares, and the kernel's count of the checks
from tracepoints, compared with the server's own).

Every per-request figure divides by the loadgen's responses in the window: requests as the client
saw them. results/README.md documents each column. A server that keeps no stats file (a user's
own, from bench/run --server-cmd) is counted by the kernel alone, in kernel repetitions: its rows'
server fields are empty.

bench/run imports this module and calls append() once per repetition; `row.py --out DIR ...` does
the same from the command line.

`row.py sample --out FILE --cgroup NAME=DIR...` is bench/run's sampler: while a run lasts it
appends, every 20 ms, each cgroup's CPU time and the time its tasks waited for a CPU none of them
had (cpu.stat usage_usec, cpu.pressure full), so that `bound` can tell a saturated side from one
that merely got a share of a core other work also wanted.
"""
import argparse
import csv
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402
from snapshots import window  # noqa: E402

COLUMNS = ("server,variant,connections,active,mode,offered_rps,size,pipeline,rep,achieved_rps,p50_us,p90_us,"
           "p99_us,p999_us,max_us,syscalls_per_req,perf_syscalls_per_req,eagain_reads_per_read,"
           "cpu_us_per_req,user_us_per_req,sys_us_per_req,ctxsw_per_req,rss_kb,threads,errors,"
           "loadgen_cpu_us_per_req,bound,count_method,placement,status,counting,checks_per_req,walked_per_req,"
           "scanned_per_req,waits_per_req,kernel_checks_per_req,wait_share").split(",")

# Counters that disagree by more than this are flagged in the row's status.
AGREEMENT = 0.05
# The server's readiness checks and the kernel's count of them count the same thing (spec: issue
# 17), so they must agree more closely; only the window's edges differ (checks_agree).
CHECKS_AGREEMENT = 0.02
# With load from other hosts, how far the server's request count over the window may be from the
# loadgens' sum (beyond the 2 M in flight at the edges): each host's window edge is off by its clock
# offset's bound (at most 1 ms) and the harness's marks by a scheduling delay.
REMOTE_AGREEMENT = 0.02
# The two counts' windows do not open and close at the same instant: perf's at the loadgen's
# enable and disable, the server's where its loop takes the snapshot the SIGUSR1 asked for, a pass
# later or so (the pass under way when the signal came, and the one that takes it). So a difference
# of up to this many of the window's average passes per loop (two at each end) is the edges', not a
# disagreement. It matters only for a window of few passes (busy-poll or poll over 15,000 fds, an
# io_uring of big batches): with a thousand passes it is 0.4% of the count, under the 2%.
EDGE_PASSES = 4
SHARES = ("wait", "recv", "send", "kernel_other", "user")
# How busy a side was comes from the sampler's figures when its samples span at least this much of
# the loadgen's window (at 20 ms they span all but the last 20 ms or so).
COVER = 0.5
SAMPLE_S = 0.02  # a sample and its wake-up cost ~120 µs of CPU: 0.6% of the CPU it shares with the loadgen
BUSY_METHOD = "cgroup cpu.stat + cpu.pressure"


def read_cgroup(files):
    """(cpu.stat, cpu.pressure), open -> {usage_us, full_us}: the cgroup's CPU time, and the time
    its tasks were runnable while none of them was running ('full'; 'some' where a kernel has no
    'full' line for CPU, the same figure for one thread)."""
    stat, pressure = files
    stat.seek(0)
    pressure.seek(0)
    usage = next(int(line.split()[1]) for line in stat.read().splitlines() if line.startswith("usage_usec "))
    waits = {line.split()[0]: int(line.rsplit("total=", 1)[1])
             for line in pressure.read().splitlines() if "total=" in line}
    return {"usage_us": usage, "full_us": waits.get("full", waits.get("some"))}


def sample_main(argv):
    p = argparse.ArgumentParser(prog="row.py sample", description="bench/run's CPU sampler (see the top of row.py)")
    p.add_argument("--out", required=True)
    p.add_argument("--cgroup", action="append", default=[], metavar="NAME=DIR")
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    groups = {}
    for spec in a.cgroup:
        name, d = spec.split("=", 1)
        try:
            groups[name] = (open(os.path.join(d, "cpu.stat")), open(os.path.join(d, "cpu.pressure")))
        except OSError:
            pass  # no such cgroup (the side could not be moved into it) or no PSI: its CPU share stands in
    parent = os.getppid()
    with open(a.out, "a") as out:
        while groups and os.getppid() == parent:  # bench/run gone (even by SIGKILL): stop
            rec = {"t_ns": time.monotonic_ns()}
            for name, files in list(groups.items()):
                try:
                    rec[name] = read_cgroup(files)
                except (OSError, StopIteration, ValueError):
                    del groups[name]
            out.write(json.dumps(rec) + "\n")
            out.flush()
            time.sleep(SAMPLE_S)


def read_samples(path):
    """The sampler's lines. Once read, the file keeps only the two that bracket the window (see
    keep_samples): a line every 20 ms would add ~5 kB a second to every run's logs."""
    samples = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                try:
                    samples.append(json.loads(line))
                except ValueError:
                    pass  # the last line of a sampler stopped mid-write
    return samples


def window_samples(samples, window):
    """The first and last sample inside the loadgen's window, or [] when there are not two."""
    if not window:
        return []
    inside = [s for s in samples if window["start_ns"] <= s["t_ns"] <= window["end_ns"]]
    return [inside[0], inside[-1]] if len(inside) >= 2 else []


def keep_samples(path, samples):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.writelines(json.dumps(s) + "\n" for s in samples)
    os.replace(tmp, path)


def busy(samples, window, server_cores, loadgen_cores):
    """How busy each side was in the loadgen's window (its CLOCK_MONOTONIC start_ns, end_ns), from
    the sampler's first and last samples inside it: (CPU time + time runnable but not running) /
    seconds / the CPUs the side may use, at most 1. A side whose threads always had work is 1 even
    when other work on its core took part of it. -> (server, loadgen, method); None where the
    samples do not say (no cgroup for that side, or samples spanning too little of the window)."""
    if not window:
        return None, None, None
    t0, t1 = window["start_ns"], window["end_ns"]
    inside = window_samples(samples, window)
    if not inside or inside[-1]["t_ns"] - inside[0]["t_ns"] < COVER * (t1 - t0):
        return None, None, None
    a, b = inside
    dt = (b["t_ns"] - a["t_ns"]) / 1e9

    def side(name, cores):
        if name not in a or name not in b or None in (a[name]["full_us"], b[name]["full_us"]):
            return None
        ran = (b[name]["usage_us"] - a[name]["usage_us"]) + (b[name]["full_us"] - a[name]["full_us"])
        return min(1.0, ran / 1e6 / dt / cores)
    s, lg = side("server", server_cores), side("loadgen", loadgen_cores)
    return s, lg, BUSY_METHOD if s is not None or lg is not None else None


def shared_core(placement, server_busy, loadgen_busy, server_util, loadgen_util):
    """With --placement shared both sides run on one core, which either can fill: each waits while
    the other runs, so neither's own figure shows a core the two kept full between them. There
    both sides' busy is the core's: the larger own figure, or the two CPU shares together."""
    if placement != "shared":
        return server_busy, loadgen_busy
    core = min(1.0, max(server_busy or 0, loadgen_busy or 0, (server_util or 0) + (loadgen_util or 0)))
    return core, core


def cores(placement, threads):
    """The CPUs a side may use: one when pinned (split, shared), else one per thread up to all."""
    if placement != "all" and not placement.endswith(":all"):  # remote:K:all, the server's CPUs all
        return 1
    return max(1, min(threads or 1, len(os.sched_getaffinity(0))))


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


def kernel_checks(a, counting, kernel):
    """The kernel's own count of the server's readiness checks over the window, as rows.json's
    `kernel_checks`: {"checks", "walked", "source", "why_not"}, or None in an own repetition.
    A kernel repetition has it where the checks are the server's reads (blocking; busy-poll, whose
    accept4 attempts are checks too): perf stat counts those syscalls. Every other model's count is
    what one call examined, which only a profile repetition's tracepoints see (profile.summarize)."""
    kind = getattr(a, "checks_kind", None) or "none"
    if counting == "profile":
        summary = getattr(a, "profile", None) or {}
        return summary.get("kernel_checks")
    if counting != "kernel":
        return None
    method = a.count_method or "perf"
    if kind == "reads" and kernel and "read" in kernel:
        spins = bool(getattr(a, "spins", False))
        n = kernel["read"] + (kernel.get("accept4", 0) if spins else 0)
        return {"checks": n, "walked": n, "source": f"{method}: read" + (" + accept4" if spins else ""),
                "why_not": None}
    if kind == "reads":
        why = f"no read count from {method}"
    elif kind == "none" and not getattr(a, "own_stats", True):
        why = "a user's server (--server-cmd): what it waits with is not known"
    else:
        why = f"{method} counts syscalls, not what each wait examined: a profile repetition's tracepoints do"
    return {"checks": None, "walked": None, "source": method, "why_not": why}


def checks_disagree(srv, kc, loops):
    """The server's own checks (and walked) against the kernel's over the window -> None when they
    agree or there is nothing to compare, else {figure: {"own", "kernel", "allowed"}}. Allowed:
    CHECKS_AGREEMENT of the larger, or EDGE_PASSES average passes per loop (see EDGE_PASSES)."""
    if not srv or not kc:
        return None
    passes = srv.get("loop_passes") or 0
    out = {}
    for what in ("checks", "walked"):
        own, kern = srv.get(what), kc.get(what)
        if own is None or kern is None:
            continue
        edge = EDGE_PASSES * max(1, loops or 1) * own / passes if passes else 0
        allowed = max(CHECKS_AGREEMENT * max(own, kern), edge)
        if abs(own - kern) > allowed:
            out[what] = {"own": own, "kernel": kern, "allowed": round(allowed, 1)}
    return out or None


def build_row(a):
    row = {c: None for c in COLUMNS}
    # an old caller without a role: counted by the kernel when it gave a count, else a published rep
    counting = getattr(a, "counting", None) or ("kernel" if a.perf else "own")
    row.update(server=a.server, variant=a.variant, connections=a.connections, active=a.active,
               mode="rate" if a.rate else "closed", offered_rps=a.rate or None, size=a.size,
               pipeline=getattr(a, "pipeline", 1),
               rep=a.rep, count_method=a.count_method, placement=a.placement, status=a.status,
               counting=counting)
    detail = {"server_window": None, "perf": None, "loadgen": None}
    if a.status.startswith("unsupported"):
        return row, detail

    lg = None
    if a.loadgen and os.path.exists(a.loadgen):
        with open(a.loadgen) as f:
            lg = json.load(f)
    own_stats = getattr(a, "own_stats", True)
    srv = None
    if own_stats:
        try:
            with open(a.stats) as f:
                srv = window([json.loads(x) for x in f if x.strip()])
        except (OSError, TypeError, ValueError, SystemExit, KeyError):
            srv = None
    kernel = None
    if a.perf and os.path.exists(a.perf):
        kernel = read_perf(a.perf) if a.count_method == "perf" else read_strace(a.perf)
    detail.update(server_window=srv, perf=kernel, loadgen=lg)

    problems = []
    if lg is None:
        problems.append("no_loadgen_result")
    if srv is None and own_stats:
        problems.append("no_server_snapshots")
    if problems:
        row["status"] = a.status if a.status != "ok" else "failed:" + problems[0]
        return row, detail

    req = lg["requests"]
    # Load from K hosts (bench/run --clients): the window is the harness's, marked on the server's
    # clock, so per-request figures divide by the server's own count in it; the loadgens' sum, from
    # K clocks agreed to within a millisecond, must agree with it (REMOTE_AGREEMENT).
    # The server counts reads that returned data; an echo server does not see message boundaries,
    # so the requests it served are the bytes it read over the request size (one read takes a
    # pipelined batch, a 16 KiB request takes several reads).
    if lg.get("parts") and srv and srv.get("bytes_in") is not None:
        served = srv["bytes_in"] // a.size
        detail["requests_check"] = {"server": served, "loadgens": req}
        if abs(served - req) > REMOTE_AGREEMENT * max(served, req) + 2 * a.active * getattr(a, "pipeline", 1):
            problems.append("requests_disagree")
        req = served
    lat = lg["latency_us"]
    row.update(achieved_rps=lg["achieved_rps"], p50_us=lat["p50"], p90_us=lat["p90"], p99_us=lat["p99"],
               p999_us=lat["p999"], max_us=lat["max"], errors=lg["errors"],
               loadgen_cpu_us_per_req=lg["loadgen_cpu_us_per_req"])
    if srv:
        row.update(rss_kb=srv["maxrss_kb"], threads=srv["threads"])
    if req > 0 and srv:
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
    if req > 0 and kernel and "total" in kernel:
        row["perf_syscalls_per_req"] = kernel["total"] / req
    # echo-uring --sqpoll: the SQ thread's part of cpu_us_per_req, and the CPU it ran on
    if req > 0 and srv and srv.get("sq_thread"):
        sq = srv["sq_thread"]
        detail["sq_cpu_us_per_req"] = sq["cpu_us"] / req
        detail["sq_thread"] = {"cpu": sq["cpu"], "allowed": sq["allowed"]}
    # echo-uring --zc: the share of its zero-copy sends that the kernel copied after all
    if srv and srv.get("zc_notifs"):
        detail["zc_copied_share"] = srv["zc_copied"] / srv["zc_notifs"]
    # Readiness checks: the server's own count (snapshots.py's window; None where the server
    # reports none, libuv, or its stats line predates the count), and the kernel's.
    if req > 0 and srv:
        for k in ("checks", "walked", "scanned"):
            if srv.get(k) is not None:
                row[f"{k}_per_req"] = srv[k] / req
        if srv.get("wakeups") is not None:
            row["waits_per_req"] = srv["wakeups"] / req
    kc = kernel_checks(a, counting, kernel)
    if counting != "own":
        detail["kernel_checks"] = kc
        detail["kernel_walked_per_req"] = kc["walked"] / req if kc and kc.get("walked") is not None and req else None
        if req > 0 and kc and kc.get("checks") is not None:
            row["kernel_checks_per_req"] = kc["checks"] / req
    if counting == "profile":
        summary = getattr(a, "profile", None) or {}
        shares = summary.get("shares")
        detail["cpu_shares"] = dict(shares, samples=summary.get("samples")) if shares else None
        detail["profile_samples"] = summary.get("samples")
        detail["tracepoints"] = summary.get("tracepoints")
        if shares:
            row["wait_share"] = shares.get("wait")

    # Who set the pace (results.bound): the side whose CPU was saturated, the server first; a missed
    # rate with neither saturated is "neither". Busy is what a side ran plus what it waited to run,
    # from the sampler; without samples, its CPU share (which a busy neighbour on its core lowers).
    # (A server without stats has no CPU share: only the samples can say how busy it was.)
    util_lg, util_srv = lg.get("loadgen_cpu_util") or 0, (srv["util"] or 0) if srv else None
    srv_cores = cores(a.placement, srv["threads"] if srv else None)
    lg_cores = cores(a.placement, (lg.get("config") or {}).get("threads"))
    samples = read_samples(a.busy)
    b_srv, b_lg, how = busy(samples, lg.get("window"), srv_cores, lg_cores)
    if samples:
        keep_samples(a.busy, window_samples(samples, lg.get("window")))
    detail["server_util"] = util_srv
    detail["loadgen_util"] = util_lg
    detail["server_busy"], detail["loadgen_busy"] = shared_core(
        a.placement, b_srv if b_srv is not None else None if util_srv is None else min(1.0, util_srv / srv_cores),
        b_lg if b_lg is not None else util_lg, util_srv, util_lg)
    detail["busy_method"] = {"server": how if b_srv is not None else "CPU share" if srv else None,
                             "loadgen": how if b_lg is not None else "CPU share"}
    row["bound"] = results.bound(detail["server_busy"], detail["loadgen_busy"], a.rate or None, lg["achieved_rps"])

    if row["status"] == "ok":
        if req == 0:
            problems.insert(0, "no_responses")
        if lg["starved"]:
            problems.append("starved")
        if lg["errors"]:
            problems.append("errors")
        if problems:
            row["status"] = "failed:" + problems[0]
    # epoll --busy-poll on sockets without a NAPI id (loopback has none): the kernel busy-polled
    # nothing, so the figures are epoll's own, not busy polling's; the row says so instead.
    if srv and srv.get("no_napi_conns") and row["status"] == "ok":
        row["status"] = "unsupported:no_napi"
    # The two counts must agree; a disagreement is reported, not hidden.
    s, p = row["syscalls_per_req"], row["perf_syscalls_per_req"]
    if s and p and abs(s - p) / max(s, p) > AGREEMENT:
        detail["count_disagreement"] = {"in_process": s, "kernel": p}
        if row["status"] == "ok":
            row["status"] = "failed:counts_disagree"
    # ...and so must the two counts of readiness checks, where a row has both.
    bad = checks_disagree(srv, kc, getattr(a, "loops", 1)) if counting != "own" else None
    if bad:
        detail["checks_disagreement"] = bad
        if row["status"] == "ok":
            row["status"] = "failed:checks_disagree"
    return row, detail


def append(a, extra=None):
    """Builds the row of one run (a: what main's options hold; a.own_stats=False for a server
    without a stats file), appends it to a.out's rows.csv and rows.json (extra merged into the
    latter), prints the progress line when a.progress is set, and returns the row."""
    row, detail = build_row(a)
    csv_path = os.path.join(a.out, "rows.csv")
    new = not os.path.exists(csv_path)
    with open(csv_path, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(COLUMNS)
        w.writerow([fmt(row[c]) for c in COLUMNS])

    json_path = os.path.join(a.out, "rows.json")
    rows = []
    if os.path.exists(json_path):
        with open(json_path) as f:
            rows = json.load(f)
    obj = dict(row)
    obj.update(detail)
    obj.update(extra or {})
    rows.append(obj)
    tmp = json_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmp, json_path)
    if getattr(a, "progress", None):
        print(progress_line(row, a.progress), file=sys.stderr)
    return row


def main():
    if sys.argv[1:2] == ["sample"]:
        return sample_main(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", required=True)
    for name in ("server", "variant", "placement", "count_method", "status"):
        p.add_argument("--" + name.replace("_", "-"), required=True)
    for name in ("connections", "active", "size", "rep"):
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--pipeline", type=int, default=1)
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--stats")
    p.add_argument("--no-stats", dest="own_stats", action="store_false",
                   help="the server keeps no stats file: count it by the kernel alone")
    p.add_argument("--perf")
    p.add_argument("--loadgen")
    p.add_argument("--busy", help="the sampler's output (row.py sample)")
    p.add_argument("--extra", default="{}", help="JSON merged into the rows.json object")
    p.add_argument("--progress", help="REP/REPS, for the progress line on stderr")
    p.add_argument("--counting", choices=("own", "kernel", "profile"),
                   help="the repetition's role (default: kernel with --perf, else own)")
    p.add_argument("--checks-kind", default="none", help="the table's checks column (reads, set_fds, ...)")
    p.add_argument("--spins", action="store_true", help="the server spins (busy-poll: its accept4s are checks)")
    p.add_argument("--loops", type=int, default=1, help="the server's event loops (the table's loops)")
    p.add_argument("--profile-summary", help="a JSON file of bench/lib/profile.py's summarize() (profile reps)")
    a = p.parse_args()
    a.profile = None
    if a.profile_summary:
        with open(a.profile_summary) as f:
            a.profile = json.load(f)
    json.dump(append(a, json.loads(a.extra)), sys.stdout)
    print()


def progress_line(r, rep):
    """One line per run; rep is "I/N ROLE", or "I/N ROLE SIDE" for bench/run --base-build's pairs. Inside
    bench/sweep (MUXBENCH_SWEEP="DONE TOTAL START_EPOCH") it counts runs over the whole sweep and
    adds an ETA from the mean time per run so far."""
    prefix = f"[{rep}]"
    eta = ""
    sweep = os.environ.get("MUXBENCH_SWEEP", "").split()
    if len(sweep) == 3:
        done, total, start = int(sweep[0]) + int(rep.split("/")[0]), int(sweep[1]), float(sweep[2])
        side = rep.partition(" ")[2]  # the role and build, kept when the count becomes the sweep's
        prefix = f"[{done}/{total}{' ' + side if side else ''}]"
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
    bound = {"server": " SERVER-BOUND", "loadgen": " LOADGEN-BOUND",
             "neither": " RATE MISSED (neither core saturated)"}.get(r.get("bound") or "", "")
    # what the row's role measured beside the server's own figures
    kernel = {"kernel": f" ({r.get('count_method') or 'perf'} {f('perf_syscalls_per_req', '.2f')})",
              "profile": ""}.get(r.get("counting"), "")
    checks = f"{f('checks_per_req', '.2f')} checks/req"
    if r.get("kernel_checks_per_req") is not None:
        checks += f" (kernel {f('kernel_checks_per_req', '.2f')})"
    wait = f", wait {r['wait_share']:.0%} of CPU" if r.get("wait_share") is not None else ""
    return (f"{prefix} {name} N={r['connections']:,} M={r['active']} {load}: {f('achieved_rps', ',.0f')} req/s, "
            f"{f('syscalls_per_req', '.2f')} syscalls/req{kernel}, {checks}, "
            f"{f('cpu_us_per_req', '.1f')} µs CPU/req{wait}, p99 {p99s}{eta}{status}{bound}")


if __name__ == "__main__":
    main()
