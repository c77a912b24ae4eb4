#!/usr/bin/env python3
"""count.py - .ci/run's last line, 'N passed, N failed, N skipped', counted from what ran.

meson's own test logs (one JSON object per test in BUILD/meson-logs/testlog.json, for build and
build-asan), the gate's last line ('regress: N passed, N failed[, N skipped]') and the torture
table's ('torture: N passed, N failed (N n/a)', n/a counted as skipped). A log that is missing or
a gate that did not finish is a failure of its own: the count cannot be trusted without it.

A make that failed (MAKE_STATUS not 0) with no failure counted failed before or outside the tests,
a build error say: it counts as one failure.

usage: count.py MAKE_STATUS REGRESS_LOG TORTURE_LOG     exit 0 when something passed and nothing failed
"""
import json
import re
import sys


def main(make_status, regress_log, torture_log):
    passed = failed = skipped = 0
    broken = []
    for log in ("build/meson-logs/testlog.json", "build-asan/meson-logs/testlog.json"):
        try:
            with open(log) as f:
                results = [json.loads(line)["result"] for line in f if line.strip()]
        except (OSError, ValueError, KeyError) as e:
            broken.append(f"{log} is missing or unreadable ({e}): the tests did not run")
            continue
        passed += results.count("OK")
        skipped += results.count("SKIP")
        failed += len(results) - results.count("OK") - results.count("SKIP")
    for path, name, pattern in ((regress_log, "make regress", r"^regress: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$"),
                                (torture_log, "make torture", r"^torture: (\d+) passed, (\d+) failed \((\d+) n/a\)$")):
        try:
            with open(path, errors="replace") as f:
                m = re.search(pattern, f.read(), re.M)
        except OSError:
            m = None
        if not m:
            broken.append(f"{name} did not finish")
            continue
        passed += int(m.group(1))
        failed += int(m.group(2))
        skipped += int(m.group(3) or 0)
    for b in broken:
        print(f".ci/run: {b}", file=sys.stderr)
    failed += len(broken) if not failed else 0
    if make_status != "0" and not failed:
        failed = 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if passed and not failed else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
