#!/usr/bin/env python3
"""test_shapes.py - message size and pipelining as sweep dimensions, from real runs.

Runs bench/shapes small (echo-epoll, N = 100, M = 20, 2k req/s, sizes 64 B and 1 KiB, pipeline 1
and 4, one repetition of 0.3 s), then plotdata.py and report.py on it beside the committed sample's
main rows, and checks:
  - one ok row per size and pipeline, each carrying its size and pipeline, and the loadgen's JSON
    saying the same (its pipeline and its bytes: size times requests);
  - pipelining is measured, not assumed: at 64 B, 4 requests written at once take the server fewer
    syscalls per request than one at a time (a read and a write serve the batch), and the main
    sections read only the main shape (results.load gives the 64 B, pipeline 1 rows alone);
  - the report's "Message size and pipelining" tables have every cell, each the row's own figure,
    and its sentences; shapes-cpu.dat has one block per pipeline with both sizes;
  - bench/sweep refuses SIZES and PIPELINE outside 64 B-64 KiB and 1-1024 with one line, exit 2,
    before it runs anything.

usage: test_shapes.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, need_bench_run, report_beside_sample

SRC = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(SRC, "bench", "lib"))
import results  # noqa: E402


def usage_errors(build):
    for var, value in (("SIZES", "32"), ("SIZES", "128KiB"), ("SIZES", "abc"), ("PIPELINE", "0"),
                       ("PIPELINE", "2000"), ("PIPELINE", "x")):
        tmp = tempfile.mkdtemp(prefix="muxbench-shapes-usage.")
        try:
            env = dict(os.environ, BUILD=os.path.abspath(build), SERVERS="epoll", CONNS="100", RATE="2k",
                       OUT=os.path.join(tmp, "out"), **{var: value})
            p = subprocess.run(["bench/sweep"], cwd=SRC, env=env, capture_output=True, text=True, timeout=60)
            if p.returncode != 2 or len(p.stderr.strip().splitlines()) != 1 or var not in p.stderr \
                    or os.path.exists(os.path.join(tmp, "out", "rows.json")):
                fail(f"{var}={value}: exit {p.returncode}, want 2 and one line naming it: {p.stderr!r}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    build = sys.argv[2]
    usage_errors(build)
    need_bench_run()
    tmp = tempfile.mkdtemp(prefix="muxbench-shapes.")
    try:
        env = dict(os.environ, BUILD=os.path.abspath(build), SERVERS="epoll", SHAPE_CONNS="100", ACTIVE="20",
                   RATE="2k", SHAPE_SIZES="64 1KiB", SHAPE_PIPELINE="1 4", REPS="1", COUNTED="0",
                   DURATION="0.3s", WARMUP="0.2s")
        env.pop("QUICK", None)
        p = subprocess.run(["bench/shapes", tmp], cwd=SRC, env=env, capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            fail(f"bench/shapes: exit {p.returncode}: {p.stderr[-500:]}")
        rows, _ = results.load(os.path.join(tmp, "shapes"), shapes=True)
        got = sorted((r["size"], r["pipeline"], r["status"]) for r in rows)
        want = [(64, 1, "ok"), (64, 4, "ok"), (1024, 1, "ok"), (1024, 4, "ok")]
        if got != want:
            fail(f"bench/shapes rows {got}, want {want}")
        by = {(r["size"], r["pipeline"]): r for r in rows}
        for (size, k), r in by.items():
            lg = r["loadgen"]
            if lg["config"]["pipeline"] != k or lg["config"]["size"] != size:
                fail(f"{size} B pipeline {k}: the loadgen ran {lg['config']}")
            if abs(lg["bytes_in"] - size * lg["requests"]) > size * 20 * k:
                fail(f"{size} B pipeline {k}: {lg['bytes_in']} bytes in for {lg['requests']} requests")
        one, four = by[(64, 1)]["syscalls_per_req"], by[(64, 4)]["syscalls_per_req"]
        if not four < one:
            fail(f"pipeline 4 at 64 B: {four:.2f} syscalls per request, not fewer than one at a time ({one:.2f})")
        main_rows, _ = results.load(os.path.join(tmp, "shapes"))
        if sorted((r["size"], r["pipeline"]) for r in main_rows) != [(64, 1)]:
            fail(f"results.load without shapes: {[(r['size'], r['pipeline']) for r in main_rows]}")

        report = report_beside_sample(SRC, tmp)
        if "## Message size and pipelining" not in report:
            fail("the report has no 'Message size and pipelining'")
        for k in (1, 4):
            cells = " | ".join(f"{by[(z, k)]['syscalls_per_req']:.2f}" for z in (64, 1024))
            if f"| epoll | {k} | {cells} |" not in report:
                fail(f"the syscalls table lacks '| epoll | {k} | {cells} |'")
            cells = " | ".join(f"{by[(z, k)]['cpu_us_per_req']:.1f}" for z in (64, 1024))
            if f"| epoll | {k} | {cells} |" not in report:
                fail(f"the CPU table lacks '| epoll | {k} | {cells} |'")
        if f"Pipelining 4 at 64 B took epoll from {one:.2f} to {four:.2f} syscalls per request" not in report \
                or "Its CPU per request went to" not in report:
            fail("the pipelining sentence is missing or not the rows' figures")
        if "epoll's CPU per request at 1 KiB was" not in report:
            fail("the size sentence is missing")
        with open(os.path.join(tmp, "plots", "shapes-cpu.dat")) as f:
            blocks = [b for b in f.read().split("\n\n\n") if b.strip()]
        if len(blocks) != 2 or any(len(b.strip().splitlines()) != 3 for b in blocks):
            fail(f"shapes-cpu.dat: {blocks}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: sizes and pipelines as rows, pipelining measured, the report's tables and sentences, usage errors")


if __name__ == "__main__":
    main()
