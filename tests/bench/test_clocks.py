#!/usr/bin/env python3
"""test_clocks.py - bench/lib/clocks.py measures another clock's offset, and says when it cannot.

Each "host" is a local command standing where ssh would (clocks.measure runs argv + [responder]):
  - sh -c runs the real responder here: the offset is within its own bound of 0;
  - a responder whose clock runs 50 ms ahead: the offset is within its bound of +50 ms, and one
    60 ms behind: within its bound of -60 ms (the sign is the host's clock minus ours);
  - one that never answers, one whose session ends (its stderr's last line is in the error) and
    one that answers something that is not a clock: a ClockError each, no hang (1 s deadline).
No bound on the round trip itself: that is the machine's.

usage: test_clocks.py SOURCE_DIR
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(sys.argv[1], "bench", "lib"))
import clocks  # noqa: E402
from verdict import fail  # noqa: E402

SHIFTED = """import sys, time
shift = int(sys.argv[1])
for _ in sys.stdin:
    sys.stdout.write(str(time.time_ns() + shift) + chr(10)); sys.stdout.flush()
"""


def within(o, want_ns, what):
    if not isinstance(o, clocks.Offset) or o.probes != 8 or o.bound_ns <= 0 or o.rtt_ns < 2 * o.bound_ns - 1:
        fail(f"{what}: {o!r}")
    if abs(o.offset_ns - want_ns) > o.bound_ns:
        fail(f"{what}: offset {o.offset_ns} ns, want {want_ns} within its bound {o.bound_ns} ns")


def error(argv, needle, what):
    try:
        got = clocks.measure(argv, probes=8, deadline_s=1.0)
    except clocks.ClockError as e:
        if needle not in str(e) or "\n" in str(e):
            fail(f"{what}: the error should be one line naming {needle!r}: {e!r}")
        return
    fail(f"{what}: measured {got!r}, want a ClockError")


def main():
    within(clocks.measure(["sh", "-c"], probes=8), 0, "the responder here")
    with tempfile.TemporaryDirectory() as d:
        fake = os.path.join(d, "shifted.py")
        with open(fake, "w") as f:
            f.write(SHIFTED)
        # The responder's text lands in argv[2], which the fake ignores.
        within(clocks.measure([sys.executable, fake, str(50_000_000)], probes=8), 50_000_000, "50 ms ahead")
        within(clocks.measure([sys.executable, fake, str(-60_000_000)], probes=8), -60_000_000, "60 ms behind")
    error(["sh", "-c", "sleep 30"], "no clock reading within 1 s", "a host that never answers")
    error(["sh", "-c", "echo 'Permission denied (publickey).' >&2; exit 255"], "Permission denied",
          "a session that ends")
    error(["sh", "-c", "while read -r _; do echo hello; done"], "not a clock reading", "a wrong answer")
    print("ok: offsets 0, +50 ms and -60 ms found within their bounds; three failures are one-line errors")


if __name__ == "__main__":
    main()
