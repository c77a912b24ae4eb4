#!/usr/bin/env python3
"""test_loadgen_check.py - bench/loadgen-check fails loudly on a broken run, and only then.

bench/loadgen-check prints figures; a figure from a broken run is a wrong answer, so each way a
run can break must end the check with exit 1 and one line on stderr saying why. Each case points
the check (BUILD=dir) at a build directory whose servers/echo-epoll and loadgen/loadgen are the
real programs or wrappers around them that break one thing, over real sockets:

  no_server     echo-epoll exits before its ready line        -> "did not start", with its message
  corrupt       the server flips a bit in every 1,000th byte   -> the loadgen's verify errors
  errors_exit0  the same, but the loadgen's exit status is 0   -> the errors in its JSON still count
  crash         the server is killed during the run            -> "echo-epoll exited 137"
  garbage       the loadgen writes no JSON                     -> "cannot parse the results"
  no_stats      a correct echo that writes no stats file       -> "cannot read the server's window"
  clean         the real server and loadgen, shrunk to 20 connections -> no failure line: exit 0,
                or 3 with the verdict line only (this machine may not let the server set the pace)

The loadgen wrapper shrinks the check's 10,000 connections (500 active) to 20 (10) and its warm-up
to 0.2 s, so that a case takes about a second; nothing else about the run changes.

usage: test_loadgen_check.py LOADGEN_CHECK LOADGEN ECHO_EPOLL BAD_SERVER   (exit 0 pass, 1 fail,
       77 skipped: fewer than 2 CPUs or no taskset, which the check itself refuses)
"""
import os
import shutil
import subprocess
import sys
import tempfile

CHECK, LOADGEN, ECHO_EPOLL, BAD_SERVER = (os.path.abspath(a) for a in sys.argv[1:5])

# The loadgen, shrunk; MODE says what else the wrapper does.
LOADGEN_WRAPPER = """#!/usr/bin/env python3
import os, signal, subprocess, sys
MODE, REAL = {mode!r}, {real!r}
args = sys.argv[1:]
shrink = {{"--connections": "20", "--active": "10", "--warmup": "0.2s"}}
for i, a in enumerate(args[:-1]):
    if a in shrink:
        args[i + 1] = shrink[a]
opt = lambda name: args[args.index(name) + 1]
if MODE == "garbage":  # a result that is not JSON (the check reads it before the server's stats)
    open(opt("--json"), "w").write("{{not json")
    sys.exit(0)
status = subprocess.run([REAL] + args).returncode
if MODE == "crash":
    os.kill(int(opt("--server-pid")), signal.SIGKILL)
sys.exit(0 if MODE == "exit0" else status)
"""

# bad_server in MODE as the server. The loadgen's SIGUSR1s (--server-pid) would kill bad_server,
# which has no handler: ignored here, and an ignored signal stays ignored across exec.
BAD_SERVER_AS = """#!/bin/sh
trap '' USR1
exec {bad} {mode}
"""

NO_SERVER = """#!/bin/sh
echo "echo-epoll: --stats: cannot open (a made-up failure)" >&2
exit 1
"""

failures = []


def run_case(name, server, loadgen_mode):
    """Run the check once against a build whose server is `server` (None: the real one, else a
    script) and whose loadgen wrapper does `loadgen_mode`. Returns (status, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="lgcheck-") as build:
        os.makedirs(f"{build}/servers")
        os.makedirs(f"{build}/loadgen")
        exe = f"{build}/servers/echo-epoll"
        if server is None:
            os.symlink(ECHO_EPOLL, exe)
        else:
            with open(exe, "w") as f:
                f.write(server)
            os.chmod(exe, 0o755)
        with open(f"{build}/loadgen/loadgen", "w") as f:
            f.write(LOADGEN_WRAPPER.format(mode=loadgen_mode, real=LOADGEN))
        os.chmod(f"{build}/loadgen/loadgen", 0o755)
        p = subprocess.run([sys.executable, CHECK, "1", "0.5s"], env={**os.environ, "BUILD": build},
                           capture_output=True, text=True, timeout=120)
    print(f"# {name}: exit {p.returncode}\n# stdout: {p.stdout!r}\n# stderr: {p.stderr!r}")
    return p.returncode, p.stdout, p.stderr


def expect_broken(name, server, loadgen_mode, *needles):
    status, _, err = run_case(name, server, loadgen_mode)
    lines = err.splitlines()
    if status != 1:
        failures.append(f"{name}: exit {status}, expected 1")
    elif len(lines) != 1 or not lines[0].startswith("loadgen-check: rep 1: "):
        failures.append(f"{name}: stderr is not one 'loadgen-check: rep 1: ' line: {err!r}")
    elif not all(n in lines[0] for n in needles):
        failures.append(f"{name}: the reason does not say {needles}: {lines[0]!r}")


def main():
    if (os.cpu_count() or 1) < 2 or len(os.sched_getaffinity(0)) < 2 or not shutil.which("taskset"):
        print("SKIP: loadgen-check needs 2 CPUs and taskset")
        sys.exit(77)
    corrupt = BAD_SERVER_AS.format(bad=BAD_SERVER, mode="--flip 1000")
    expect_broken("no_server", NO_SERVER, "run", "did not start", "a made-up failure")
    expect_broken("corrupt", corrupt, "run", "the loadgen exited 1", "verify")
    expect_broken("errors_exit0", corrupt, "exit0", "the loadgen reported", "errors", "verify")
    expect_broken("crash", None, "crash", "echo-epoll exited 137")
    expect_broken("garbage", None, "garbage", "cannot parse the results", "JSONDecodeError")
    expect_broken("no_stats", BAD_SERVER_AS.format(bad=BAD_SERVER, mode="--echo"), "run",
                  "cannot read the server's window")

    status, out, err = run_case("clean", None, "run")
    rows = [line.split() for line in out.splitlines()]
    if status not in (0, 3):
        failures.append(f"clean: exit {status}, expected 0 (or 3, a FAIL verdict): {err!r}")
    elif len(rows) != 3 or rows[1][0] != "1" or rows[1][-1] not in ("ok", "FAIL"):
        failures.append(f"clean: not a header, one row and a summary: {out!r}")
    elif (status == 0) != (rows[1][-1] == "ok"):
        failures.append(f"clean: exit {status} with verdict {rows[1][-1]}")
    elif err.splitlines() != ([] if status == 0 else [err.strip()]) or (status == 3 and "FAIL the verdict" not in err):
        failures.append(f"clean: stderr is not empty or the one verdict line: {err!r}")

    for f in failures:
        print(f"FAIL: {f}")
    if failures:
        sys.exit(1)
    print("loadgen-check: ok (6 broken runs each named, one clean run not)")


if __name__ == "__main__":
    main()
