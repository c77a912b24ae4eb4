#!/usr/bin/env python3
"""test_profile.py - bench/lib/profile.py: how a cpu-clock sample is classified and how perf
script's records are read (synthetic texts in perf's format), and one real recording: echo-poll
with 20 connections, recorded by the argv record_argv builds and driven by the loadgen's
--perf-ctl, whose summary must carry samples, shares that sum to 1, and the kernel's count of
poll's checks: every poll the window saw was asked about 22 fds (20 connections, the listener and
the wake-up fd), since the window starts after the warm-up, when all 20 are accepted.

usage: test_profile.py [unittest args, e.g. Parsing or Recording]   (BUILD: the build directory,
default ./build). Exit 0 pass, 1 fail, 77 when every test that ran was skipped (perf record cannot
run here: a fact about the machine).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import profile  # noqa: E402

K = "ffffffff8{:07x}"  # a kernel address, as perf script prints it


def sample(*syms, comm="echo-poll", tid=4242):
    """A cpu-clock record with a kernel call chain, leaf first (no symbols: a user-space sample)."""
    lines = [f"{comm} {tid}                     cpu-clock: "]
    lines += [f"\t{K.format(0x100000 + i)} {s}" for i, s in enumerate(syms)]
    return lines + [""]


def tracepoint(event, args, comm="echo-poll", tid=4242):
    return [f"       {comm} {tid}       {event}: {args}     7f936f5b0230 __poll"]


SYSCALL = ["do_syscall_64", "entry_SYSCALL_64_after_hwframe"]


class Classify(unittest.TestCase):
    def test_user(self):
        self.assertEqual(profile.classify([]), "user")
        self.assertEqual(profile.classify([(0x55d0c0001234, "serve"), (0x55d0c0000100, "main")]), "user")

    def kernel(self, *syms):
        return profile.classify([(int(K.format(i), 16), s) for i, s in enumerate(syms)])

    def test_recv_inside_io_uring_wait(self):
        # io_uring_enter runs the receive inline while it waits: that sample is the receive's
        self.assertEqual(self.kernel("_raw_spin_lock_bh", "lock_sock_nested", "tcp_recvmsg", "sock_recvmsg",
                                     "io_recv", "__io_issue_sqe", "io_poll_task_func", "io_cqring_wait",
                                     "__do_sys_io_uring_enter", *SYSCALL), "recv")

    def test_loopback_receive_inside_send(self):
        # the peer's softirq runs inside our send on loopback: counted as send
        self.assertEqual(self.kernel("_raw_spin_unlock_irqrestore", "sock_def_readable", "tcp_rcv_established",
                                     "tcp_v4_rcv", "net_rx_action", "handle_softirqs", "__dev_queue_xmit",
                                     "tcp_write_xmit", "tcp_sendmsg_locked", "tcp_sendmsg", "sock_write_iter",
                                     "vfs_write", *SYSCALL), "send")

    def test_waits(self):
        self.assertEqual(self.kernel("tcp_poll", "sock_poll", "do_sys_poll", "__x64_sys_poll", *SYSCALL), "wait")
        self.assertEqual(self.kernel("_raw_spin_unlock_irq", "do_epoll_wait", "__x64_sys_epoll_wait", *SYSCALL),
                         "wait")
        self.assertEqual(self.kernel("tcp_poll", "sock_poll", "ep_item_poll.isra.0", "ep_send_events",
                                     "ep_poll", "do_epoll_pwait.part.0", *SYSCALL), "wait")
        self.assertEqual(self.kernel("poll_freewait", "do_select", "core_sys_select", "do_pselect.constprop.0",
                                     *SYSCALL), "wait")

    def test_unknown_kernel_path(self):
        self.assertEqual(self.kernel("finish_task_switch.isra.0", "__schedule", "schedule",
                                     "exit_to_user_mode_loop", *SYSCALL), "kernel_other")
        # a name that only starts like a wait function is not one
        self.assertEqual(self.kernel("do_pollish", "do_sys_pollx", *SYSCALL), "kernel_other")


class Parsing(unittest.TestCase):
    def test_samples_and_tracepoints(self):
        text = (tracepoint("syscalls:sys_enter_poll", "ufds: 0x556767a0e730, nfds: 0x00000016, "
                           "timeout_msecs: 0xffffffff")
                + sample()  # user space: no kernel frame
                + sample("tcp_poll", "sock_poll", "do_sys_poll", *SYSCALL)
                + tracepoint("syscalls:sys_enter_poll", "ufds: 0x556767a0e730, nfds: 0x000003ea, "
                             "timeout_msecs: 0xffffffff")
                + sample("__pv_queued_spin_lock_slowpath", "tcp_recvmsg", "sock_recvmsg", "io_recv",
                         "io_cqring_wait", *SYSCALL, comm="echo uring x")  # a comm with spaces
                + tracepoint("syscalls:sys_exit_epoll_wait", "0x3")
                + tracepoint("syscalls:sys_exit_epoll_wait", "0xfffffffffffffffc")  # -EINTR: nothing delivered
                + tracepoint("syscalls:sys_exit_epoll_pwait", "0x2")
                + tracepoint("syscalls:sys_enter_pselect6", "n: 0x00000401, inp: 0x7ffc, outp: 0x7ffd, exp: 0x0, "
                             "tsp: 0x0, sig: 0x0")
                + tracepoint("io_uring:io_uring_complete", "ring 0xffff8881, req 0xffff8882, user_data 0x1, "
                             "result 64, cflags 0x3 extra1 0 extra2 0 ")
                + tracepoint("io_uring:io_uring_complete", "ring 0xffff8881, req 0xffff8883, user_data 0x2, "
                             "result -105, cflags 0x0 extra1 0 extra2 0 ")
                + ["       echo-poll 4242 PERF_RECORD_LOST lost 7"]
                + sample("finish_task_switch.isra.0", "__schedule", "schedule", "exit_to_user_mode_loop",
                         *SYSCALL)[:-1])  # the last record, with no empty line after it
        p = profile.parse_script(text)
        self.assertEqual(p["shares"], {"user": 1, "wait": 1, "recv": 1, "send": 0, "kernel_other": 1})
        self.assertEqual(p["samples"], 4)
        self.assertEqual(p["lost"], 7)
        tp = p["tracepoints"]
        self.assertEqual(tp["syscalls:sys_enter_poll"], {"events": 2, "sum": 22 + 1002})
        self.assertEqual(tp["syscalls:sys_exit_epoll_wait"], {"events": 2, "sum": 3})
        self.assertEqual(tp["syscalls:sys_exit_epoll_pwait"], {"events": 1, "sum": 2})
        self.assertEqual(tp["syscalls:sys_enter_pselect6"], {"events": 1, "sum": 1025})
        self.assertEqual(tp["io_uring:io_uring_complete"], {"events": 2, "sum": 2})

    def test_trace_values(self):
        self.assertEqual(profile.trace_value("syscalls:sys_enter_poll",
                                             "ufds: 0x00000010, nfds: 0x00000067, timeout_msecs: 0x00000000"), 0x67)
        self.assertEqual(profile.trace_value("syscalls:sys_exit_epoll_wait", "0x0"), 0)
        self.assertEqual(profile.trace_value("syscalls:sys_exit_epoll_pwait", "0xfffffffffffffffc"), -4)
        self.assertIsNone(profile.trace_value("syscalls:sys_enter_poll", "ufds: 0x00000010"))

    def test_kernel_checks_per_kind(self):
        text = (tracepoint("syscalls:sys_enter_poll", "ufds: 0x1, nfds: 0x00000005, timeout_msecs: 0x0") * 3
                + tracepoint("syscalls:sys_exit_epoll_pwait", "0x4") * 2
                + tracepoint("syscalls:sys_enter_pselect6", "n: 0x00000009, inp: 0x1, outp: 0x0, exp: 0x0, "
                             "tsp: 0x0, sig: 0x0")
                + tracepoint("io_uring:io_uring_complete", "ring 0x1, req 0x2, user_data 0x3, result 1, "
                             "cflags 0x0 extra1 0 extra2 0 ") * 6)
        tps = profile.parse_script(text)["tracepoints"]
        kc = profile.kernel_checks
        self.assertEqual((kc("nfds", tps, 0)["checks"], kc("nfds", tps, 0)["walked"]), (15, 15))
        self.assertEqual(kc("events", tps, 0)["checks"], 8)
        self.assertEqual(kc("none", tps, 0)["checks"], 8)  # libuv: epoll underneath
        self.assertEqual(kc("completions", tps, 0)["checks"], 6)
        s = kc("set_fds", tps, 0)
        self.assertEqual((s["checks"], s["walked"]), (None, 9))
        self.assertIn("not their bits", s["why_not"])
        r = kc("reads", tps, 0)
        self.assertEqual((r["checks"], r["walked"]), (None, None))
        self.assertIn("perf stat", r["why_not"])
        lost = kc("nfds", tps, 3)  # a count with holes in it is no count
        self.assertIsNone(lost["checks"])
        self.assertIn("lost 3", lost["why_not"])
        none = kc("completions", profile.parse_script([])["tracepoints"], 0)
        self.assertIsNone(none["checks"])
        self.assertIn("no io_uring:io_uring_complete", none["why_not"])

    def test_report_trimmed_to_cpu_clock(self):
        head = ["# To display the perf.data header info, please use --header/--header-only options.", "#",
                "# Total Lost Samples: 0", "#"]
        section = lambda ev, n: [f"# Samples: 1K of event '{ev}'", "# Event count (approx.): 99", "#",  # noqa: E731
                                 "# Overhead  Symbol", "# ........  ......", "#"] + \
            [f"     {50 - i / 10:.2f}%  [k] {ev.split(':')[-1]}_sym{i}" for i in range(n)] + ["", ""]
        text = "\n".join(head + section("cpu-clock", 40) + section("syscalls:sys_enter_poll", 3))
        out = profile.trim_report(text).splitlines()
        syms = [x for x in out if x.strip() and not x.startswith("#")]
        self.assertEqual(len(syms), profile.TOP)
        self.assertTrue(all("cpu-clock_sym" in x for x in syms), syms)
        self.assertIn("# Samples: 1K of event 'cpu-clock'", out)
        self.assertIn("# Total Lost Samples: 0", out)

    def test_record_argv(self):
        a = profile.record_argv("/d/p.data", ["-a", "-G", "muxbench-1-0"], "/f/ctl", "/f/ack")
        self.assertEqual(a[:2], ["perf", "record"])
        self.assertEqual(a[a.index("-o") + 1], "/d/p.data")
        self.assertEqual(a[a.index("-D") + 1], "-1")
        self.assertEqual(a[a.index("--control") + 1], "fifo:/f/ctl,/f/ack")
        self.assertNotIn("-F", a)  # it would make the tracepoints frequency-sampled
        self.assertIn(f"cpu-clock/freq={profile.FREQ},name=cpu-clock/", a)
        for tp in profile.TRACEPOINTS:
            self.assertIn(f"{tp}/call-graph=no/", a)
        # -G after every -e, one cgroup per event
        g = a.index("-G")
        self.assertGreater(g, max(i for i, x in enumerate(a) if x == "-e"))
        self.assertEqual(a[g + 1].split(","), ["muxbench-1-0"] * (1 + len(profile.TRACEPOINTS)))
        self.assertEqual(profile.record_argv("x", ["-p", 99], "c", "k")[-2:], ["-p", "99"])


def perf_records():
    """None when `perf record` can sample here, else why not (a fact about the machine)."""
    if not shutil.which("perf"):
        return "no perf"
    with tempfile.TemporaryDirectory() as d:
        try:
            p = subprocess.run(["perf", "record", "-q", "-o", os.path.join(d, "t.data"), "-e", "cpu-clock",
                                "--", "true"], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return "perf record -- true did not end"
        if p.returncode:
            return f"perf record cannot run here: {(p.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


class Recording(unittest.TestCase):
    CONNS = 20

    def setUp(self):
        why = perf_records()
        if why:
            self.skipTest(why)
        build = os.environ.get("BUILD", "build")
        self.server, self.loadgen = os.path.join(build, "servers", "echo-poll"), os.path.join(build, "loadgen",
                                                                                             "loadgen")
        for exe in (self.server, self.loadgen):
            self.assertTrue(os.access(exe, os.X_OK), f"{exe} is not built (BUILD={build})")
        self.dir = tempfile.mkdtemp(prefix="test_profile.")
        self.procs = []

    def tearDown(self):
        for p in reversed(getattr(self, "procs", [])):
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=10)
        if getattr(self, "dir", None):
            shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def test_poll_checks_are_the_set_size(self):
        cpus = sorted(os.sched_getaffinity(0))
        srv = self.spawn(["taskset", "-c", str(cpus[0]), self.server, "--port", "0"], stdout=subprocess.PIPE,
                         text=True)
        line = srv.stdout.readline()
        m = re.search(r"^listening on .*:([0-9]+)$", line.strip())
        self.assertTrue(m, f"echo-poll said {line!r}")
        ctl, ack, data = (os.path.join(self.dir, x) for x in ("ctl", "ack", "perf.data"))
        os.mkfifo(ctl)
        os.mkfifo(ack)
        perf = self.spawn(profile.record_argv(data, ["-p", str(srv.pid)], ctl, ack), stderr=subprocess.PIPE,
                          text=True)

        def ready():  # perf holds the fifo open once it listens on it
            try:
                os.close(os.open(ctl, os.O_WRONLY | os.O_NONBLOCK))
                return True
            except OSError:
                return False
        deadline = time.monotonic() + 30
        while not ready() and perf.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(ready(), f"perf record never opened its control fifo: {perf.poll()}")
        # --rate 2000, not less: a second of it keeps echo-poll's CPU busy long enough for a few
        # dozen samples at 999 Hz even on a fast machine, so that "samples > 0" cannot fail by chance
        lg = subprocess.run(["taskset", "-c", str(cpus[-1]), self.loadgen, "--port", m.group(1),
                             "--connections", str(self.CONNS), "--active", "1", "--rate", "2000",
                             "--duration", "1s", "--warmup", "0.2s", "--perf-ctl", f"{ctl},{ack}",
                             "--json", os.path.join(self.dir, "lg.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(lg.returncode, 0, lg.stderr)
        perf.send_signal(signal.SIGINT)
        _, err = perf.communicate(timeout=30)
        # perf record writes its file, then ends by the signal it caught (its atexit re-raises it)
        self.assertIn(perf.returncode, (0, -signal.SIGINT), err)
        srv.send_signal(signal.SIGTERM)
        srv.communicate(timeout=10)  # its final stats line (no --stats: stdout)
        self.assertEqual(srv.returncode, 0)
        with open(os.path.join(self.dir, "lg.json")) as f:
            responses = json.load(f)["requests"]
        self.assertGreater(responses, 0)

        report = os.path.join(self.dir, "report.txt")
        s = profile.summarize(data, report, "nfds")
        self.assertGreater(s["samples"], 0, s)
        self.assertEqual(set(s["shares"]), set(profile.SHARES))
        self.assertAlmostEqual(sum(s["shares"].values()), 1.0, delta=1e-9)
        self.assertEqual(s["lost"], 0, s)
        polls = s["tracepoints"]["syscalls:sys_enter_poll"]
        kc = s["kernel_checks"]
        self.assertIsNone(kc["why_not"], kc)
        self.assertGreater(kc["checks"], 0, kc)
        # one poll at least per response it sent back (one active connection, one request at a time)
        self.assertGreaterEqual(polls["events"], responses * 0.5, s)
        want = self.CONNS + 2  # the connections, the listener, the wake-up fd
        self.assertEqual(kc["checks"], want * polls["events"], s)
        # and not by compensation: each poll of the window, one by one
        out = subprocess.run(["perf", "script", "-i", data, "-F", "comm,tid,event,trace"], capture_output=True,
                             text=True, timeout=120).stdout
        nfds = [profile.trace_value(h.group("event"), h.group("rest"))
                for h in map(profile.HEADER.match, out.splitlines())
                if h and h.group("event") == "syscalls:sys_enter_poll"]
        self.assertEqual(len(nfds), polls["events"])
        self.assertEqual(set(nfds), {want})
        # no other tracepoint fired for echo-poll
        self.assertEqual({k: v["events"] for k, v in s["tracepoints"].items() if v["events"]},
                         {"syscalls:sys_enter_poll": polls["events"]})
        with open(report) as f:
            text = f.read()
        self.assertIn("of event 'cpu-clock'", text)
        self.assertNotIn("sys_enter_poll", text)
        self.assertLessEqual(len([x for x in text.splitlines() if x.strip() and not x.startswith("#")]),
                             profile.TOP)


def main():
    prog = unittest.main(exit=False, argv=sys.argv[:1] + sys.argv[1:], verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if r.testsRun and len(r.skipped) == r.testsRun else 0)


if __name__ == "__main__":
    main()
