"""verdict.py - how a tests/bench script ends: FAIL (exit 1) or SKIP (exit 77, meson: skipped)."""
import os
import shutil
import sys


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


def need_bench_run():
    """Skip unless bench/run can run here: a way to count syscalls, and two CPUs to pin its sides."""
    if not (shutil.which("perf") or shutil.which("strace")):
        skip("neither perf nor strace")
    if len(os.sched_getaffinity(0)) < 2:  # what nproc counts, and bench/run's placement
        skip("bench/run pins the server and the loadgen to two CPUs")
