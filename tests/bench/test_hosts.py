#!/usr/bin/env python3
"""test_hosts.py - bench/hosts: test hosts that are network namespaces reached over ssh.

Real namespaces, real sshd, real ssh, real TCP:
  - usage errors exit 2 with one line and make nothing;
  - up 2 makes two hosts: ssh -F DIR/ssh_config hI lands in namespace muxbench-hI (the inode of
    /proc/self/ns/net over ssh is the namespace's), whose only address is 198.18.I.2;
  - from each host, over ssh, the loadgen reaches one echo-epoll bound to 198.18.1.1 (h1's link;
    h2 through its route to 198.18.0.0/15) and gets every byte back (a clean loadgen JSON:
    requests, no errors, none starved); no host has a route outside 198.18.0.0/15;
  - bench/lib/clocks.py over ssh to each finds an offset of 0 within its bound (one kernel, one
    clock);
  - up refuses to reuse its directory, and refuses a name that exists (a link called mbh1 made
    here), making nothing;
  - down removes every namespace, link and sshd up made, kills what still runs in a namespace (a
    sleep started there), removes the directory, and a second down is a no-op.

usage: test_hosts.py SOURCE_DIR BUILD_DIR   (exit 0 pass, 1 fail, 77 skip: not root, no OpenSSH
server, or this kernel/container does not allow network namespaces)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from verdict import fail, need_test_hosts

sys.path.insert(0, os.path.join(sys.argv[1], "bench", "lib"))
import clocks  # noqa: E402


def sh(*argv, timeout=60, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def names_exist():
    return [n for n in ("muxbench-h1", "muxbench-h2") if os.path.exists(f"/run/netns/{n}")] + \
           [n for n in ("mbh1", "mbh2") if os.path.exists(f"/sys/class/net/{n}")]


def sshds(d):
    return sh("pgrep", "-f", f"sshd -f {d}/").stdout.split()


def main():
    src, build = sys.argv[1], sys.argv[2]
    hosts = os.path.join(src, "bench", "hosts")
    need_test_hosts()

    tmp = tempfile.mkdtemp(prefix="muxbench-hosts-test.")
    d = os.path.join(tmp, "hosts")
    server = None
    try:
        for bad in (["up", "0", "--dir", d], ["up", "x", "--dir", d], ["sideways", "--dir", d], ["up"]):
            p = sh(hosts, *bad)
            if p.returncode != 2 or len(p.stderr.strip().splitlines()) != 1 or os.path.exists(d):
                fail(f"bench/hosts {' '.join(bad)}: exit {p.returncode}, want 2 with one line: {p.stderr!r}")

        p = sh(hosts, "up", "2", "--dir", d, timeout=120)
        if p.returncode != 0:
            fail(f"bench/hosts up 2: exit {p.returncode}: {p.stderr.strip()}")
        with open(os.path.join(d, "hosts.json")) as f:
            state = json.load(f)
        if [h["name"] for h in state["hosts"]] != ["h1", "h2"]:
            fail(f"hosts.json: {state['hosts']}")
        cfg = os.path.join(d, "ssh_config")

        loadgen = os.path.abspath(os.path.join(build, "loadgen", "loadgen"))
        # One server for every host, on the root namespace's end of h1's link: h2 reaches it through
        # its route to 198.18.0.0/15, and nothing listens on any other interface of this machine.
        server = subprocess.Popen([os.path.join(build, "servers", "echo-epoll"), "--port", "0", "--bind", "198.18.1.1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            fail(f"echo-epoll on 198.18.1.1 did not listen: {line!r}")
        port = line.strip().rsplit(":", 1)[1]
        for i, h in enumerate(state["hosts"], 1):
            want = os.stat(f"/run/netns/muxbench-h{i}").st_ino
            p = sh("ssh", "-F", cfg, h["name"], "readlink /proc/self/ns/net; ip -4 -o addr show scope global")
            if p.returncode != 0 or f"net:[{want}]" not in p.stdout:
                fail(f"ssh {h['name']} did not land in muxbench-h{i} (net:[{want}]): {p.stdout!r} {p.stderr!r}")
            addrs = [w.split("/")[0] for w in p.stdout.split() if w.count(".") == 3 and "/" in w]
            if addrs != [f"198.18.{i}.2"]:
                fail(f"{h['name']}'s addresses are {addrs}, want only 198.18.{i}.2")
            # No way out: a route lookup (no packet sent) for an address outside 198.18.0.0/15 fails.
            p = sh("ip", "netns", "exec", f"muxbench-h{i}", "ip", "route", "get", "192.0.2.1")
            if p.returncode == 0:
                fail(f"{h['name']} has a route outside 198.18.0.0/15: {p.stdout.strip()}")
            # Same kernel, same clock: over ssh, the offset is 0 within the measurement's own bound.
            o = clocks.measure(["ssh", "-F", cfg, h["name"]], probes=8)
            if abs(o.offset_ns) > o.bound_ns:
                fail(f"{h['name']}'s clock offset {o.offset_ns} ns exceeds its bound {o.bound_ns} ns")
            p = sh("ssh", "-F", cfg, h["name"], f"{loadgen} --host 198.18.1.1 --port {port} --connections 20 "
                   f"--active 5 --duration 0.5s --warmup 0.1s")
            if p.returncode != 0:
                fail(f"loadgen on {h['name']} against 198.18.1.1:{port}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
            r = json.loads(p.stdout)
            if not r.get("requests") or r.get("errors") or r.get("starved"):
                fail(f"loadgen on {h['name']}: {p.stdout[:500]}")
        server.terminate()
        server.wait(timeout=10)
        server = None

        p = sh(hosts, "up", "1", "--dir", d)
        if p.returncode != 1 or "exists" not in p.stderr:
            fail(f"up over a directory in use: exit {p.returncode}: {p.stderr!r}")

        # Something left running in a host: down must not leave it (nor be stopped by it).
        sleeper = subprocess.Popen(["ip", "netns", "exec", "muxbench-h1", "sleep", "600"])
        p = sh(hosts, "list", "--dir", d)
        if p.returncode != 0 or p.stdout.count(" alive") != 2:
            fail(f"list: {p.stdout!r} {p.stderr!r}")
        p = sh(hosts, "down", "--dir", d, timeout=120)
        if p.returncode != 0:
            fail(f"down: exit {p.returncode}: {p.stderr.strip()}")
        try:
            sleeper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fail("down left a process running in muxbench-h1")
        if names_exist() or sshds(d) or os.path.exists(d):
            fail(f"left behind: names {names_exist()}, sshd {sshds(d)}, dir {os.path.exists(d)}")
        p = sh(hosts, "down", "--dir", d)
        if p.returncode != 0:
            fail(f"a second down: exit {p.returncode}: {p.stderr!r}")

        # A name that exists already: refused, nothing made.
        if sh("ip", "link", "add", "mbh1", "type", "dummy").returncode == 0:
            try:
                p = sh(hosts, "up", "1", "--dir", d)
                if p.returncode != 1 or "mbh1" not in p.stderr or os.path.exists(d) or \
                        os.path.exists("/run/netns/muxbench-h1"):
                    fail(f"up with a link mbh1 present: exit {p.returncode}: {p.stderr!r}")
            finally:
                sh("ip", "link", "del", "mbh1")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        if os.path.exists(os.path.join(d, "hosts.json")):
            sh(hosts, "down", "--dir", d, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok: up 2, ssh lands in each namespace, loadgen over ssh echoes through each link, "
          "refusals, down leaves nothing")


if __name__ == "__main__":
    main()
