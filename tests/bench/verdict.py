"""verdict.py - how a tests/bench script ends: FAIL (exit 1) or SKIP (exit 77, meson: skipped)."""
import sys


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)
