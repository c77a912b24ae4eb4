#!/usr/bin/env python3
"""test_variants.py - epoll's layouts beside epoll, from real runs, and the report's section on them.

Runs bench/variants small (epoll, epoll-oneshot, epoll2, epoll-busypoll, and with liburing uring and
uring-fixed and uring-sqpoll; N = 100, M = 20, 2k req/s, one repetition of 0.3 s), then the report beside the
committed sample's main rows, and checks:
  - a row per server, each labelled as the table of servers names it; epoll, epoll-oneshot and
    epoll2 ok; epoll-busypoll unsupported:no_napi (loopback gives no socket a NAPI id), or
    unsupported:kernel where the kernel refuses EPIOCSPARAMS: never an ok row for busy polling that
    did not happen;
  - what each layout costs shows in the counts: epoll-oneshot's re-arm is an epoll_ctl per event
    (at least 0.8 more syscalls per request than epoll's), epoll2 is told of every writable socket
    on every wait (more than 10x epoll's ready fds per request);
  - the report's "What the newer interfaces buy" has each row's own figures beside its base, a
    sentence per variant from them, and the reason for the unsupported row;
  - uring-fixed (registered files) ok, with its sentence beside uring's;
  - uring-zc (zero-copy send) ok, its notifications counted (the share the kernel copied, from 0 to
    1, in its row and its sentence); uring-zc and uring-bundle (recv bundles) again at 16 KiB and
    64 KiB beside uring in variants-sizes/, each size's rows and sentences in the report, and at
    64 KiB the bundles reap fewer completions per request than uring's one per ring buffer;
  - uring-sqpoll's SQ thread: its CPU per request is a part of the row's, on the one CPU it is
    pinned to, and its sentence says so;
  - VARIANT_SERVERS naming a row the table lacks is bench/sweep's usage error (exit 2) before
    anything runs.

usage: test_variants.py SOURCE_DIR BUILD_DIR
"""
import os
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, need_bench_run, report_beside_sample

SRC = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
import results  # noqa: E402

SERVERS = "epoll epoll-oneshot epoll2 epoll-busypoll"
URINGS = "uring uring-fixed uring-zc uring-bundle uring-sqpoll"  # with liburing: registered files, zero-copy
# send, recv bundles, the SQ thread


def usage_error(build):
    tmp = tempfile.mkdtemp(prefix="muxbench-variants-usage.")
    try:
        env = dict(os.environ, BUILD=os.path.abspath(build), VARIANT_SERVERS="epoll epoll-nosuch", VARIANT_CONNS="100",
                   RATE="2k")
        p = subprocess.run(["bench/variants", tmp], cwd=SRC, env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 2 or "epoll-nosuch" not in p.stderr or os.path.exists(os.path.join(tmp, "variants", "rows.json")):
            fail(f"VARIANT_SERVERS with an unknown row: exit {p.returncode}, want 2 naming it: {p.stderr[-300:]!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sqpoll_checks(q, report):
    """uring-sqpoll: its SQ thread's CPU is a part of the row's CPU per request, pinned where the
    row says (--sq-cpu own: the server's one CPU), and the report's sentence gives both."""
    if q["status"] == "unsupported:kernel":
        return
    if q["status"] != "ok":
        fail(f"uring-sqpoll: {q['status']}")
    sq, cpu, th = q.get("sq_cpu_us_per_req"), q["cpu_us_per_req"], q.get("sq_thread")
    if not sq or not th:
        fail(f"uring-sqpoll's row has no SQ thread figures: sq_cpu_us_per_req {sq}, sq_thread {th}")
    # the same window, and getrusage counts the thread group: a part (the two clocks are read a
    # moment apart, hence the slack of 2%)
    if not 0 < sq <= cpu * 1.02:
        fail(f"uring-sqpoll: SQ thread {sq:.1f} µs per request of the server's {cpu:.1f}")
    if th["allowed"] != str(th["cpu"]):
        fail(f"uring-sqpoll's SQ thread ran on CPU {th['cpu']}, allowed {th['allowed']}: --sq-cpu own pins it")
    if f"of which its SQ thread (CPU {th['cpu']}, allowed {th['allowed']}) used" not in report:
        fail("uring-sqpoll's sentence does not give its SQ thread's CPU")


def sized_checks(z, tmp, report):
    """uring-zc: every send's notification counted (the copied share is a fraction), its sentence
    says it, and bench/variants' second sweep has uring, uring-zc and uring-bundle at 16 KiB and
    64 KiB, each size with its table rows and its sentences; at 64 KiB the bundles reap fewer
    completions per request."""
    if z["status"] != "ok":
        fail(f"uring-zc: {z['status']}")
    share = z.get("zc_copied_share")
    if share is None or not 0 <= share <= 1:
        fail(f"uring-zc's row: zc_copied_share {share}, want a share of its notifications")
    if f"The kernel copied {share:.0%} of its zero-copy sends after all" not in report:
        fail("uring-zc's sentence does not give the share the kernel copied")
    rows, _ = results.load(os.path.join(tmp, "variants-sizes"), shapes=True)
    got = sorted((r["label"], results.shape(r)[0], r["status"]) for r in rows)
    labs = ("uring", "uring-zc", "uring-bundle")
    want = sorted((lab, size, "ok") for lab in labs for size in (16384, 65536))
    if got != want:
        fail(f"variants-sizes rows {got}, want {want}")
    for size, name in ((16384, "16 KiB"), (65536, "64 KiB")):
        u, v, b = (next(r for r in rows if r["label"] == lab and results.shape(r)[0] == size) for lab in labs)
        if v.get("zc_copied_share") is None or u.get("zc_copied_share") is not None:
            fail(f"at {name}: copied share {v.get('zc_copied_share')} for uring-zc, {u.get('zc_copied_share')} for uring")
        for lab, r in (("uring-zc", v), ("uring-bundle", b)):
            if f"At {name}, {lab} used {r['cpu_us_per_req'] / u['cpu_us_per_req']:.2f}x uring's CPU per request" \
                    not in report:
                fail(f"the report has no sentence from {lab}'s {name} rows")
            if f"| {name} | {lab} | {r['syscalls_per_req']:.2f} | {r['checks_per_req']:.2f} |" not in report:
                fail(f"the sizes table lacks {lab}'s {name} row")
        if size == 65536 and not b["checks_per_req"] < u["checks_per_req"]:
            fail(f"at 64 KiB uring-bundle reaped {b['checks_per_req']:.2f} completions per request, uring "
                 f"{u['checks_per_req']:.2f}: no bundles")
        if f"reaped {b['checks_per_req']:.2f} completions per request against {u['checks_per_req']:.2f}" not in report:
            fail(f"uring-bundle's {name} sentence does not give its completions per request")


def main():
    build = sys.argv[2]
    usage_error(build)
    need_bench_run()
    names = subprocess.run([sys.executable, os.path.join(SRC, "bench", "lib", "servers.py"), build, "names"],
                           capture_output=True, text=True, check=True).stdout.split()
    servers = SERVERS + (" " + URINGS if "uring-sqpoll" in names else "")
    tmp = tempfile.mkdtemp(prefix="muxbench-variants.")
    try:
        env = dict(os.environ, BUILD=os.path.abspath(build), VARIANT_SERVERS=servers, VARIANT_CONNS="100", ACTIVE="20",
                   RATE="2k", REPS="1", COUNTED="0", DURATION="0.3s", WARMUP="0.2s")
        env.pop("QUICK", None)
        p = subprocess.run(["bench/variants", tmp], cwd=SRC, env=env, capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            fail(f"bench/variants: exit {p.returncode}: {p.stderr[-500:]}")
        rows, _ = results.load(os.path.join(tmp, "variants"))
        by = {r["label"]: r for r in rows}
        if sorted(by) != sorted(servers.split()):
            fail(f"rows labelled {sorted(by)}, want {sorted(servers.split())}")
        for lab in ("epoll", "epoll-oneshot", "epoll2"):
            if by[lab]["status"] != "ok":
                fail(f"{lab}: {by[lab]['status']}")
        busy = by["epoll-busypoll"]["status"]
        if busy not in ("unsupported:no_napi", "unsupported:kernel"):
            fail(f"epoll-busypoll on loopback: {busy}, want unsupported:no_napi (or :kernel where refused)")
        e, o, t = by["epoll"], by["epoll-oneshot"], by["epoll2"]
        if not o["syscalls_per_req"] >= e["syscalls_per_req"] + 0.8:
            fail(f"epoll-oneshot {o['syscalls_per_req']:.2f} syscalls per request, epoll {e['syscalls_per_req']:.2f}: "
                 f"the re-arm per event is not there")
        if not t["checks_per_req"] > 10 * e["checks_per_req"]:
            fail(f"epoll2 told of {t['checks_per_req']:.1f} ready fds per request, epoll {e['checks_per_req']:.1f}: "
                 f"the writable wake-ups are not there")

        report = report_beside_sample(SRC, tmp)
        if "## What the newer interfaces buy" not in report:
            fail("the report has no 'What the newer interfaces buy'")
        for lab, r in (("epoll", e), ("epoll-oneshot", o), ("epoll2", t)):
            beside = "–" if lab == "epoll" else "epoll"
            line = (f"| {lab} | {beside} | {r['syscalls_per_req']:.2f} | {r['checks_per_req']:,.2f} | "
                    f"{r['cpu_us_per_req']:.1f} | {r['p99_us']:,.0f} | ok |")
            if line not in report:
                fail(f"the table lacks {line!r}")
        if f"| epoll-busypoll | epoll | – | – | – | – | {busy} |" not in report:
            fail(f"the table lacks epoll-busypoll's {busy} row")
        ratio = o["cpu_us_per_req"] / e["cpu_us_per_req"]
        if (f"epoll-oneshot made {o['syscalls_per_req']:.2f} syscalls per request against epoll's "
                f"{e['syscalls_per_req']:.2f}") not in report or f"used {ratio:.2f}x epoll's CPU per request" not in report:
            fail("epoll-oneshot's sentence is missing or not the rows' figures")
        if f"its loop was told of {t['checks_per_req']:,.1f} ready fds per request" not in report:
            fail("epoll2's sentence does not give its ready fds per request")
        if f"epoll-busypoll: `{busy}`:" not in report:
            fail("epoll-busypoll's reason is missing")
        if "uring-fixed" in by:
            f = by["uring-fixed"]
            if f["status"] != "ok":
                fail(f"uring-fixed: {f['status']}")
            if f"uring-fixed made {f['syscalls_per_req']:.2f} syscalls per request against uring's" not in report:
                fail("uring-fixed's sentence is missing or not its row's figures")
        if "uring-zc" in by:
            sized_checks(by["uring-zc"], tmp, report)
        if "uring-sqpoll" in by:
            sqpoll_checks(by["uring-sqpoll"], report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: a row per variant, the layouts' costs in the counts, busy polling unsupported on loopback, zero-copy "
          "send and recv bundles at three sizes, the report's section from the rows, an unknown row refused")


if __name__ == "__main__":
    main()
