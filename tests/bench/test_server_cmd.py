#!/usr/bin/env python3
"""test_server_cmd.py - bench/run --server-cmd measures a user's own echo server.

The test writes the smallest honest echo server it can (Python's selectors, a temporary file) and
has bench/run measure it: two `ok` rows labelled as asked, the published one (counting own) and the
kernel's (counting kernel), requests answered and every payload verified by the loadgen (no errors
of any kind), the syscalls counted by the kernel in the kernel's row alone and by nobody in the
published one (the server keeps no stats, and nothing else counts there), and the command line in
rows.json. Then a command that never listens: a `failed:server_start` row within bench/run's start
deadline, and the command gone.

No bound here is a time or a rate of this machine: the load is closed loop, and the only time is
the start deadline's, with room for a loaded machine.

usage: test_server_cmd.py SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip)
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from verdict import fail, need_bench_run

ECHO = '''\
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1024)
ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s is ls:
            try:
                c, _ = ls.accept()
            except BlockingIOError:
                continue
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ)
            continue
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionError:
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            continue
        s.setblocking(True)  # a few bytes: sendall finishes at once
        try:
            s.sendall(data)
        except ConnectionError:
            pass
        s.setblocking(False)
'''
START_S = 10  # bench/run's start deadline (bench/lib/repetition.py)


def bench_run(src, build, out, cmd, *args, want=1):
    argv = [os.path.join(src, "bench", "run"), "--server-cmd", cmd, "--connections", "50", "--active", "5",
            "--duration", "1s", "--warmup", "0.3s", "--out", out, *args]
    p = subprocess.run(argv, env=dict(os.environ, BUILD=build), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    if p.returncode != 0:
        fail(f"bench/run exited {p.returncode}: {p.stderr.strip()}")
    with open(os.path.join(out, "rows.csv")) as f:
        rows = list(csv.DictReader(f))
    with open(os.path.join(out, "rows.json")) as f:
        objs = json.load(f)
    if len(rows) != want or len(objs) != want:
        fail(f"{len(rows)} rows in rows.csv, {len(objs)} in rows.json, want {want}: {p.stderr.strip()}")
    return rows, objs, p.stderr


def processes_naming(text):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline}")
    return found


def main():
    src, build = sys.argv[1], sys.argv[2]
    need_bench_run()
    tmp = tempfile.mkdtemp(prefix="muxbench-server-cmd.")
    try:
        server = os.path.join(tmp, "echo.py")
        with open(server, "w") as f:
            f.write(ECHO)

        # 1. A user's echo server: an ok row, counted by the kernel only.
        rows, objs, err = bench_run(src, build, os.path.join(tmp, "a"), f"{sys.executable} {server} {{port}}",
                                    "--label", "pyecho", want=2)
        for r, obj in zip(rows, objs):
            if r["status"] != "ok":
                fail(f"{r['counting']} row: status {r['status']}: {err.strip()}")
            lg = obj["loadgen"]
            if r["server"] != "pyecho" or r["variant"] != "default":
                fail(f"row labelled {r['server']}/{r['variant']}, want pyecho/default")
            if not lg["requests"] > 0 or r["errors"] != "0" or any(lg["errors_by_kind"].values()):
                fail(f"requests {lg['requests']}, errors {r['errors']} {lg['errors_by_kind']}")
            for col in ("syscalls_per_req", "cpu_us_per_req", "rss_kb", "threads", "checks_per_req"):
                if r[col] != "":
                    fail(f"{col} is {r[col]!r}: a server without stats has no such figure")
            if obj.get("server_cmd") != f"{sys.executable} {server} {{port}}" or obj.get("server_window") is not None:
                fail(f"rows.json: server_cmd {obj.get('server_cmd')!r}, server_window {obj.get('server_window')!r}")
        own, kernel = rows
        if (own["counting"], kernel["counting"]) != ("own", "kernel"):
            fail(f"roles {own['counting']!r}, {kernel['counting']!r}; want own, kernel")
        if own["perf_syscalls_per_req"] != "" or own["count_method"] != "":
            fail(f"the published row was counted: {own['perf_syscalls_per_req']!r} ({own['count_method']!r})")
        if not float(kernel["perf_syscalls_per_req"] or 0) > 0:
            fail(f"the kernel counted no syscalls: {kernel['perf_syscalls_per_req']!r} ({kernel['count_method']})")
        print(f"server-cmd: ok ({objs[0]['loadgen']['requests']} requests published, "
              f"{kernel['perf_syscalls_per_req']} syscalls/req by {kernel['count_method']})")

        # 2. A command that never listens: failed:server_start within the start deadline, and gone.
        t0 = time.monotonic()
        rows, _, err = bench_run(src, build, os.path.join(tmp, "b"),
                                 f"{sys.executable} -c 'import time; time.sleep(600)' {tmp}/never {{port}}",
                                 "--counted-reps", "0")
        r = rows[0]
        took = time.monotonic() - t0
        if r["status"] != "failed:server_start":
            fail(f"a command that never listens: status {r['status']}")
        if took > START_S + 20:
            fail(f"its row took {took:.1f} s; the start deadline is {START_S} s")
        if r["server"] != os.path.basename(sys.executable):
            fail(f"label {r['server']!r}, want the command's basename")
        left = processes_naming(f"{tmp}/")
        if left:
            fail(f"left behind: {left}")
        print(f"never listening: {r['status']} after {took:.1f} s, nothing left behind")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
