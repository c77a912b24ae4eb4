"""repetition.py - one repetition of bench/run: start, count, load, stop, then one row.

Start the server pinned to its CPU and wait for it to listen; move it into a cgroup of its own;
then, by the repetition's role: "own" (a published repetition) counts nothing more; "kernel"
starts the kernel's count of its syscalls with counting off (perf stat -D -1 --control fifo, or
strace); "profile" starts perf record the same way (bench/lib/profile.py's argv). Run the loadgen
pinned to the other CPU, in a cgroup of its own, with --server-pid (and --perf-ctl where perf
counts) so that perf's enable/disable and the server's two SIGUSR1 snapshots bracket exactly its
measured window, while row.py's sampler reads both cgroups; stop the counters, then the server
(SIGTERM must end it within 5 s); a profile rep's perf.data is summarized (profile.summarize:
logs/TAG.perf-report.txt stays) and deleted; build the row in this process (row.append).

With several loadgens (remote.py: K client hosts, or K loadgens here past one process's fds) none
gets --server-pid or --perf-ctl: remote.run_load starts them at one instant and its Marker does
what they would at the window's edges. A server's workers join its cgroup with it, so that perf's
count and the sampler's busy are of the whole server. /proc/net/sockstat (and slabinfo) is read
before the server starts and at its first snapshot (sockstat.py): rows.json's `sockstat`.

Every wait has a deadline. What goes wrong becomes the row's status: failed:server_start,
failed:loadgen_timeout, failed:loadgen_exit_N, failed:server_crashed, failed:server_hang,
failed:server_exit_N; exit 77 before the ready line is unsupported:kernel (the server says this
kernel cannot run it, a fact about the machine, not a failure).

A user's server (--server-cmd) keeps no stats file and has no SIGUSR1 handler (the signal would end
it): it gets no --server-pid, it is ready when it accepts a connection, ending by SIGTERM's default
action is a clean exit, and under strace this process plays perf's control fifo itself to attach
strace at the loadgen's window.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import remote
import row
import sockstat
from supervise import alive, exit_code, json_lines, poll_until, stop, wait

START_S = 10  # a server that is not listening by then has failed to start
STEP_S = 0.01  # how often the loop looks at the stats file or the control fifo while the loadgen runs
# perf record writes out its buffers (and the build ids of what it sampled) after SIGINT: seconds,
# not the instant perf stat takes
RECORD_STOP_S = 60


def free_port():
    """A port nothing listens on now (the kernel's pick for a bind to port 0), for a user's server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port, addr="127.0.0.1"):
    try:
        with socket.create_connection((addr, port), timeout=0.2):
            return True
    except OSError:
        return False


def announced_port(path):
    try:
        with open(path) as f:
            m = re.search(r"^listening on .*:([0-9]+)$", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def snapshots(stats):
    return sum(1 for x in json_lines(stats) if isinstance(x, dict) and x.get("type") == "snapshot")


def reported_variant(stats, fallback):
    """The variant the server wrote in its stats file (its last), else bench/run's guess."""
    names = [x["variant"] for x in json_lines(stats) if isinstance(x, dict) and isinstance(x.get("variant"), str)]
    return names[-1] if names and names[-1] else fallback


class StraceAtSnapshots:
    """strace cannot be switched on and off: attach it when the window's first snapshot appears and
    stop it at the second, so that it counts about the same window."""

    def __init__(self, sup, stats, counts, pid):
        self.sup, self.stats, self.counts, self.pid = sup, stats, counts, pid
        self.proc, self.stopped = None, False

    def step(self):
        if self.stopped:
            return
        n = snapshots(self.stats)
        if self.proc is None and n >= 1:
            self.proc = self.sup.spawn(["strace", "-c", "-f", "-o", self.counts, "-p", str(self.pid)],
                                       stderr=subprocess.DEVNULL)
        if self.proc is not None and n >= 2:
            self.proc.send_signal(signal.SIGINT)
            self.stopped = True

    def finish(self):
        poll_until(lambda: self.step() or self.stopped, 5, STEP_S)
        if self.proc is not None:
            stop(self.proc, signal.SIGINT, 5)


class StraceAtFifo:
    """For a server without snapshots: this process reads the loadgen's --perf-ctl commands as perf
    would, attaching strace at "enable" and stopping it at "disable", and acknowledges each."""

    def __init__(self, sup, ctl, ack, counts, pid):
        self.sup, self.counts, self.pid = sup, counts, pid
        # O_RDWR, as perf opens them: the loadgen's non-blocking opens then find a peer
        self.ctl = os.open(ctl, os.O_RDWR | os.O_NONBLOCK)
        self.ack = os.open(ack, os.O_RDWR | os.O_NONBLOCK)
        self.proc, self.buf = None, b""

    def step(self):
        try:
            self.buf += os.read(self.ctl, 256)
        except BlockingIOError:
            return
        while b"\n" in self.buf:
            cmd, self.buf = self.buf.split(b"\n", 1)
            if cmd == b"enable" and self.proc is None:
                self.proc = self.sup.spawn(["strace", "-c", "-f", "-o", self.counts, "-p", str(self.pid)],
                                           stderr=subprocess.DEVNULL)
            elif cmd == b"disable" and alive(self.proc):
                self.proc.send_signal(signal.SIGINT)
            os.write(self.ack, b"ack\n")

    def finish(self):
        if self.proc is not None:
            stop(self.proc, signal.SIGINT, 5)
        os.close(self.ctl)
        os.close(self.ack)


def start_server(c, t, sup, log, stats):
    """-> (process, port, status). c needs server_cpu; server_addr where it is not loopback (bench/tax
    passes only the CPU)."""
    addr = getattr(c, "server_addr", "127.0.0.1")
    out, err = open(log + ".server.out", "w"), open(log + ".server.err", "w")
    with out, err:
        if t.cmd:
            port = free_port()
            argv = [a.replace("{port}", str(port)) for a in t.cmd]
        else:
            port, argv = None, [t.path, "--port", "0", "--stats", stats, *t.args]
            if addr != "127.0.0.1":  # --clients: where they connect (the server warns, as it should)
                argv += ["--bind", addr]
        p = sup.spawn(["taskset", "-c", c.server_cpu, *argv], group=bool(t.cmd), stdout=out, stderr=err)
    ready = (lambda: accepts(port, addr)) if t.cmd else (lambda: announced_port(log + ".server.out"))
    got = poll_until(ready, START_S, 0.05, give_up=lambda: not alive(p))
    if not got:
        got = ready()  # it may have said so and exited in the same instant
    if got:
        return p, port if t.cmd else got, "ok"
    if not alive(p) and exit_code(p) == 77 and not t.cmd:
        return p, None, "unsupported:kernel"
    return p, None, "failed:server_start"


def descendants(pid):
    """Every process below pid (a server's workers, forked before it said it listens)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def into_cgroup(path, pid):
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write(str(pid))
        return True
    except OSError:
        return False


def start_perf(c, sup, log, counts, target, ctl, ack):
    return start_controlled(sup, log, ["perf", "stat", "-x,", "-e", c.events, "-D", "-1", "--control",
                                       f"fifo:{ctl},{ack}", "-o", counts, *target], ctl, ack)


def start_controlled(sup, log, argv, ctl, ack):
    """perf (stat or record) with counting off until the loadgen's "enable" on the fifo ctl, each
    command acknowledged on ack; -> the process, once it reads the fifo (or has died)."""
    for f in (ctl, ack):
        if os.path.exists(f):
            os.unlink(f)
        os.mkfifo(f)
        sup.files.append(f)
    with open(log + ".perf.err", "w") as err:
        p = sup.spawn(argv, stderr=err)

    # perf holds the fifo open once it is ready; until then a non-blocking open for writing fails.
    def ready():
        try:
            os.close(os.open(ctl, os.O_WRONLY | os.O_NONBLOCK))
            return True
        except OSError:
            return False
    poll_until(ready, 25, 0.05, give_up=lambda: not alive(p))
    return p


def summarize(c, t, data, log):
    """perf record's data -> profile.summarize's summary (None if it failed: why, in the log), and
    the data deleted: a second of a busy server is tens of megabytes."""
    summary = None
    try:
        if os.path.getsize(data) > 0:
            summary = c.profile.summarize(data, log + ".perf-report.txt", t.checks)
    except Exception as e:  # noqa: BLE001 - whatever went wrong becomes the row's status, said in the log
        with open(log + ".perf.err", "a") as err:
            print(f"bench/run: profile.summarize: {type(e).__name__}: {e}", file=err)
    finally:
        for f in (data, data + ".old"):
            if os.path.exists(f):
                os.unlink(f)
    return summary


def run_one(c, t, sup, rep, progress=None, role="kernel", suffix=""):
    """One repetition -> its row. c: bench/run's settings; t: what to run (bench/run's target);
    progress: the progress line's "I/N ..." (default rep/reps); role: "own" (nothing counts but
    the server), "kernel" (perf stat or strace counts its syscalls too) or "profile" (perf record
    samples it); suffix: what the tag gets after the rep (bench/run: "", "-k", "-p"), so that the
    roles' runs, which share reps, overwrite nothing of each other.

    t.side is None for a plain run, "head" or "base" for a pair of --base-build: it becomes the
    rows.json field `build`, and the base run's files and cgroups get "-base" after the rep and
    suffix, for the same reason."""
    status = c.status
    if role == "profile" and status == "ok":
        status = c.record  # unsupported:perf_record where perf cannot sample
    run = f"{rep}{suffix}-base" if t.side == "base" else f"{rep}{suffix}"
    where = c.row_placement.replace(":", "")  # remote:2 -> remote2: no colon in a file name
    tag = f"{t.server}-{t.variant}-n{c.connections}-m{c.active}-{c.mode}{c.rate or ''}-{where}-r{run}"
    log = os.path.join(c.out, "logs", tag)
    stats, counts = log + ".stats.jsonl", f"{log}.{c.counter}"
    lgjson, busy = log + ".loadgen.json", log + ".busy.jsonl"
    for name in os.listdir(os.path.dirname(log)):
        if name.startswith(tag + "."):
            os.unlink(os.path.join(os.path.dirname(log), name))

    spid = port = None
    # the kernel's TCP sockets and their memory: now, and once every connection is open (the
    # server's first snapshot, at the window's start)
    probe = sockstat.Probe(lambda: t.stats_file and snapshots(stats) >= 1)
    if status == "ok":
        spid, port, status = start_server(c, t, sup, log, stats)

    # The server's cgroup (perf's scope, and the sampler's); the loadgen's is filled when it starts.
    cg = lgcg = None
    if status == "ok" and c.cg_root:
        path = os.path.join(c.cg_root, f"muxbench-{os.getpid()}-{run}")
        try:
            os.mkdir(path)
            sup.dirs.append(path)
            cg = path if into_cgroup(path, spid.pid) else None  # fails only if the server already died
            # its workers too: perf counts the cgroup, and the sampler's busy is the cgroup's
            for kid in descendants(spid.pid) if cg else ():
                into_cgroup(path, kid)
        except OSError:
            pass
        path = os.path.join(c.cg_root, f"muxbench-{os.getpid()}-{run}-loadgen")
        try:
            os.mkdir(path)
            sup.dirs.append(path)
            lgcg = path
        except OSError:
            pass

    perf = strace = record = None
    data = log + ".perf.data"
    lgextra = []
    ctl, ack = os.path.join(c.fifos, f"ctl.{run}"), os.path.join(c.fifos, f"ack.{run}")
    if status == "ok" and role == "profile":
        target = ["-a", "-G", os.path.basename(cg)] if c.perf_scope == "cgroup" and cg else ["-p", str(spid.pid)]
        record = start_controlled(sup, log, c.profile.record_argv(data, target, ctl, ack), ctl, ack)
        lgextra = ["--perf-ctl", f"{ctl},{ack}"]
    elif status == "ok" and role == "kernel":
        if c.counter == "perf":
            target = ["-a", "--for-each-cgroup", os.path.basename(cg)] if c.perf_scope == "cgroup" and cg \
                else ["-p", str(spid.pid)]
            perf = start_perf(c, sup, log, counts, target, ctl, ack)
            lgextra = ["--perf-ctl", f"{ctl},{ack}"]
        elif t.stats_file:
            strace = StraceAtSnapshots(sup, stats, counts, spid.pid)
        else:
            for f in (ctl, ack):
                os.mkfifo(f)
                sup.files.append(f)
            strace = StraceAtFifo(sup, ctl, ack, counts, spid.pid)
            lgextra = ["--perf-ctl", f"{ctl},{ack}"]

    remote_notes = []
    if status == "ok" and c.remote:
        # the loadgens are on the clients, or several here: the harness marks the window for perf
        # and the server (remote.Marker)
        limit = c.warmup_s + c.window_s + sum(n for n, _, _ in c.shares) // 500 + 60
        cgargs = ["--cgroup", f"server={cg}"] if cg else []
        if lgcg and not c.clients:
            cgargs += ["--cgroup", f"loadgen={lgcg}"]
        sampler = None
        if cgargs:
            with open(log + ".sampler.err", "w") as err:
                sampler = sup.spawn(["taskset", "-c", c.loadgen_cpu, sys.executable, c.row_py, "sample", "--out", busy,
                                     *cgargs], stderr=err)
        def step():
            probe.step()
            if strace:
                strace.step()
        status, remote_notes = remote.run_load(c, t, sup, spid, port, log, tag, os.path.join(c.out, "hist"),
                                               (ctl, ack) if lgextra else None, limit, step,
                                               preexec=(lambda: into_cgroup(lgcg, os.getpid())) if lgcg else None)
        for n in remote_notes:
            print(f"bench/run: {tag}: {n}", file=sys.stderr)
        if sampler:
            stop(sampler, signal.SIGTERM, 5)
        if not alive(spid):
            status = "failed:server_crashed"
    elif status == "ok":
        limit = c.warmup_s + c.window_s + c.connections // 500 + 60
        cgargs = []
        if cg:
            cgargs += ["--cgroup", f"server={cg}"]
        if lgcg:
            cgargs += ["--cgroup", f"loadgen={lgcg}"]
        sampler = None
        if cgargs:
            # on the loadgen's CPU, in neither cgroup; wakes every 20 ms for a few file reads
            with open(log + ".sampler.err", "w") as err:
                sampler = sup.spawn(["taskset", "-c", c.loadgen_cpu, sys.executable, c.row_py, "sample",
                                     "--out", busy, *cgargs], stderr=err)
        argv = ["taskset", "-c", c.loadgen_cpu, "timeout", "-k", "5", str(limit), c.loadgen,
                "--port", str(port), "--connections", str(c.connections), "--active", str(c.active),
                "--size", str(c.size), "--pipeline", str(c.pipeline), "--duration", c.duration, "--warmup", c.warmup]
        if c.rate:
            argv += ["--rate", str(c.rate)] + (["--tick", c.tick] if c.tick else [])
        if c.sources:
            argv += ["--source", c.sources]
        if t.stats_file:
            argv += ["--server-pid", str(spid.pid)]
        argv += [*lgextra, "--json", lgjson, "--hist", os.path.join(c.out, "hist", tag + ".hist")]

        def join_cgroup():  # in the child, before exec: the loadgen starts inside its cgroup
            if lgcg:
                into_cgroup(lgcg, os.getpid())
        with open(log + ".loadgen.err", "w") as err:
            lg = sup.spawn(argv, stderr=err, preexec_fn=join_cgroup)
        deadline = time.monotonic() + limit + 15  # timeout(1) ends it by limit + 5
        while lg.poll() is None and time.monotonic() < deadline:
            probe.step()
            if strace:
                strace.step()
            time.sleep(STEP_S)
        if not wait(lg, 0):
            stop(lg, signal.SIGKILL, 5)
        lrc = exit_code(lg)
        if sampler:
            stop(sampler, signal.SIGTERM, 5)
        if lrc in (0, 1):
            pass  # 1: errors or starved connections, which the row reads from the JSON
        elif lrc in (124, 137):
            status = "failed:loadgen_timeout"
        else:
            status = f"failed:loadgen_exit_{lrc}"
        if not alive(spid):
            status = "failed:server_crashed"

    # Stop the counters, then the server: SIGTERM must end it (exit 0) within 5 s.
    if perf:
        stop(perf, signal.SIGINT, 5)
    if record:
        if not stop(record, signal.SIGINT, RECORD_STOP_S) and status == "ok":
            status = "failed:perf_record"
    if strace:
        strace.finish()
    if spid is not None and alive(spid):
        if not stop(spid, signal.SIGTERM, 5):
            if status == "ok":
                status = "failed:server_hang"
        elif status == "ok":
            rc = exit_code(spid)
            if rc != 0 and not (t.cmd and rc == 128 + signal.SIGTERM):
                status = f"failed:server_exit_{rc}"
    sup.cleanup()

    summary = None
    if record:
        summary = summarize(c, t, data, log)
        if summary is None and status == "ok":
            status = "failed:perf_record"  # no data, or none that profile.py could read: logs/TAG.perf.err
    counted = role == "kernel"
    a = SimpleNamespace(out=c.out, server=t.server, variant=reported_variant(stats, t.variant),
                        connections=c.connections, active=c.active, size=c.size, pipeline=c.pipeline, rep=rep, rate=c.rate,
                        placement=c.row_placement, count_method=c.counter if counted else None, status=status,
                        stats=stats if t.stats_file else None, own_stats=t.stats_file,
                        perf=counts if counted else None, loadgen=lgjson, busy=busy,
                        progress=progress or f"{rep}/{c.reps}", counting=role, checks_kind=t.checks,
                        spins=t.spins, loops=t.loops, profile=summary)
    scope = c.perf_scope if (counted and c.counter == "perf") or record else None
    extra = {"tag": tag, "server_args": " ".join(t.args), "sources": c.sources,
             "tick": c.tick if c.rate else "", "perf_scope": scope}
    if status == "ok" and probe.during:
        extra["sockstat"] = probe.result(c.connections)
    if record and os.path.exists(log + ".perf-report.txt"):
        extra["perf_report"] = os.path.join("logs", tag + ".perf-report.txt")
    if c.remote and not c.clients:
        extra["loadgens"] = c.remote.env
        extra["client_shares"] = [{"host": h, "connections": n, "active": m, "rate": r}
                                  for h, (n, m, r) in zip(c.remote.hosts, c.shares)]
    if c.clients:
        extra["clients"] = c.remote.env if c.remote else [{"host": h} for h in c.clients]
        extra["client_shares"] = [{"host": h, "connections": n, "active": m, "rate": r}
                                  for h, (n, m, r) in zip(c.clients, c.shares)]
        extra["server_addr"] = c.server_addr
        if c.remote and c.remote.reason:
            extra["reason"] = c.remote.reason
        if remote_notes:
            extra["remote_notes"] = remote_notes
    if t.cmd:
        extra["server_cmd"] = c.server_cmd
    if t.side:
        extra["build"] = t.side
    r = row.append(a, extra)
    with open(log + ".row.json", "w") as f:
        json.dump(r, f)
        f.write("\n")
    return r
