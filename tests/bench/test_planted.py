#!/usr/bin/env python3
"""test_planted.py - the regression gate fails on each planted regression, naming the server and
the figure, and passes the same servers when nothing is planted.

Each plant (servers/core/plant.h) is built here, from this source, in a build directory of its own
(meson -Dplant=KIND, configured like BUILD_DIR), and bench/regress runs it as head against
BUILD_DIR as base on the servers and point where the plant must show:
  syscall  one extra syscall per read in the core: echo-epoll's syscalls per request rise (one A/B
           pair: each build's own count, which counts the extra read like any other), and so do
           its instructions;
  work     about 10% more user-space work in the core: echo-epoll's and echo-uring's instructions
           per request rise (valgrind alone, --pairs 0);
  loop     twice echo-select's fd walk: its instructions per request rise, echo-epoll's do not.
The control: BUILD_DIR against itself, no instruction or syscall check fails (CPU, with one pair,
is noise here and not asserted). About a minute on two cores.

usage: test_planted.py SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip: no valgrind)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, need_bench_run, skip

TARGETS = ["servers/echo-epoll", "servers/echo-select", "servers/echo-uring", "loadgen/loadgen"]


def build_plant(src, like, kind, home):
    """A build of SOURCE with -Dplant=KIND, configured like LIKE; -> its directory."""
    with open(os.path.join(like, "meson-info", "intro-buildoptions.json")) as f:
        opts = {o["name"]: o["value"] for o in json.load(f)}
    out = os.path.join(home, f"plant-{kind}")
    args = [f"-Dbuildtype={opts['buildtype']}", f"-Dplant={kind}"]
    p = subprocess.run(["meson", "setup", *args, out, src], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"meson setup -Dplant={kind}: {p.stdout[-500:]}{p.stderr[-500:]}")
    targets = [t for t in TARGETS if t != "servers/echo-uring" or has_uring(like)]
    p = subprocess.run(["ninja", "-C", out, *targets], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"ninja -Dplant={kind}: {p.stdout[-800:]}")
    return out


def has_uring(build):
    return os.access(os.path.join(build, "servers", "echo-uring"), os.X_OK)


def gate(src, head, base, servers, point, pairs, out):
    """Runs bench/regress; -> (exit code, its table's text)."""
    p = subprocess.run([os.path.join(src, "bench", "regress"), "--head-build", head, "--base-build", base,
                        "--servers", servers, "--points", str(point), "--pairs", str(pairs), "--out", out],
                       cwd=src, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout + p.stderr[-2000:]


def expect_fail(kind, rc, text, patterns):
    if rc != 1:
        fail(f"plant={kind}: the gate exited {rc}, not 1:\n{text}")
    for pat in patterns:
        if not re.search(pat, text):
            fail(f"plant={kind}: no line matching {pat!r} in:\n{text}")


def main():
    src, build = sys.argv[1], sys.argv[2]
    if not shutil.which("valgrind"):
        skip("valgrind is not installed (bench/deps.sh bench installs it)")
    need_bench_run()
    home = tempfile.mkdtemp(prefix="muxbench-planted.")
    try:
        uring = " uring" if has_uring(build) else ""

        rc, text = gate(src, build, build, "epoll select", 100, 1, os.path.join(home, "control"))
        bad = [ln for ln in text.splitlines() if re.search(r"FAIL .*(instr/|syscalls/req|runs|no )", ln)]
        if bad or not re.search(r"^regress: \d+ passed, \d+ failed", text, re.M):
            fail("control (the build against itself): an instruction or syscall check failed:\n" + text)

        head = build_plant(src, build, "syscall", home)
        rc, text = gate(src, head, build, "epoll", 100, 1, os.path.join(home, "g-syscall"))
        expect_fail("syscall", rc, text, [r"FAIL epoll N=100: .*syscalls/req [\d.]+ -> [\d.]+ \(\+\d\d\.\d%"])

        head = build_plant(src, build, "work", home)
        rc, text = gate(src, head, build, "epoll" + uring, 100, 0, os.path.join(home, "g-work"))
        expect_fail("work", rc, text, [r"FAIL epoll N=100: .*instr/req [\d,.]+ -> [\d,.]+ \(\+(9|10|11)\.\d\d%"]
                    + ([r"FAIL uring N=100: .*instr/req"] if uring else []))

        head = build_plant(src, build, "loop", home)
        rc, text = gate(src, head, build, "select epoll", 1000, 0, os.path.join(home, "g-loop"))
        expect_fail("loop", rc, text, [r"FAIL select N=1,000: .*instr/req [\d,.]+ -> [\d,.]+ \(\+\d\d+\.\d\d%"])
        if re.search(r"FAIL epoll", text):
            fail(f"plant=loop is in echo-select's loop only, but epoll failed too:\n{text}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print("ok: each planted regression fails the gate, naming its server and figure; the control passes")


if __name__ == "__main__":
    main()
