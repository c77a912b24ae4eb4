"""supervise.py - the processes of one bench/run, and the promise that none outlives it.

Every child bench/run starts (server, perf, strace, sampler, loadgen) goes through spawn(), which
registers it; cleanup() kills and reaps whatever is registered, removes the run's cgroups and
fifos, and is called after every repetition and, from bench/run's `finally`, on every way out:
an exception, SIGINT or SIGTERM (turned into Interrupted, but never between a child's fork and
its registration, so that no child can escape the list).
"""
import json
import os
import signal
import subprocess
import time


class Interrupted(Exception):
    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(p):
    """A reaped child's status as a shell reports it: a signal's death is 128 + the signal."""
    return 128 - p.returncode if p.returncode < 0 else p.returncode


class Supervisor:
    def __init__(self):
        self.procs = []
        self.dirs = []  # cgroups to rmdir
        self.files = []  # fifos to unlink
        self._holding = 0
        self._pending = None

    def on_signal(self, signum, _frame):
        if self._holding:
            self._pending = signum
            return
        raise Interrupted(signum)

    def install(self):
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, self.on_signal)

    def spawn(self, argv, group=False, **kw):
        """group: the child leads a process group of its own, and signals go to the whole group
        (a user's server started through a shell)."""
        self._holding += 1
        try:
            p = subprocess.Popen(argv, start_new_session=group, **kw)
            p.group = group
            self.procs.append(p)
            return p
        finally:
            self._holding -= 1
            if self._pending is not None and not self._holding:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)

    def cleanup(self):
        for p in self.procs:
            signal_tree(p, signal.SIGKILL)
        for p in self.procs:
            wait(p, 5)
        self.procs = []
        for d in self.dirs:
            # a cgroup whose last task was just reaped can stay busy for a moment
            poll_until(lambda: rmdir(d), 1, 0.02)
        for f in self.files:
            try:
                os.unlink(f)
            except OSError:
                pass
        self.dirs, self.files = [], []


def rmdir(d):
    """True once d is gone."""
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


def signal_tree(p, sig):
    """Signals p, and its process group when it leads one: timeout(1), between bench/run and the
    loadgen, makes itself a group leader, and killing timeout alone would orphan the loadgen."""
    if p.poll() is not None:
        return  # reaped: its pid may belong to someone else now
    try:
        if getattr(p, "group", False) or os.getpgid(p.pid) == p.pid:
            os.killpg(p.pid, sig)
        else:
            p.send_signal(sig)
    except ProcessLookupError:
        pass


def alive(p):
    return p is not None and p.poll() is None


def wait(p, seconds):
    """True when p has exited (and is reaped) within the deadline."""
    try:
        p.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def stop(p, sig, seconds):
    """Sends sig, waits up to seconds, then SIGKILL. -> True when sig alone ended it."""
    if not alive(p):
        return True
    signal_tree(p, sig)
    if wait(p, seconds):
        return True
    signal_tree(p, signal.SIGKILL)
    wait(p, 5)
    return False


def poll_until(pred, seconds, step=0.05, give_up=None):
    """Calls pred every step until it returns a true value, the deadline passes or give_up() is
    true; -> pred's last value."""
    deadline = time.monotonic() + seconds
    while True:
        v = pred()
        if v or time.monotonic() >= deadline or (give_up and give_up()):
            return v
        time.sleep(step)


def json_lines(path):
    """The objects of a file of JSON lines; a line cut short by a writer mid-write is skipped."""
    out = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out
