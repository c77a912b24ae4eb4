"""remote.py - bench/run's load from other hosts: loadgens over ssh, one window agreed by clock.

With --clients H1,H2,... the server and all its counting stay on this host and a loadgen runs on
each client host, started by OpenSSH (BatchMode: the user's keys and config, or --ssh-config F;
nothing of ours runs there but the loadgen). What a local run gets from its one loadgen, this
module gets from K of them:

- Where: every target must be on loopback (127.0.0.0/8) or in the benchmarking range
  198.18.0.0/15 (bench/hosts' namespaces), as a numeric address (ssh -G says what a name becomes),
  unless --any-network says the user means real machines. Refused before any packet is sent.
- When: each host's clock offset is measured over ssh (clocks.py) and a host whose offset is not
  known to within OFFSET_MAX_NS, or is further off than that, is refused: its window would not be
  the others'. Each loadgen gets the same instant on its own clock (--start-at, the warm-up's
  start), and a thread here (Marker) does what a local loadgen's --server-pid and --perf-ctl do,
  at the window's two edges on this host's clock: perf enable then the server's SIGUSR1, the
  server's SIGUSR1 then perf disable. The server's two snapshots so bracket the same window as the
  loadgens', to within the offsets' bounds.
- What: the N connections, the M active and the rate are dealt across the hosts (deal), each host
  a share as even as integers allow; its JSON and histogram come back over ssh, are kept per host,
  and merge (loadgens.py) into the row's loadgen result.
- Which loadgen: --remote-loadgen PATH (already there), or this build's, copied into a temporary
  directory on each host after checking that the host's architecture (uname -m) is this one's; the
  directory (results too) is removed at the end. Each host's kernel, CPU, cores and loadgen commit
  go into the rows.

Local is the same for K loadgens on this host, when N is more than one process may hold fds
(bench/run without --clients): no ssh, no clock offsets, each pinned to the loadgen's CPU and in
its cgroup, with source addresses of its own.

Nothing waits without a deadline: ssh has ConnectTimeout and BatchMode, every remote command has
a timeout here and a timeout(1) there, and a host that refuses makes `failed:ssh` rows (Setup.status,
the reason on stderr and in rows.json), never a hang.
"""
import ipaddress
import json
import os
import platform
import re
import select
import shlex
import signal
import subprocess
import threading
import time

import clocks
import loadgens

OFFSET_MAX_NS = 1_000_000  # 1 ms: beyond this two hosts' windows are not one window
ALLOWED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("198.18.0.0/15"))
SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3"]
CMD_S = 30  # a setup or fetch command over ssh that takes longer has failed
# Past about half of the ephemeral port range, connect() from one source address slows from about
# 50 us to 4 ms (issue 18: the kernel prefers even ports for connect and scans that half first):
# a host dealt more connections than this is said in the row, since its connect phase pays it.
KNEE_SHARE = 0.45


def knee_connections():
    """The connections one source address makes before the connect knee, from this host's port
    range (the clients' ranges are not known here; Linux's default is the same everywhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    return int((hi - lo + 1) * KNEE_SHARE)


class RemoteError(Exception):
    """One line: which host, and what went wrong."""


def ssh_argv(cfg, host):
    return ["ssh", *(["-F", cfg] if cfg else []), *SSH_OPTS, host]


def ssh(cfg, host, command, stdin=None, timeout=CMD_S):
    """Runs command (a shell line) on host -> its stdout; RemoteError on failure or timeout."""
    try:
        p = subprocess.run([*ssh_argv(cfg, host), command], input=stdin, capture_output=True, timeout=timeout,
                           stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{host}: '{command[:60]}' took more than {timeout} s") from None
    except OSError as e:
        raise RemoteError(f"{host}: ssh: {e}") from None
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace").strip().splitlines()
        raise RemoteError(f"{host}: {err[-1] if err else f'exit {p.returncode}'}"
                          + (" (ssh could not connect)" if p.returncode == 255 else ""))
    return p.stdout


def resolved(cfg, host):
    """The address ssh connects to for host (ssh -G's hostname), without connecting."""
    try:
        p = subprocess.run(["ssh", *(["-F", cfg] if cfg else []), "-G", host], capture_output=True, text=True,
                           timeout=CMD_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as e:
        raise RemoteError(f"{host}: ssh -G: {e}") from None
    if p.returncode != 0:
        raise RemoteError(f"{host}: ssh -G: {(p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1]}")
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        if k == "hostname":
            return v.strip()
    raise RemoteError(f"{host}: ssh -G names no hostname")


def allowed(addr):
    """None if addr is a numeric address in loopback or 198.18.0.0/15, else why not."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return f"'{addr}' is not a numeric address"
    if not any(ip in net for net in ALLOWED):
        return f"{addr} is outside 127.0.0.0/8 and 198.18.0.0/15"
    return None


def check_targets(cfg, hosts, server_addr, any_network):
    """-> {host: address}; RemoteError (a usage error for bench/run) for a target it refuses."""
    addrs = {h: resolved(cfg, h) for h in hosts}
    if not any_network:
        for what, addr in [("--server-addr", server_addr)] + [(f"client {h}", a) for h, a in addrs.items()]:
            why = allowed(addr)
            if why:
                raise RemoteError(f"{what}: {why}; only loopback and bench/hosts' namespaces are targets unless "
                                  "--any-network says these are real machines you may load")
    return addrs


def deal(total, k, least=0):
    """total split into k integer shares as even as can be, the larger ones first."""
    q, r = divmod(total, k)
    shares = [q + (i < r) for i in range(k)]
    if min(shares) < least:
        raise RemoteError(f"{total} cannot be dealt across {k} hosts with at least {least} each")
    return shares


def loads(connections, active, rate, k):
    """[(n_i, m_i, rate_i or None)] for k hosts: each host's M share within its N share."""
    n = deal(connections, k, 1)
    m = deal(active, k, 1)
    if any(mi > ni for mi, ni in zip(m, n)):
        raise RemoteError(f"--active {active} dealt across {k} hosts exceeds a host's share of --connections")
    r = deal(rate, k, 1) if rate else [None] * k
    return list(zip(n, m, r))


def duration_ns(v):
    """bench/run's duration text (5s, 0.5s, 500ms) -> nanoseconds, as the loadgen reads it."""
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s)?", v)
    if not m:
        raise ValueError(f"not a duration: {v}")
    return int(float(m.group(1)) * (1_000_000 if m.group(2) == "ms" else 1_000_000_000))


class Setup:
    """What bench/run learns of its client hosts before the first repetition: addresses, clock
    offsets, environments, and each host's temporary directory with the loadgen in it. status is
    "ok", or the failed:<reason> every planned row gets (reason: one line, said on stderr)."""

    def __init__(self, cfg, hosts, addrs, server_addr, local_loadgen, remote_loadgen, commit):
        self.cfg, self.hosts, self.addrs, self.server_addr = cfg, hosts, addrs, server_addr
        self.local_loadgen, self.remote_loadgen, self.commit = local_loadgen, remote_loadgen, commit
        self.status, self.reason = "ok", None
        self.env = []  # per host, in order: rows.json's "clients"
        self.dirs = {}  # host -> its temporary directory there

    def prepare(self):
        try:
            for h in self.hosts:
                self.env.append(self.prepare_one(h))
        except RemoteError as e:
            self.status, self.reason = e.args[1] if len(e.args) > 1 else "failed:ssh", str(e.args[0])
        except clocks.ClockError as e:
            self.status, self.reason = "failed:ssh", str(e)
        return self

    def prepare_one(self, h):
        info = ssh(self.cfg, h, "uname -srm; nproc; sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1; "
                   "mktemp -d /tmp/muxbench-lg.XXXXXX").decode(errors="replace").splitlines()
        if len(info) < 4:
            raise RemoteError(f"{h}: uname, nproc, cpuinfo and mktemp said {len(info)} lines, not 4")
        kernel, cores, cpu, tmp = info[0].strip(), info[1].strip(), info[2].strip(), info[-1].strip()
        if not tmp.startswith("/tmp/muxbench-lg."):
            raise RemoteError(f"{h}: mktemp gave '{tmp}'")
        self.dirs[h] = tmp
        arch = kernel.split()[-1] if kernel else ""
        env = {"host": h, "address": self.addrs[h], "kernel": " ".join(kernel.split()[1:2]), "arch": arch,
               "cores": int(cores) if cores.isdigit() else None, "cpu_model": cpu or None}
        if self.remote_loadgen:
            path = self.remote_loadgen
            env["loadgen"] = path
            env["loadgen_commit"] = None  # the user's binary: this harness cannot tell its commit
            ssh(self.cfg, h, f"test -x {shlex.quote(path)}")
        else:
            if arch != platform.machine():
                raise RemoteError(f"{h}: its architecture is {arch or 'unknown'}, this build's loadgen is "
                                  f"{platform.machine()}: give --remote-loadgen PATH built there", "failed:client_arch")
            path = f"{tmp}/loadgen"
            with open(self.local_loadgen, "rb") as f:
                ssh(self.cfg, h, f"cat > {path} && chmod 700 {path}", stdin=f.read())
            env["loadgen"] = "copied"
            env["loadgen_commit"] = self.commit
        env["loadgen_path"] = path
        off = clocks.measure(ssh_argv(self.cfg, h))
        env.update(offset_ns=off.offset_ns, offset_bound_ns=off.bound_ns, clock_rtt_ns=off.rtt_ns)
        if off.bound_ns > OFFSET_MAX_NS or abs(off.offset_ns) > OFFSET_MAX_NS:
            raise RemoteError(f"{h}: its clock is {off.offset_ns / 1e6:+.3f} ms from this host's, known to "
                              f"+-{off.bound_ns / 1e6:.3f} ms; beyond 1 ms the hosts' windows are not one window "
                              "(synchronise the clocks: chrony or ntpd)", "failed:clock_offset")
        return env

    def command(self, i, share, c, port, start, limit, name, js_path, hist_path):
        """Host i's ssh command: its loadgen at its own clock's start, results in its directory."""
        h, d = self.hosts[i], self.dirs[self.hosts[i]]
        argv = loadgen_argv(c, self.env[i]["loadgen_path"], share, self.server_addr, port,
                            start + self.env[i]["offset_ns"], f"{d}/{name}.json", f"{d}/{name}.hist")
        return [*ssh_argv(self.cfg, h), shlex.join(["timeout", "-k", "5", str(limit), *argv])]

    def fetch(self, i, name, js_path, hist_path):
        h, d = self.hosts[i], self.dirs[self.hosts[i]]
        for there, here in ((f"{d}/{name}.json", js_path), (f"{d}/{name}.hist", hist_path)):
            data = ssh(self.cfg, h, f"cat {shlex.quote(there)} && rm -f {shlex.quote(there)}")
            with open(here, "wb") as f:
                f.write(data)

    def lead(self, shares):
        """How far ahead of now the warm-up starts: ssh and the loadgen's start, then the connect
        phase of the busiest host (about 50 us a connection below the knee; 200 us allowed)."""
        return 3_000_000_000 + max(n for n, _, _ in shares) * 200_000

    def cleanup(self):
        for h, d in self.dirs.items():
            try:
                ssh(self.cfg, h, f"rm -rf {shlex.quote(d)}", timeout=15)
            except RemoteError:
                pass
        self.dirs = {}


class Marker(threading.Thread):
    """The window's edges on this host's clock, done as loadgen/window.c's mark_window does them:
    at start perf's "enable" (acknowledged), then the server's SIGUSR1; at the end SIGUSR1, then
    "disable". ctl, ack: perf's control fifos (None: no perf); pid: the server's (None: it keeps no
    snapshots). Records each edge's CLOCK_MONOTONIC instant (start_ns, end_ns), the sampler's clock."""

    def __init__(self, start_realtime_ns, window_ns, pid, ctl=None, ack=None):
        super().__init__(daemon=True)
        self.t0, self.window_ns, self.pid, self.ctl, self.ack = start_realtime_ns, window_ns, pid, ctl, ack
        self.start_ns = self.end_ns = None
        self.problems = []
        self.cancelled = threading.Event()

    def sleep_until(self, real_ns):
        # the wall clock read once, the wait on the monotonic one (a clock step must not move it)
        target = time.monotonic_ns() + (real_ns - time.time_ns())
        while not self.cancelled.is_set():
            left = target - time.monotonic_ns()
            if left <= 0:
                return True
            if left <= 2_000_000:
                # the last 2 ms slept, not spun: bench/run is not pinned, and a spin could take the
                # server's CPU at the very edge of its window (clock_nanosleep: tens of us late)
                time.sleep(left / 1e9)
                return True
            self.cancelled.wait(min(left / 1e9 - 0.002, 0.05))
        return False

    def perf(self, fds, cmd):
        if fds is None:
            return
        ctl, ack = fds
        try:
            os.write(ctl, cmd)
            r, _, _ = select.select([ack], [], [], 2.0)
            if not r or not os.read(ack, 16):
                self.problems.append(f"perf did not acknowledge {cmd.decode().strip()} within 2 s")
        except OSError as e:
            self.problems.append(f"perf control: {e}")

    def signal_server(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except OSError as e:
            self.problems.append(f"SIGUSR1 to the server: {e}")

    def run(self):
        fds = None
        try:
            if self.ctl:
                fds = (os.open(self.ctl, os.O_WRONLY | os.O_NONBLOCK), os.open(self.ack, os.O_RDONLY | os.O_NONBLOCK))
        except OSError as e:
            self.problems.append(f"perf control fifo: {e}")
            fds = None
        try:
            if not self.sleep_until(self.t0):
                return
            self.perf(fds, b"enable\n")
            self.signal_server()
            self.start_ns = time.monotonic_ns()
            if not self.sleep_until(self.t0 + self.window_ns):
                return
            self.end_ns = time.monotonic_ns()
            self.signal_server()
            self.perf(fds, b"disable\n")
        finally:
            for fd in fds or ():
                os.close(fd)


# How long each loadgen holds its connections after its window: the Marker's end snapshot is taken
# on the harness's clock and can land a few ms after a loadgen's own end (a sleep on a loaded VM
# wakes late); closing first took connections out of the server's count (CI: 1,493 of 1,500 held).
LINGER = "250ms"


def loadgen_argv(c, path, share, addr, port, start_at, json_path, hist_path):
    """One part's loadgen command line (without the timeout around it)."""
    n, m, r = share
    argv = [path, "--host", addr, "--port", str(port), "--connections", str(n), "--active", str(m),
            "--size", str(c.size), "--pipeline", str(c.pipeline), "--duration", c.duration, "--warmup", c.warmup, "--start-at", str(start_at),
            "--linger", LINGER, "--json", json_path, "--hist", hist_path]
    if r:
        argv += ["--rate", str(r)] + (["--tick", c.tick] if c.tick else [])
    return argv


class Local:
    """K loadgens on this host, for more connections than one process may hold fds (bench/run
    without --clients, past RLIMIT_NOFILE): the same window, marked the same way, each loadgen
    pinned to the loadgen's CPU with source addresses of its own (sources[i]: a comma list), so
    that no address connects past the knee."""

    local = True

    def __init__(self, k, sources, cpu, loadgen):
        self.hosts = [f"local{i + 1}" for i in range(k)]
        self.sources, self.cpu, self.loadgen = sources, cpu, loadgen
        self.env = [{"host": h, "sources": src, "offset_ns": 0} for h, src in zip(self.hosts, sources)]
        self.status, self.reason, self.dirs = "ok", None, {}

    def command(self, i, share, c, port, start, limit, name, js_path, hist_path):
        argv = loadgen_argv(c, self.loadgen, share, "127.0.0.1", port, start, js_path, hist_path)
        return ["taskset", "-c", self.cpu, "timeout", "-k", "5", str(limit), *argv, "--source", self.sources[i]]

    def fetch(self, i, name, js_path, hist_path):
        pass  # written here already

    def lead(self, shares):
        """Every part connects on one CPU at once: the whole N's connect phase (100 us each)."""
        return 3_000_000_000 + sum(n for n, _, _ in shares) * 100_000

    def cleanup(self):
        pass


def run_load(c, t, sup, spid, port, log, tag, hist_dir, ctl_ack, limit, step=None, preexec=None):
    """The K loadgens of one repetition, the Marker between them and the server; -> (status, notes).
    The merged result goes to log.loadgen.json (its window's start_ns and end_ns the Marker's, on
    the sampler's clock), the merged histogram to hist_dir/tag.hist, each host's beside them. step:
    called every 10 ms while the loadgens run (strace's attach at the server's snapshots); preexec:
    each local loadgen's, before exec (its cgroup)."""
    s = c.remote
    shares = c.shares
    start = time.time_ns() + s.lead(shares)
    window_ns = duration_ns(c.duration)
    warm_ns = duration_ns(c.warmup)
    ctl, ack = ctl_ack if ctl_ack else (None, None)
    marker = Marker(start + warm_ns, window_ns, spid.pid if t.stats_file else None, ctl, ack)
    marker.start()
    procs, paths = [], []
    for i in range(len(s.hosts)):
        name = f"{tag}.h{i + 1}"
        paths.append((name, f"{log}.loadgen.h{i + 1}.json", os.path.join(hist_dir, f"{name}.hist")))
        argv = s.command(i, shares[i], c, port, start, limit, *paths[-1])
        with open(f"{log}.loadgen.h{i + 1}.err", "w") as err:
            procs.append(sup.spawn(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err, preexec_fn=preexec))
    deadline = time.monotonic() + (start - time.time_ns()) / 1e9 + warm_ns / 1e9 + window_ns / 1e9 + limit + 15
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        if step:
            step()
        time.sleep(0.01)
    status = "ok"
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
            rc = 124
        else:
            rc = p.returncode
        if status != "ok":
            continue
        if rc == 255 and not getattr(s, "local", False):
            status = "failed:ssh"
        elif rc in (124, 137):
            status = "failed:loadgen_timeout"
        elif rc not in (0, 1):
            status = f"failed:loadgen_exit_{rc}"
    marker.cancelled.set()
    marker.join(5)
    parts, notes = [], list(marker.problems)
    for i, (name, js_path, hist_path) in enumerate(paths):
        try:
            s.fetch(i, name, js_path, hist_path)
            with open(js_path) as f:
                parts.append((json.load(f), hist_path))
        except (RemoteError, OSError, ValueError) as e:
            notes.append(f"{s.hosts[i]}: no result: {e}")
            if status == "ok":
                status = "failed:no_loadgen_result"
    if status == "ok" and (marker.start_ns is None or marker.end_ns is None):
        status = "failed:window_marks"
    if len(parts) != len(s.hosts):
        return status, notes
    try:
        merged = loadgens.merge(parts)
    except loadgens.MergeError as e:
        notes.append(str(e))
        return "failed:loadgen_merge" if status == "ok" else status, notes
    merged["window"].update(start_ns=marker.start_ns, end_ns=marker.end_ns, clock="harness")
    merged["config"]["threads"] = max((j.get("config") or {}).get("threads") or 1 for j, _ in parts)
    with open(os.path.join(hist_dir, f"{tag}.hist"), "w") as f:
        loadgens.write_hist(f, loadgens.merged_buckets(parts))
    with open(log + ".loadgen.json", "w") as f:
        json.dump(merged, f)
    return status, notes
