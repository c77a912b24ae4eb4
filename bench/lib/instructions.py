#!/usr/bin/env python3
"""instructions.py - a server's user-space instructions per request, counted by valgrind.

Why this count: CPU time per request moves up to 5x between machines of this kind and by a third
between two runs on one, so a gate on it can only catch large changes. The instructions a server
executes for a fixed piece of work do not depend on the machine's speed: counted by valgrind
(callgrind; this VM has no hardware counters), they repeat to 0.1% here, most servers' to a few in
a million, so a change of a few percent is plain (results/README.md, "The regression gate").

The fixed work: N connections, one of them active, the rest idle; 64-byte requests at 2k req/s,
one every 0.5 ms, several times what a server takes for one under valgrind here, so that every
request finds the server asleep in its wait and takes the same path through it (wake, read,
write, wait). In lockstep instead (the next request sent as soon as the echo is back) the path
depends on timing: echo-epoll --edge, which reads until EAGAIN after each write, found the next
request already there in some runs and not in others (220 to 404 instructions per request in one
A/A run).

The window: the loadgen signals the server (SIGUSR1) at the start and the end of REQUESTS requests
after a short warm-up, and valgrind runs the server with --dump-before=counters_snapshot, so every
stats snapshot first dumps the instructions executed since the previous one. The second dump is
the window, exactly, divided by the requests the server counted between its two snapshots; it
includes one snapshot's own formatting (about 40,000 instructions, fixed). A run that did not
measure that work is run again (ATTEMPTS): with a longer warm-up when the window began before the
server had accepted all N connections (accepts are not per-request work), at a lower rate when
requests queued (fewer loop passes than requests: on a slower machine 0.5 ms may not be enough).

Busy-poll's rule: it never sleeps, so how many passes over its N connections a request takes is
set by how fast its core spins, not by its code; its figure is instructions per loop pass (one
read attempt on every connection, and the request when one is there), from its own pass count.
A server with several loops is counted three times, the lowest kept (LOOPS_RUNS says why).
Servers with workers (several processes) are not counted: each process would need its own count,
and their loop is echo-epoll's, counted as such.

usage: instructions.py BUILD SERVER N [--requests R]   -> one JSON object on stdout (R: 2,000)
   (BUILD a meson build dir with servers/servers.tsv; the loadgen is BUILD's, or $LOADGEN)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
from supervise import Supervisor, alive, exit_code, json_lines, poll_until, stop  # noqa: E402

REQUESTS = 2000
RATE = "2k"  # one request every 0.5 ms: each finds the server asleep in its wait (see above)
# A run that does not measure the fixed work is run again with the next (warm-up, rate): accepts
# still going on when the window began (longer warm-up), or requests that came faster than the
# server served them under valgrind, so that one pass took two (a lower rate: a machine up to 5x
# slower than this one, or a server that does more per request).
ATTEMPTS = (("0.2s", RATE), ("1s", "500"), ("4s", "125"))
PAIRED = 0.98  # a loop server serves each request in a pass of its own: passes >= 0.98 x requests
START_S = 30  # valgrind takes a second or two to start a server
RUN_S = 300   # the whole run's deadline (busy-poll at 1,000 connections: about 10 s here)
DUMP_FUNCTION = "counters_snapshot"  # servers/core/counters.c: every stats line's counts
# A server with several loops answers a snapshot from its control thread, which polls every 1 ms
# until each loop has answered (servers/core/control.c); under valgrind a loop can take long to
# be scheduled, and those polls land in the window: +12% once in an A/A run here. Waiting only
# ever adds instructions, so the lowest of a few counts is the work.
LOOPS_RUNS = 3


def valgrind_available():
    return shutil.which("valgrind") is not None


def _ready_port(path):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("listening on "):
                    return int(line.rsplit(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def _last_line(path):
    """The last non-empty line of a log (the work directory is removed afterwards)."""
    try:
        with open(path, errors="replace") as f:
            lines = [x.strip() for x in f if x.strip()]
        return lines[-1][:300] if lines else "(nothing on stderr)"
    except OSError:
        return "(no log)"


def _summary(path):
    """callgrind's `summary:` line of one dump: the instructions it counted."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("summary:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def count(row, n, loadgen, requests=REQUESTS, work=None):
    """-> SimpleNamespace(status, per_req, per_pass, instructions, requests, passes, warmup, why).
    row: a servers.Server of some build; n: connections (one active); status 'ok' or
    'failed:<what>' (why says more) or 'unsupported:<what>'. A server with several loops is
    counted LOOPS_RUNS times and the lowest count kept (see LOOPS_RUNS)."""
    best = None
    for _ in range(LOOPS_RUNS if row.loops > 1 else 1):
        res = _count_once(row, n, loadgen, requests, work)
        if res.status != "ok":
            return res
        if best is None or res.instructions / res.requests < best.instructions / best.requests:
            best = res
    return best


def _count_once(row, n, loadgen, requests, work):
    res = SimpleNamespace(status="ok", per_req=None, per_pass=None, instructions=None, requests=None,
                          passes=None, warmup=None, rate=None, why="")
    if row.workers:
        res.status, res.why = "unsupported:workers", "several processes: each would need its own count"
        return res
    if not valgrind_available():
        res.status, res.why = "failed:no_valgrind", "valgrind is not installed (bench/deps.sh bench)"
        return res
    own = work is None
    work = work or tempfile.mkdtemp(prefix="muxbench-instr.")
    try:
        for warmup, rate in ATTEMPTS:
            sup = Supervisor()
            try:
                for name in os.listdir(work):
                    os.unlink(os.path.join(work, name))
                res = SimpleNamespace(**dict(vars(res), status="ok", why=""))
                if _run(res, row, n, loadgen, requests, work, sup, warmup, rate):
                    break
            finally:
                sup.cleanup()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return res


def _run(res, row, n, loadgen, requests, work, sup, warmup, rate):
    """One counted run into res; False when it must be run again with the next attempt (ATTEMPTS):
    the server was still accepting the N connections when the window began, or requests queued."""
    stats, out = os.path.join(work, "stats.jsonl"), os.path.join(work, "server.out")
    cg = os.path.join(work, "callgrind.out")
    argv = ["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--dump-before={DUMP_FUNCTION}",
            f"--callgrind-out-file={cg}", f"--max-threads={n + 100}", "--trace-children=no",
            row.path, "--port", "0", "--stats", stats, *row.args]
    with open(out, "w") as so, open(os.path.join(work, "valgrind.err"), "w") as se:
        server = sup.spawn(argv, stdout=so, stderr=se)
    port = poll_until(lambda: _ready_port(out), START_S, 0.05, give_up=lambda: not alive(server))
    if not port:
        res.status = "unsupported:kernel" if not alive(server) and exit_code(server) == 77 else "failed:server_start"
        rc = "still running" if alive(server) else f"exit {exit_code(server)}"
        res.why = f"no ready line ({rc}): " + _last_line(os.path.join(work, "valgrind.err")) \
            if res.status.startswith("failed") else "the server exited 77"
        return True
    cpu = "1" if len(os.sched_getaffinity(0)) > 1 else "0"
    with open(os.path.join(work, "loadgen.err"), "w") as lgerr:
        lg = sup.spawn(["taskset", "-c", cpu, loadgen, "--port", str(port), "--connections", str(n),
                        "--active", "1", "--rate", rate, "--size", "64", "--warmup", warmup,
                        "--duration", f"{RUN_S}s", "--requests", str(requests), "--server-pid", str(server.pid),
                        "--timeout", "30s", "--json", os.path.join(work, "loadgen.json")],
                       stdout=subprocess.DEVNULL, stderr=lgerr)
    deadline = time.monotonic() + RUN_S
    while lg.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if lg.poll() is None:
        stop(lg, signal.SIGKILL, 5)
        res.status, res.why = "failed:loadgen_timeout", f"no end within {RUN_S} s"
        return True
    if exit_code(lg) != 0:
        res.status, res.why = f"failed:loadgen_exit_{exit_code(lg)}", _last_line(os.path.join(work, "loadgen.err"))
        return True
    if not stop(server, signal.SIGTERM, 30) or exit_code(server) != 0:
        res.status, res.why = "failed:server_exit", "the server did not end cleanly on SIGTERM: " + \
            _last_line(os.path.join(work, "valgrind.err"))
        return True
    snaps = [x for x in json_lines(stats) if isinstance(x, dict) and x.get("type") == "snapshot"]
    window = _summary(f"{cg}.2")  # dump 1: start-up to the first snapshot; dump 2: the window
    if len(snaps) < 2 or window is None:
        res.status, res.why = "failed:no_count", f"{len(snaps)} snapshots, window dump {'missing' if window is None else 'ok'}"
        return True
    if snaps[0]["accepted"] < n or snaps[1]["accepted"] != snaps[0]["accepted"]:
        res.status = "failed:accepts_in_window"
        res.why = (f"{snaps[0]['accepted']:,} of {n:,} connections accepted at the window's start, "
                   f"{snaps[1]['accepted']:,} at its end, after a warm-up of {warmup}")
        return False
    res.warmup = warmup
    res.instructions = window
    res.requests = snaps[1]["requests"] - snaps[0]["requests"]
    res.passes = snaps[1]["loop_passes"] - snaps[0]["loop_passes"]
    if res.requests <= 0:
        res.status, res.why = "failed:no_requests", "the server counted no request in the window"
        return True
    if not row.spins and 0 < res.passes < PAIRED * res.requests:
        res.status = "failed:requests_queued"
        res.why = (f"{res.passes:,} passes for {res.requests:,} requests at {rate} req/s: requests came "
                   "faster than the server served them under valgrind")
        return False
    res.rate = rate
    res.per_req = window / res.requests
    res.per_pass = window / res.passes if res.passes > 0 else None
    return True


def figure(row, res):
    """The gated figure and its unit: instructions per request, or per pass for a spinning server."""
    if row.spins:
        return res.per_pass, "instr/pass"
    return res.per_req, "instr/req"


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--requests"):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    build, name = argv[0], argv[1]
    try:
        n = int(argv[2])
        requests = int(argv[4]) if len(argv) == 5 else REQUESTS
        if n < 1 or requests < 1:
            raise ValueError
    except ValueError:
        print("instructions.py: N and R must be positive integers", file=sys.stderr)
        return 2
    try:
        row = servers.lookup(servers.load(build), name, build)
    except servers.Error as e:
        print(f"instructions.py: {e}", file=sys.stderr)
        return 2
    loadgen = os.environ.get("LOADGEN") or os.path.join(build, "loadgen", "loadgen")
    res = count(row, n, loadgen, requests)
    value, unit = figure(row, res)
    print(json.dumps(dict(vars(res), server=name, connections=n, figure=value, unit=unit)))
    return 0 if res.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
