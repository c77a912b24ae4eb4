#!/usr/bin/env python3
"""test_pidfile.py - bench/hosts reads an sshd's pid file only once sshd has finished writing it.

sshd listens before it writes its pid file, and it creates the file before it writes the number,
so a reader that looks as soon as the port accepts can find the file there and empty (CI saw it:
IndexError in bench/hosts up, and the hosts it had made were left up). read_pidfile(path, seconds)
must wait for a whole line, a positive number and its newline, and say clearly when none comes:
  - a file created empty and written 0.3 s later: its pid, after the write;
  - a number written in two parts, the newline last: the whole number, never the first part;
  - a file that stays empty, or holds no number, or never appears: Failed within the time given,
    with a message naming the file.

usage: test_pidfile.py SOURCE_DIR   (exit 0 pass, 1 fail)
"""
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import threading
import time

from verdict import fail


def load_hosts(src):
    path = os.path.join(src, "bench", "hosts")
    loader = importlib.machinery.SourceFileLoader("bench_hosts", path)
    spec = importlib.util.spec_from_loader("bench_hosts", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def later(seconds, fn):
    t = threading.Thread(target=lambda: (time.sleep(seconds), fn()))
    t.start()
    return t


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def expect_failed(hosts, path, what):
    t0 = time.monotonic()
    try:
        got = hosts.read_pidfile(path, 0.5)
    except hosts.Failed as e:
        if path not in str(e):
            fail(f"{what}: the message does not name the file: {e}")
        if time.monotonic() - t0 > 5:
            fail(f"{what}: Failed came after {time.monotonic() - t0:.1f} s, given 0.5 s")
        return
    fail(f"{what}: read_pidfile returned {got!r}, want Failed")


def main():
    hosts = load_hosts(sys.argv[1])
    if not hasattr(hosts, "read_pidfile"):
        fail("bench/hosts has no read_pidfile(path, seconds)")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "empty_then_written.pid")
        open(p, "w").close()
        t = later(0.3, lambda: append(p, "4242\n"))
        t0 = time.monotonic()
        got = hosts.read_pidfile(p, 5)
        t.join()
        if got != 4242:
            fail(f"empty then written: got {got!r}, want 4242")
        if time.monotonic() - t0 < 0.25:
            fail("empty then written: returned before the write")

        p = os.path.join(d, "two_parts.pid")
        append(p, "12")
        t = later(0.3, lambda: append(p, "34\n"))
        got = hosts.read_pidfile(p, 5)
        t.join()
        if got != 1234:
            fail(f"written in two parts: got {got!r}, want 1234")

        p = os.path.join(d, "stays_empty.pid")
        open(p, "w").close()
        expect_failed(hosts, p, "a file that stays empty")
        p = os.path.join(d, "garbage.pid")
        append(p, "sshd\n")
        expect_failed(hosts, p, "a file without a number")
        expect_failed(hosts, os.path.join(d, "never.pid"), "a file that never appears")
    print("ok: read_pidfile waits for a whole line and fails clearly without one")


if __name__ == "__main__":
    main()
