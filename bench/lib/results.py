"""results.py - read a results directory (rows.json, meta.json) and aggregate its repetitions.

Shared by summary.py, plotdata.py and report.py so that the table, the charts and the report's
sentences all come from the same numbers: the median over the `ok` repetitions of a point, with
its min and max and the distribution-free interval for the median (interval.py). A point is (server label, N, mode); the label is the server plus its variant
when that is not the default one (epoll-edge, blocking-iterative, epoll-t2: echo-epoll --threads 2).
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interval  # noqa: E402

DEFAULT_VARIANTS = ("default", "level", "threads", "defer_taskrun")
# A side whose CPUs were this busy was saturated; a fixed rate achieved to within this was met.
SATURATED = 0.95
MET = 0.95
ORDER = ["blocking", "blocking-iterative", "busypoll", "select", "poll", "epoll", "epoll-edge", "libuv", "uring", "epoll-t2", "blocking-a2"]


def label(row):
    v = row.get("variant") or "default"
    if v.startswith("level-"):  # echo-epoll --threads 2: level-t2 -> epoll-t2 (edge-t2 stays)
        v = v[len("level-"):]
    if v.startswith(row["server"]):  # a variant that names itself: echo-epoll --epoll2 is epoll2
        return v
    return row["server"] if v in DEFAULT_VARIANTS else f"{row['server']}-{v}"


def bound(server_busy, loadgen_busy, offered_rps=None, achieved_rps=None):
    """What set the pace of a run: "server" when the server's CPU was saturated (busy >= SATURATED),
    "loadgen" when the loadgen's was and the server's was not, "neither" when a fixed rate was missed
    (achieved < MET x offered) with neither saturated, "" when nothing bounded it (the rate met,
    neither saturated). Closed loop (no offered rate) is decided by the two sides' CPUs alone. An
    unknown busy figure (None) counts as not saturated. Busy is a fraction of the CPUs a side may
    use: what it ran plus what it waited to run (row.busy), or its CPU share where that is all
    there is."""
    if server_busy is not None and server_busy >= SATURATED:
        return "server"
    if loadgen_busy is not None and loadgen_busy >= SATURATED:
        return "loadgen"
    if offered_rps and (achieved_rps or 0) < MET * offered_rps:
        return "neither"
    return ""


def fill_bound(row):
    """Rows written before the `bound` column (they had `loadgen_bound`) get it from their CPU shares."""
    if "bound" not in row and row.get("server_util") is not None:
        row["bound"] = bound(row.get("server_util"), row.get("loadgen_util"), row.get("offered_rps"),
                             row.get("achieved_rps"))


def sort_key(name):
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def shape(row):
    """(request size, pipeline): rows from before the pipeline column ran one request at a time."""
    return row.get("size") or 64, row.get("pipeline") or 1


def main_shape(rows):
    """The shape every section but the shapes' reads: the smallest size at the smallest pipeline
    (64 B, one at a time, in every default run), so that the N sweep's points never mix sizes."""
    return min((shape(r) for r in rows), default=(64, 1))


def load(run_dir, shapes=False):
    """(rows, meta) of a run; only the main shape's rows unless shapes (bench/sweep's SIZES and
    PIPELINE give several)."""
    with open(os.path.join(run_dir, "rows.json")) as f:
        rows = json.load(f)
    if not shapes:
        main = main_shape(rows)
        rows = [r for r in rows if shape(r) == main]
    meta = {}
    if os.path.exists(os.path.join(run_dir, "meta.json")):
        with open(os.path.join(run_dir, "meta.json")) as f:
            meta = json.load(f)
    for r in rows:
        r["label"] = label(r)
        fill_bound(r)
        r["syscalls_any"] = r.get("syscalls_per_req") if r.get("syscalls_per_req") is not None \
            else r.get("perf_syscalls_per_req")
        # readiness checks: the server's own count, or the kernel's where it keeps none (libuv)
        r["checks_any"] = r.get("checks_per_req") if r.get("checks_per_req") is not None \
            else r.get("kernel_checks_per_req")
    return rows, meta


class Stat:
    """median, min, max of one metric over a point's ok repetitions (None when there are none), and
    ci: the sign-test interval for the median at 95% or, below 6 values, the widest there is
    ([min, max]) with the coverage it has (interval.median_interval)."""

    def __init__(self, values):
        values = [v for v in values if v is not None]
        self.n = len(values)
        self.median = statistics.median(values) if values else None
        self.min = min(values) if values else None
        self.max = max(values) if values else None
        self.ci = interval.median_interval(values)

    def __bool__(self):
        return self.median is not None


def points(rows):
    """{(label, N, mode): [rows]}"""
    out = {}
    for r in rows:
        out.setdefault((r["label"], r["connections"], r["mode"]), []).append(r)
    return out


# What perf's counting or sampling taxes: these come from the published repetitions alone
# (counting "own"; a row written before the roles has none and was published). Exact counts
# (syscalls, checks per request) may use every ok row; perf's own figures exist only where it ran.
TAXED = ("achieved_rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "cpu_us_per_req",
         "user_us_per_req", "sys_us_per_req", "ctxsw_per_req", "loadgen_cpu_us_per_req", "server_util",
         "loadgen_util", "sq_cpu_us_per_req")


def published(row):
    return row.get("counting") in (None, "own")


def stat(rows, key):
    return Stat([r.get(key) for r in rows if r["status"] == "ok" and (key not in TAXED or published(r))])


def status_of(rows):
    """ok if any repetition is ok; else the first non-ok status (unsupported:..., failed:...)."""
    for r in rows:
        if r["status"] == "ok":
            return "ok"
    return rows[0]["status"] if rows else "missing"


def labels(rows):
    return sorted({r["label"] for r in rows}, key=sort_key)


def conns(rows):
    return sorted({r["connections"] for r in rows})


SHARES = ("wait", "recv", "send", "kernel_other", "user")


def shares(rows):
    """The median of each CPU share over a point's ok profiled repetitions, or None."""
    got = [r["cpu_shares"] for r in rows if r["status"] == "ok" and r.get("counting") == "profile"
           and r.get("cpu_shares") and r["cpu_shares"].get("wait") is not None]
    if not got:
        return None
    return {k: statistics.median(g[k] for g in got) for k in SHARES}


def window_kinds(row):
    """Syscalls per request by kind, from the server's own counters (or perf's for libuv):
    reads that found data, reads that found nothing, writes, waits, epoll_ctl, accept, other."""
    req = (row.get("loadgen") or {}).get("requests") or 0
    if not req:
        return None
    w = row.get("server_window") or {}
    sc, perf = w.get("syscalls"), row.get("perf") or {}
    if sc:
        reads, eagain = sc.get("read", 0), w.get("read_eagain") or 0
        writes = sc.get("write", 0)
        waits = sum(sc.get(k, 0) for k in ("poll", "pselect6", "epoll_wait", "io_uring_enter"))
        ctl, acc, total = sc.get("epoll_ctl", 0), sc.get("accept4", 0), sc.get("total", 0)
    elif perf.get("total"):
        reads, eagain = perf.get("read", 0), max(0, perf.get("read", 0) - w.get("requests", 0))
        writes = perf.get("write", 0) + perf.get("writev", 0)
        waits = sum(perf.get(k, 0) for k in ("poll", "pselect6", "epoll_wait", "epoll_pwait", "io_uring_enter"))
        ctl, acc, total = perf.get("epoll_ctl", 0), perf.get("accept4", 0), perf["total"]
    else:
        return None
    kinds = {"reads with data": reads - eagain, "reads that found nothing": eagain, "writes": writes,
             "waits": waits, "epoll_ctl": ctl, "accept": acc}
    kinds["other"] = max(0, total - sum(kinds.values()))
    return {k: v / req for k, v in kinds.items()}
