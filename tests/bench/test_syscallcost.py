#!/usr/bin/env python3
"""test_syscallcost.py - bench/syscallcost makes the calls it times, and every run's environment
records what they cost.

  - under strace, `syscallcost --calls 1000 --rounds 3` makes exactly the getppid() calls it says
    (a warm-up of calls/10 + 1, then rounds x calls, and before each of those rounds one plain
    getppid() for the parent's pid that the timed ones must return)
    and exactly as many failing read()s on its idle socket (EAGAIN); its JSON echoes
    calls and rounds, and every figure is positive with min <= median <= max;
  - a bad option is one line on stderr and exit 2;
  - bench/lib/meta.py writes syscall_cost (the same program's figures) and mitigations (one entry
    per file of /sys/devices/system/cpu/vulnerabilities) into meta.json, and report.py shows both
    in the environment table.

usage: test_syscallcost.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, report_beside_sample, skip

CALLS, ROUNDS = 1000, 3
VULN = "/sys/devices/system/cpu/vulnerabilities"


def strace_counts(exe):
    """{syscall: (calls, errors)} of one run of exe under strace -c, and its stdout."""
    # LeakSanitizer cannot run under a tracer (the ASan build): without it, the same calls
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-c", "-e", "trace=getppid,read", exe, "--calls", str(CALLS),
                        "--rounds", str(ROUNDS)], capture_output=True, text=True, timeout=60, env=env)
    if p.returncode != 0:
        fail(f"syscallcost under strace: exit {p.returncode}: {p.stderr[-400:]}")
    counts = {}
    for line in p.stderr.splitlines():
        w = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(w) >= 5 and w[-1] in ("getppid", "read") and w[3].isdigit():
            counts[w[-1]] = (int(w[3]), int(w[4]) if len(w) == 6 else 0)
    return counts, p.stdout


def main():
    src, build = sys.argv[1], sys.argv[2]
    exe = os.path.join(build, "bench", "syscallcost", "syscallcost")
    if not shutil.which("strace"):
        skip("strace is not installed (bench/deps.sh bench installs it)")

    counts, out = strace_counts(exe)
    warm = CALLS // 10 + 1
    want_getppid = warm + ROUNDS * CALLS + ROUNDS + 1
    if counts.get("getppid", (0, 0))[0] != want_getppid:
        fail(f"getppid calls {counts.get('getppid')}, want {want_getppid}: the program does not time what it says")
    reads, errors = counts.get("read", (0, 0))
    if errors != warm + ROUNDS * CALLS:  # the loader's (and a sanitizer's) reads of files succeed
        fail(f"read calls {reads}, {errors} failed: want {warm + ROUNDS * CALLS} failing ones (EAGAIN)")
    doc = json.loads(out)
    if (doc.get("calls"), doc.get("rounds")) != (CALLS, ROUNDS):
        fail(f"calls and rounds echoed as {doc.get('calls')}, {doc.get('rounds')}")
    for k in ("getppid", "read_eagain"):
        lo, mid, hi = doc[f"{k}_ns_min"], doc[f"{k}_ns"], doc[f"{k}_ns_max"]
        if not 0 < lo <= mid <= hi:
            fail(f"{k}: min {lo}, median {mid}, max {hi}")

    p = subprocess.run([exe, "--rounds", "0"], capture_output=True, text=True, timeout=10)
    if p.returncode != 2 or len(p.stderr.strip().splitlines()) != 1:
        fail(f"--rounds 0: exit {p.returncode}, stderr {p.stderr!r}: want exit 2 and one line")

    tmp = tempfile.mkdtemp(prefix="muxbench-syscallcost.")
    try:
        subprocess.run([sys.executable, os.path.join(src, "bench", "lib", "meta.py"), tmp, build, "split", "0", "1",
                        "own"], check=True, timeout=60, cwd=src)
        with open(os.path.join(tmp, "meta.json")) as f:
            meta = json.load(f)
        sc = meta.get("syscall_cost") or {}
        if not (sc.get("getppid_ns", 0) > 0 and sc.get("read_eagain_ns", 0) > 0):
            fail(f"meta.json syscall_cost {sc}")
        if os.path.isdir(VULN):
            want = sorted(os.listdir(VULN))
            if sorted((meta.get("mitigations") or {})) != want:
                fail(f"meta.json mitigations {meta.get('mitigations')}, want one per file of {VULN}: {want}")
        report = report_beside_sample(src, tmp, meta=meta)
        m = re.search(r"^\| syscall entry \| getppid ([0-9.,]+) ns .*read\(\) that finds nothing ([0-9.,]+) ns", report, re.M)
        if not m:
            fail("the environment table has no 'syscall entry' row with both figures")
        if float(m.group(1).replace(",", "")) != round(sc["getppid_ns"]):
            fail(f"the report says getppid {m.group(1)} ns, meta.json {sc['getppid_ns']}")
        if os.path.isdir(VULN) and not re.search(r"^\| CPU mitigations \| ", report, re.M):
            fail("the environment table has no 'CPU mitigations' row")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"ok: {want_getppid} getppid and {errors} failing reads as promised; getppid {doc['getppid_ns']} ns, "
          f"empty read {doc['read_eagain_ns']} ns; meta.json and the report's environment carry them")


if __name__ == "__main__":
    main()
