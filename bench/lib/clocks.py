"""clocks.py - how far another host's clock is from ours, measured over the ssh session we would
use to run its loadgen.

Loadgens on several hosts measure one window only if they agree on when it starts: the harness
gives each the same instant on its own CLOCK_REALTIME, which is only the same instant if the
clocks agree. This measures by how much they do not, as NTP does: we read our clock (t0), ask the
host for its own (t), read ours again (t1); the host read its clock somewhere between t0 and t1,
so its offset is t - (t0 + t1) / 2, give or take (t1 - t0) / 2. One ssh session answers every
probe (a responder reading a line and printing its clock), so that connecting, authenticating and
starting a process are outside the round trips; the probe with the shortest round trip bounds the
offset best, and is the one reported.

    measure(ssh_argv, probes=16) -> Offset(offset_ns, bound_ns, rtt_ns, probes)
    ssh_argv: everything before the remote command, e.g. ["ssh", "-F", cfg, "h1"].
Raises ClockError (its message one line) when the host does not answer within the deadline or
answers with something that is not a clock reading.
"""
import os
import selectors
import subprocess
import time
from collections import namedtuple

Offset = namedtuple("Offset", "offset_ns bound_ns rtt_ns probes")

# The responder: python3 where the host has it (one process, reads its clock as the line arrives),
# else a shell loop with date(1), whose fork puts more of the round trip between t0 and t, which
# the bound then says.
RESPONDER = ("if command -v python3 >/dev/null 2>&1; then exec python3 -c '"
             "import sys, time\n"
             "for _ in sys.stdin:\n"
             "    sys.stdout.write(str(time.time_ns()) + chr(10)); sys.stdout.flush()'; "
             "else while read -r _; do date +%s%N; done; fi")


class ClockError(Exception):
    pass


def measure(ssh_argv, probes=16, deadline_s=15.0):
    if probes < 1:
        raise ValueError("probes must be at least 1")
    p = subprocess.Popen([*ssh_argv, RESPONDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    end = time.monotonic() + deadline_s
    buf = b""
    best = None
    answered = False
    try:
        for _ in range(probes + 1):  # the first answer also pays the responder's start: discarded
            t0 = time.time_ns()
            p.stdin.write(b"\n")
            p.stdin.flush()
            while b"\n" not in buf:
                left = end - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ClockError(f"{' '.join(ssh_argv)}: no clock reading within {deadline_s:g} s")
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    err = p.stderr.read().decode(errors="replace").strip().splitlines()
                    raise ClockError(f"{' '.join(ssh_argv)}: the session ended"
                                     + (f": {err[-1]}" if err else f" (exit {p.wait()})"))
                buf += chunk
            t1 = time.time_ns()
            line, buf = buf.split(b"\n", 1)
            try:
                t = int(line)
            except ValueError:
                raise ClockError(f"{' '.join(ssh_argv)}: not a clock reading: {line[:80]!r}") from None
            sample = Offset(t - (t0 + t1) // 2, (t1 - t0 + 1) // 2, t1 - t0, 0)
            if _ > 0 and (best is None or sample.rtt_ns < best.rtt_ns):
                best = sample
        answered = True
    except (BrokenPipeError, OSError) as e:
        raise ClockError(f"{' '.join(ssh_argv)}: {e}") from None
    finally:
        sel.close()
        try:
            p.stdin.close()
        except OSError:
            pass
        try:  # a responder that answered ends at the end of its input; one that did not is killed
            p.wait(timeout=5 if answered else 0)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        p.stdout.close()
        p.stderr.close()
    return best._replace(probes=probes)
