#!/usr/bin/env python3
"""test_manyconns.py - past one process's fds: several loadgens, a server with workers, fd_limit rows.

100,000 connections need six server processes and six loadgens here (20,000 fds each); the same
paths run at a small scale under a lowered RLIMIT_NOFILE (LIMIT fds, hard and soft, for bench/run
and all it starts), real servers, real loadgens, real sockets:
  - bench/run --server epoll-w2 at N = 1,500 (more than one process may hold): two loadgens, each
    from a source address of its own, dealt 750 connections and half the rate; both rows (own,
    kernel) ok, the server holding all 1,500 connections in the window, its request count agreeing
    with the loadgens' sum, perf's syscall count with its own; rows.json's sockstat has at least
    2 x 1,500 TCP sockets in use inside the window (both ends, loopback), a per-connection TCP
    memory figure and, where /proc/slabinfo is readable, over 4 KiB of kernel objects a connection;
  - bench/run --server epoll (one process) at N = 1,500: unsupported:fd_limit, one line saying why;
  - bench/manyconns with WIDE=epoll-w2 SERVERS=epoll CONNS="500 1500": epoll-w2 ok at both N,
    both from 2 loadgens (the same at every N), epoll's row at 1,500 unsupported:fd_limit and none
    at 500 (the sweep's), and the report's
    "100,000 connections" section names both.

usage: test_manyconns.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, need_bench_run

SRC = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
import report  # noqa: E402
import results  # noqa: E402

LIMIT = 1000
N = 1500


def lowered():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


def run(build, argv, env=None, timeout=240):
    return subprocess.run(argv, cwd=SRC, capture_output=True, text=True, timeout=timeout, preexec_fn=lowered,
                          env=dict(os.environ, BUILD=os.path.abspath(build), **(env or {})), stdin=subprocess.DEVNULL)


def rows(out):
    with open(os.path.join(out, "rows.json")) as f:
        return json.load(f)


def workers(build, out):
    p = run(build, ["bench/run", "--server", "epoll-w2", "--connections", str(N), "--active", "100", "--rate", "2000",
                    "--duration", "1s", "--warmup", "0.5s", "--reps", "1", "--counted-reps", "1", "--out", out])
    if p.returncode != 0:
        fail(f"epoll-w2 N={N} under {LIMIT} fds: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    got = rows(out)
    if [r["counting"] for r in got] != ["own", "kernel"]:
        fail(f"epoll-w2: rows {[(r['counting'], r['status']) for r in got]}")
    for r in got:
        what = f"epoll-w2 N={N} {r['counting']}"
        if r["status"] != "ok" or r["placement"] != "split":
            fail(f"{what}: status {r['status']}, placement {r['placement']}: {r.get('remote_notes')}")
        lg = r.get("loadgens") or []
        sources = [e.get("sources") for e in lg]
        if len(lg) != 2 or len(set(sources)) != 2 or not all(sources):
            fail(f"{what}: loadgens {lg}, want 2 with a source address each")
        shares = [(s["connections"], s["active"], s["rate"]) for s in r["client_shares"]]
        if shares != [(750, 50, 1000), (750, 50, 1000)]:
            fail(f"{what}: dealt {shares}")
        held = (r.get("server_window") or {}).get("conns")
        if held != N:
            fail(f"{what}: the server held {held} connections in the window, want {N}")
        rc = r.get("requests_check") or {}
        s, l_ = rc.get("server"), rc.get("loadgens")
        if not s or not l_ or abs(s - l_) > 0.02 * max(s, l_) + 200:
            fail(f"{what}: the server counted {s} requests, the loadgens {l_}")
        st = r.get("sockstat") or {}
        inuse = (st.get("window") or {}).get("tcp_inuse") or 0
        if inuse < 2 * N or st.get("tcp_mem_bytes_per_conn") is None:
            fail(f"{what}: sockstat {st}: want at least {2 * N} TCP sockets in use and a memory figure")
        # where slabinfo is readable: both ends' tcp_sock alone are over 4 KiB a connection
        slab = st.get("slab_bytes_per_conn")
        if os.access("/proc/slabinfo", os.R_OK) and (slab is None or slab < 4096):
            fail(f"{what}: slab bytes per connection {slab}: want both ends' objects, over 4 KiB")
    return got


def one_process(build, out):
    p = run(build, ["bench/run", "--server", "epoll", "--connections", str(N), "--rate", "2000", "--duration", "1s",
                    "--reps", "1", "--counted-reps", "0", "--out", out])
    got = rows(out) if os.path.exists(os.path.join(out, "rows.json")) else []
    why = [line for line in p.stderr.splitlines() if "fds" in line and "RLIMIT_NOFILE" in line]
    if p.returncode != 0 or [r["status"] for r in got] != ["unsupported:fd_limit"] or len(why) != 1:
        fail(f"epoll N={N} under {LIMIT} fds: exit {p.returncode}, rows {[r['status'] for r in got]}: {p.stderr!r}")


def manyconns(build, run_dir):
    p = run(build, ["bench/manyconns", run_dir], env={"WIDE": "epoll-w2", "SERVERS": "epoll", "CONNS": f"500 {N}",
                                                      "REPS": "1", "DURATION": "0.5s", "WARMUP": "0.3s"})
    if p.returncode != 0:
        fail(f"bench/manyconns: exit {p.returncode}: {p.stderr.strip()[-400:]}")
    got = [(results.label(r), r["connections"], r["status"]) for r in rows(os.path.join(run_dir, "manyconns"))]
    want = [("epoll-w2", 500, "ok"), ("epoll-w2", N, "ok"), ("epoll", N, "unsupported:fd_limit")]
    if got != want:
        fail(f"bench/manyconns rows {got}, want {want}")
    # one number of loadgens at every N: the largest N's (2), at 500 too
    parts = [len(r.get("loadgens") or []) for r in rows(os.path.join(run_dir, "manyconns")) if r["status"] == "ok"]
    if parts != [2, 2]:
        fail(f"bench/manyconns: loadgens per ok row {parts}, want 2 at both N")
    lines = []
    report.manyconns_section(run_dir, lines.append)
    text = "\n".join(lines)
    if "## 100,000 connections" not in text or "epoll-w2" not in text or "unsupported:fd_limit" not in text:
        fail(f"the report's section: {text[:600]!r}")


def main():
    build = sys.argv[2]
    need_bench_run()
    tmp = tempfile.mkdtemp(prefix="muxbench-manyconns.")
    try:
        got = workers(build, os.path.join(tmp, "w2"))
        one_process(build, os.path.join(tmp, "one"))
        manyconns(build, os.path.join(tmp, "run"))
        r = got[0]
        print(f"ok: epoll-w2 held {N} connections from 2 loadgens under {LIMIT} fds each, "
              f"{r['cpu_us_per_req']:.1f} µs CPU/req, {r['sockstat']['tcp_mem_bytes_per_conn']:.0f} B TCP memory and "
              f"{r['sockstat']['slab_bytes_per_conn'] or 0:.0f} B of slab per connection; epoll unsupported:fd_limit; bench/manyconns and its report section")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
