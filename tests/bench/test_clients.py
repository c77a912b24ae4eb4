#!/usr/bin/env python3
"""test_clients.py - bench/run --clients: the load from two namespaced hosts over ssh, one window.

Real namespaces (bench/hosts up 2), real sshd and ssh, real loadgens copied there, real TCP to an
echo-epoll bound to 198.18.1.1:
  - a local run and a run from h1 and h2 of the same point (N 200, M 100, 4,000 req/s, one
    published and one kernel-counted rep each): the remote rows are ok, placement remote:2, each
    host dealt N 100, M 50, 2,000 req/s (its own JSON says so), the server's request count over the
    window agrees with the loadgens' sum (rows.json requests_check, within 2% + 2 M), the kernel's
    syscall count with the server's (the row's own check), the merged histogram has every request
    of both hosts, and every client host's kernel, architecture, clock offset (within 1 ms) and
    loadgen commit (this checkout's) are recorded;
  - consistent with the local run: the same readiness checks per request (epoll: events) and
    syscalls per request within a factor 1.5 of each other, both at the offered rate (a rate missed
    past 5% host steal is said, not failed);
  - bench/sweep with CLIENTS=h1,h2 (and SERVER_ADDR, SSH_CONFIG) makes its point's row from both
    hosts (remote:2), and without SERVER_ADDR is a usage error;
  - nothing left behind: no temporary directory on the hosts (the loadgen copy, its results), no
    process in a host's namespace but its sshd, no cgroup of bench/run's;
  - a host that refuses ssh (a port nothing listens on) gives failed:ssh rows, at once, and the
    reason on one line; a target outside loopback and 198.18.0.0/15 is a usage error (exit 2)
    before any packet; a clock 5 ms off (clocks.measure replaced in this process) is refused as
    failed:clock_offset, its host's directory removed.

usage: test_clients.py SOURCE_DIR BUILD_DIR   (77: no root, no sshd, no namespaces; see verdict.py)
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from verdict import STEAL_MAX, cpu_times, fail, need_bench_run, need_test_hosts, steal_share

SRC = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
import clocks  # noqa: E402
import remote  # noqa: E402

LOAD = ["--server", "epoll", "--connections", "200", "--active", "100", "--rate", "4000", "--duration", "2s",
        "--warmup", "1s", "--reps", "1", "--counted-reps", "1"]


def sh(*argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def bench_run(build, out, *extra, timeout=180):
    env = dict(os.environ, BUILD=os.path.abspath(build))
    return subprocess.run([os.path.join(SRC, "bench", "run"), *LOAD, *extra, "--out", out], capture_output=True,
                          text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def rows(out):
    with open(os.path.join(out, "rows.json")) as f:
        return json.load(f)


def leftovers(before):
    """What a run may leave: temporary directories on the hosts (one filesystem here), processes in
    their namespaces other than sshd, cgroups of bench/run."""
    dirs = sorted(set(glob.glob("/tmp/muxbench-lg.*")) - before)
    procs = []
    for ns in ("muxbench-h1", "muxbench-h2"):
        for pid in sh("ip", "netns", "pids", ns).stdout.split():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if comm != "sshd":
                procs.append(f"{ns}:{pid}:{comm}")
    # a bench/run's cgroups are muxbench-PID-...: those of a bench/run that has ended (another one
    # may be running beside this test) and that were not there before
    cgroups = [g for g in set(cgroups_now()) - before_cgroups
               if not os.path.exists(f"/proc/{os.path.basename(g).split('-')[1]}")]
    return dirs, procs, sorted(cgroups)


def cgroups_now():
    return glob.glob("/sys/fs/cgroup/**/muxbench-[0-9]*", recursive=True)


before_cgroups = set(cgroups_now())


def check_remote(local, far, steal):
    if len(far) != 2 or [r["counting"] for r in far] != ["own", "kernel"]:
        fail(f"remote rows: {[(r['counting'], r['status']) for r in far]}, want own and kernel")
    commit = sh("git", "-C", SRC, "rev-parse", "HEAD").stdout.strip() or None
    for r in far:
        what = f"remote {r['counting']} row"
        if r["status"] != "ok" or r["placement"] != "remote:2":
            fail(f"{what}: status {r['status']}, placement {r['placement']}: {r.get('reason') or r.get('remote_notes')}")
        shares = [(s["connections"], s["active"], s["rate"]) for s in r["client_shares"]]
        if shares != [(100, 50, 2000), (100, 50, 2000)]:
            fail(f"{what}: dealt {shares}, want N 100, M 50, 2,000 req/s to each host")
        parts = r["loadgen"]["parts"]
        got = [(p["config"]["connections"], p["config"]["active"], p["config"]["rate"]) for p in parts]
        if got != shares:
            fail(f"{what}: the hosts' own JSON say {got}, dealt {shares}")
        if sum(p["requests"] for p in parts) != r["loadgen"]["requests"]:
            fail(f"{what}: merged requests {r['loadgen']['requests']} != the parts' sum")
        rc = r.get("requests_check") or {}
        s, lg = rc.get("server"), rc.get("loadgens")
        if not s or not lg or abs(s - lg) > 0.02 * max(s, lg) + 200:
            fail(f"{what}: the server counted {s} requests in the window, the loadgens {lg}")
        with open(os.path.join(r["_out"], "hist", r["tag"] + ".hist")) as f:
            n = sum(int(line.split()[1]) for line in f if line.strip() and not line.startswith("#"))
        if n != r["loadgen"]["latency_us"]["count"] or n != sum(p["latency_us"]["count"] for p in parts):
            fail(f"{what}: the merged histogram holds {n} values, the hosts {[p['latency_us']['count'] for p in parts]}")
        for i, e in enumerate(r["clients"], 1):
            if e.get("host") != f"h{i}" or not e.get("kernel") or not e.get("arch") or e.get("loadgen_commit") != commit:
                fail(f"{what}: client environment {e}, want h{i} with kernel, arch and loadgen commit {commit}")
            if abs(e["offset_ns"]) > remote.OFFSET_MAX_NS:
                fail(f"{what}: h{i}'s clock offset {e['offset_ns']} ns on one kernel's clock")
    for a, b in zip(local, far):
        if a["status"] != "ok":
            fail(f"local {a['counting']} row: {a['status']}")
        if abs(a["checks_per_req"] - b["checks_per_req"]) > 0.05:
            fail(f"{a['counting']}: checks/req local {a['checks_per_req']}, remote {b['checks_per_req']}")
        ratio = b["syscalls_per_req"] / a["syscalls_per_req"]
        if not 1 / 1.5 <= ratio <= 1.5:
            fail(f"{a['counting']}: syscalls/req local {a['syscalls_per_req']:.3f}, remote "
                 f"{b['syscalls_per_req']:.3f}: a factor {ratio:.2f}")
        for who, r in (("local", a), ("remote", b)):
            if r["achieved_rps"] < 0.95 * 4000:
                if steal > STEAL_MAX:
                    print(f"note: {who} {r['counting']}: {r['achieved_rps']:.0f} of 4,000 req/s at {steal:.0%} steal")
                else:
                    fail(f"{who} {r['counting']}: {r['achieved_rps']:.0f} of 4,000 req/s (steal {steal:.1%})")


def swept(build, tmp, cfg):
    """bench/sweep with CLIENTS=: its point's rows come from both hosts."""
    out = os.path.join(tmp, "sweep")
    env = dict(os.environ, BUILD=os.path.abspath(build), OUT=out, SERVERS="epoll", CONNS="100", MODES="rate",
               RATE="2k", REPS="1", COUNTED="0", PROFILE="0", DURATION="0.5s", WARMUP="0.3s", CLIENTS="h1,h2",
               SERVER_ADDR="198.18.1.1", SSH_CONFIG=cfg)
    p = subprocess.run([os.path.join(SRC, "bench", "sweep")], capture_output=True, text=True, timeout=180, env=env,
                       stdin=subprocess.DEVNULL, cwd=SRC)
    got = [(r["placement"], r["status"], len(r.get("clients") or [])) for r in rows(out)] \
        if os.path.exists(os.path.join(out, "rows.json")) else []
    if p.returncode != 0 or got != [("remote:2", "ok", 2)]:
        fail(f"bench/sweep CLIENTS=h1,h2: exit {p.returncode}, rows {got}: {p.stderr.strip()[-400:]}")
    env.pop("SERVER_ADDR")
    p = subprocess.run([os.path.join(SRC, "bench", "sweep")], capture_output=True, text=True, timeout=60, env=env,
                       stdin=subprocess.DEVNULL, cwd=SRC)
    if p.returncode != 2 or "SERVER_ADDR" not in p.stderr:
        fail(f"bench/sweep CLIENTS= without SERVER_ADDR: exit {p.returncode}, want 2: {p.stderr.strip()}")


def refused(build, tmp, cfg):
    """A host nothing answers on: failed:ssh rows at once. An address outside the ranges: exit 2."""
    dead = os.path.join(tmp, "dead_config")
    with open(cfg) as f, open(dead, "w") as g:
        g.write("Host dead\n  HostName 198.18.2.2\n  Port 9\n\n" + f.read())
    out = os.path.join(tmp, "dead")
    t0 = time.monotonic()
    p = bench_run(build, out, "--clients", "h1,dead", "--ssh-config", dead, "--server-addr", "198.18.1.1", timeout=120)
    took = time.monotonic() - t0
    got = [r["status"] for r in rows(out)] if os.path.exists(os.path.join(out, "rows.json")) else []
    if p.returncode != 0 or got != ["failed:ssh", "failed:ssh"]:
        fail(f"a refusing host: exit {p.returncode}, rows {got}: {p.stderr.strip()[-400:]}")
    why = [line for line in p.stderr.splitlines() if "dead" in line and "refused" in line]
    if len(why) != 1:
        fail(f"a refusing host: no one line naming it and the refusal: {p.stderr!r}")
    print(f"refusing host: failed:ssh rows after {took:.1f} s: {why[0]}")

    out = os.path.join(tmp, "outside")
    p = bench_run(build, out, "--clients", "h1", "--ssh-config", cfg, "--server-addr", "192.0.2.1")
    if p.returncode != 2 or "outside" not in p.stderr or os.path.exists(os.path.join(out, "rows.csv")):
        fail(f"--server-addr 192.0.2.1: exit {p.returncode}, want 2 and no rows: {p.stderr.strip()}")


def clock_refused(build, cfg, before):
    real = clocks.measure
    clocks.measure = lambda argv, *a, **k: clocks.Offset(5_000_000, 20_000, 40_000, 16)
    try:
        s = remote.Setup(cfg, ["h1"], {"h1": "198.18.1.2"}, "198.18.1.1",
                         os.path.join(build, "loadgen", "loadgen"), None, None).prepare()
    finally:
        clocks.measure = real
    if s.status != "failed:clock_offset" or "+5.000 ms" not in (s.reason or ""):
        fail(f"a clock 5 ms off: status {s.status}, reason {s.reason!r}")
    s.cleanup()
    if leftovers(before)[0]:
        fail(f"a refused clock left {leftovers(before)[0]}")


def main():
    build = os.path.abspath(sys.argv[2])
    need_bench_run()
    need_test_hosts()
    tmp = tempfile.mkdtemp(prefix="muxbench-clients-test.")
    d = os.path.join(tmp, "hosts")
    hosts = os.path.join(SRC, "bench", "hosts")
    before = set(glob.glob("/tmp/muxbench-lg.*"))
    try:
        p = sh(hosts, "up", "2", "--dir", d)
        if p.returncode != 0:
            fail(f"bench/hosts up 2: {p.stderr.strip()}")
        cfg = os.path.join(d, "ssh_config")
        s0 = cpu_times()
        out_local, out_far = os.path.join(tmp, "local"), os.path.join(tmp, "far")
        p = bench_run(build, out_local)
        if p.returncode != 0:
            fail(f"local bench/run: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        p = bench_run(build, out_far, "--clients", "h1,h2", "--ssh-config", cfg, "--server-addr", "198.18.1.1")
        steal = steal_share(s0, cpu_times())
        if p.returncode != 0:
            fail(f"bench/run --clients h1,h2: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        local, far = rows(out_local), rows(out_far)
        for r in far:
            r["_out"] = out_far
        check_remote(local, far, steal)
        dirs, procs, cgroups = leftovers(before)
        if dirs or procs or cgroups:
            fail(f"left behind: directories {dirs}, processes {procs}, cgroups {cgroups}")
        swept(build, tmp, cfg)
        refused(build, tmp, cfg)
        clock_refused(build, cfg, before)
        a, b = local[0], far[0]
        print(f"ok: local {a['achieved_rps']:.0f} req/s, {a['syscalls_per_req']:.2f} syscalls/req, "
              f"{a['cpu_us_per_req']:.1f} µs CPU/req; remote:2 {b['achieved_rps']:.0f} req/s, "
              f"{b['syscalls_per_req']:.2f} syscalls/req, {b['cpu_us_per_req']:.1f} µs CPU/req; "
              f"server {b['requests_check']['server']} vs loadgens {b['requests_check']['loadgens']} requests")
    finally:
        p = sh(hosts, "down", "--dir", d)
        if p.returncode != 0 and os.path.exists(d):
            print(f"bench/hosts down: {p.stderr.strip()}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
