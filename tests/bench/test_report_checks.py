#!/usr/bin/env python3
"""test_report_checks.py - the report and the charts' data speak in readiness checks and CPU shares.

On a synthetic run (rows.json as bench/run writes it: published, kernel-counted and profiled
repetitions of poll, epoll and libuv at N = 100 and 10,000), checks that:
  - the first sentence of the N = 10,000 section gives poll's and epoll's checks per request and
    their ratio, computed from the rows, and the next poll's fds and requests per call;
  - CPU per request and throughput come from the published ("own") repetitions only: a kernel-
    counted repetition made deliberately slower does not move them;
  - libuv, whose own count is null, is charted and tabled with the kernel's count;
  - the server's utilisation and the bound verdicts come from the published repetitions too: a
    kernel-counted one at 90% busy and server-bound does not make the sentences say so;
  - the CPU-shares table holds the profiled repetitions' shares, and the wait share's trend with N
    is said for poll (grew) and epoll (stayed: 21%, 27%, 25% at N = 100, 1,000, 10,000 is +4
    points on the least-squares line, under the report's 10; its end points alone differ by 19%);
  - plotdata.py writes checks.dat, waitshare.dat and shares.dat with those figures;
  - the first paragraph gives the intervals' coverage, and a comparison says "within the noise"
    exactly when the two intervals overlap (epoll's CPU at N = 100 and 10,000: yes; poll's
    against epoll's at 10,000: no).

usage: test_report_checks.py SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def row(server, n, counting, cpu, checks, kernel_checks=None, wait=None, mode="rate", util=0.18, bound=""):
    r = {"server": server, "variant": "default", "connections": n, "active": min(n, 500), "mode": mode,
         "offered_rps": 20000 if mode == "rate" else None, "size": 64, "rep": 1, "status": "ok",
         "counting": counting, "achieved_rps": 20000.0 if mode == "rate" else 50000.0 / cpu,
         "p50_us": 100, "p90_us": 200, "p99_us": 300, "p999_us": 400, "max_us": 500,
         "syscalls_per_req": 2.0, "cpu_us_per_req": cpu, "user_us_per_req": cpu / 4,
         "sys_us_per_req": cpu * 3 / 4, "ctxsw_per_req": 0.1, "checks_per_req": checks,
         "kernel_checks_per_req": kernel_checks, "eagain_reads_per_read": 0.0, "bound": bound,
         "server_util": util, "loadgen_util": 0.3}
    if wait is not None:
        rest = (1 - wait) / 4
        r["cpu_shares"] = {"wait": wait, "recv": rest, "send": rest, "kernel_other": rest, "user": rest,
                           "samples": 1000}
        r["wait_share"] = wait
    return r


def main():
    root = sys.argv[1]
    rows = []
    for n, p_checks, p_wait, e_wait in ((100, 102.0 * 0.5, 0.20, 0.21), (1000, 1002.0 * 0.5, 0.45, 0.27),
                                        (10000, 10002.0 * 0.5, 0.70, 0.25)):
        for cpu in (10.0, 11.0, 12.0):
            rows.append(row("poll", n, "own", cpu * (1 + n / 2000), p_checks))
            rows.append(row("epoll", n, "own", cpu, 1.25))
            rows.append(row("libuv", n, "own", cpu * 1.2, None))
            for mode in ("closed",):
                rows.append(row("epoll", n, "own", cpu, 1.25, mode=mode))
        rows.append(row("poll", n, "kernel", 1000.0, p_checks))  # slow: counting taxed it
        rows.append(row("epoll", n, "kernel", 1000.0, 1.25, util=0.9, bound="server"))
        rows.append(row("epoll", n, "kernel", 1000.0, 1.25, mode="closed"))
        rows.append(row("poll", n, "profile", 900.0, p_checks, p_checks, p_wait))
        rows.append(row("epoll", n, "profile", 900.0, 1.25, 1.25, e_wait))
        rows.append(row("libuv", n, "profile", 900.0, None, 1.5, 0.25))
    for r in rows:  # poll's own count: nfds (N + 2) per call, so its calls per request follow
        if r["server"] == "poll":
            r["waits_per_req"] = r["checks_per_req"] / (r["connections"] + 2)
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "rows.json"), "w") as f:
            json.dump(rows, f)
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump({"kernel": "test", "cpu_model": "test", "cores": 2}, f)
        for script in ("plotdata.py", "report.py"):
            p = subprocess.run([sys.executable, os.path.join(root, "bench", "lib", script), d],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                fail(f"{script}: exit {p.returncode}: {p.stderr.strip()}")
        with open(os.path.join(d, "REPORT.md")) as f:
            report = f.read()
        want = "poll checked 5,001 fds per request and epoll 1.25 (4,001x)"
        if want not in report:
            fail(f"the first sentence lacks {want!r}:\n{report[:1500]}")
        if "Each poll call checked 10,002 fds" not in report or "found 2 requests on average" not in report:
            fail("the first paragraph lacks poll's fds per call (10,002) and requests per call (2)")
        table = [line for line in report.splitlines() if line.startswith("| epoll |")]
        if not table or "| 11.0 [10.0–12.0] |" not in table[0]:
            fail(f"epoll's CPU/req should be the published reps' 11.0 [10.0–12.0]: {table[:1]}")
        libuv = next((line for line in report.splitlines() if line.startswith("| libuv |")), "")
        if "| 1.50 |" not in libuv:
            fail(f"libuv's checks/req should be the kernel's 1.50: {libuv!r}")
        for frag in ("| poll | 70% |", "| epoll | 25% |", "poll's wait share grew (20% to 70%; +50 points",
                     "epoll's wait share stayed about the same (21% to 25%; +4 points", "through its 3 points"):
            if frag not in report:
                fail(f"the CPU-shares section lacks {frag!r}:\n{report}")
        if "epoll's server used 18% of its core (median of 3)" not in report:
            fail("epoll's utilisation should be its 3 published repetitions' 18%")
        if "epoll N=10,000 rate" in report or "epoll N=100 rate" in report:
            fail("a kernel-counted repetition's server-bound verdict leaked into the report")
        # intervals: 3 published reps a point give [min, max] at 75%; a comparison whose intervals
        # overlap says so, one whose intervals are apart does not
        if "with 3 repetition(s) a point it covers the median with 75% probability" not in report:
            fail("the first paragraph does not say the intervals' coverage (75% at 3 repetitions)")
        trend = next((x for x in report.splitlines() if x.startswith("- From N=100 to N=10,000, epoll's")), "")
        if "(x1.0; within the noise: the intervals [10.0–12.0] and [10.0–12.0] overlap)" not in trend:
            fail(f"epoll's CPU from N=100 to 10,000 (10-12 µs at both) should be within the noise: {trend!r}")
        versus = next((x for x in report.splitlines() if x.startswith("- poll made")), "")
        if "but used 6.0x its CPU per request (66.0 µs against 11.0 µs): one poll()" not in versus:
            fail(f"poll's 60-72 µs against epoll's 10-12 µs is a difference, not noise: {versus!r}")
        with open(os.path.join(d, "plots", "checks.dat")) as f:
            checks = f.read()
        if '"libuv"' not in checks or "10000 1.5 " not in checks or "10000 5001 " not in checks:
            fail(f"checks.dat:\n{checks}")
        with open(os.path.join(d, "plots", "shares.dat")) as f:
            shares = f.read().splitlines()
        if not any(line.startswith("poll 70.00 ") for line in shares):
            fail(f"shares.dat: {shares}")
        with open(os.path.join(d, "plots", "waitshare.dat")) as f:
            if "10000 70 " not in f.read():
                fail("waitshare.dat lacks poll's 70% at N = 10,000")
    print("ok: checks sentence, published-only CPU, libuv's kernel count, shares table and data files")


if __name__ == "__main__":
    main()
