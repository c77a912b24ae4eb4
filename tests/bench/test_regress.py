#!/usr/bin/env python3
"""test_regress.py - the regression gate's verdicts (bench/lib/regress.py) on synthetic gate
directories: head against base, per server and point.

What must fail does, naming the server, the point and the figure: a 15% rise in syscalls per
request (echo-uring: one more enter per request; 15% passes, its batches move with timing), a 3%
rise in instructions, CPU per request 50% above base's (the median pair over all points), a slowdown of the
shared core that every server pays (the case the old gate, which divided by epoll's CPU, let
through), a server that produced no figures, errors. What must pass does: no change, small
changes inside the tolerances, a machine that is slower for both builds alike, a spinning or
saturated server's CPU (said, not gated). A server the probe says the kernel refuses is skipped.
"""
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import regress  # noqa: E402

# server: (syscalls/req, instructions, CPU us/req, spins)
SERVERS = {"epoll": (2.2, 316.0, 10.0, False), "poll": (2.05, 310.0, 45.0, False),
           "busypoll": (2.0, 13500.0, 200.0, True), "libuv": (2.15, 814.0, 9.0, False),
           "uring": (0.61, 690.0, 9.5, False)}
POINTS = [100, 1000]
PAIRS = 4


def make_gate(root, change=None, skip=None, drop_head=None, errors=None, util=None, machine=1.0, counted=None):
    """A gate directory. change = {(server, metric): factor on head's figure} with metric one of
    syscalls, instr, cpu; machine scales both builds' CPU alike; drop_head = a server whose head
    runs and counts failed; util = {server: core busy fraction}; counted = {server: (own, factors)}:
    its published rows say counting own (with their own syscall count, or none when own is False,
    as libuv's), and one counted pair per point follows, counting kernel, perf's syscalls and
    the CPU scaled for head by factors = {metric: factor} (perf's tax)."""
    change = change or {}
    d = tempfile.mkdtemp(dir=root)
    gate = {"head": {"describe": "head"}, "base": {"describe": "base"}, "points": POINTS, "pairs": PAIRS,
            "load": "synthetic", "servers": [{"name": s, "spins": v[3], "skip": (skip or {}).get(s)}
                                             for s, v in SERVERS.items()]}
    with open(os.path.join(d, "gate.json"), "w") as f:
        json.dump(gate, f)
    instr = []
    for s, (sc, ins, cpu, spins) in SERVERS.items():
        rows = []
        for n in POINTS:
            for build in ("base", "head"):
                k = (lambda m: change.get((s, m), 1.0)) if build == "head" else (lambda m: 1.0)
                failed = build == "head" and s == drop_head
                instr.append({"server": s, "connections": n, "build": build, "status": "failed:no_count" if failed
                              else "ok", "why": "", "figure": None if failed else ins * k("instr"),
                              "unit": "instr/pass" if spins else "instr/req"})
                for rep in range(1, (1 if spins else PAIRS) + 1):
                    jitter = 1 + 0.02 * ((rep + (build == "head")) % 3 - 1)  # +-2%, not the same in a pair
                    w = {"syscalls": {"total": int(sc * 1000 + 50 * 1000)}, "requests": 1000,
                         "read_eagain": 40 * 1000, "loop_passes": 10 * 1000} if spins else None
                    rows.append({"server": s, "variant": "default", "connections": n, "active": 100,
                                 "mode": "rate", "offered_rps": 5000, "rep": rep, "build": build,
                                 "status": "failed:server_crashed" if failed else "ok",
                                 "errors": (errors or {}).get(s, 0) if build == "head" else 0,
                                 "perf_syscalls_per_req": None if failed else sc * k("syscalls"),
                                 "syscalls_per_req": None if failed else sc * k("syscalls"),
                                 "cpu_us_per_req": None if failed else cpu * k("cpu") * jitter * machine,
                                 "server_util": (util or {}).get(s, 0.1), "server_window": w})
                if s in (counted or {}):
                    own, factors = counted[s]
                    for r in rows[-(1 if spins else PAIRS):]:
                        r["counting"] = "own"
                        if not own:
                            r["syscalls_per_req"] = r["perf_syscalls_per_req"] = None
                    f = factors if build == "head" else {}
                    rows.append(dict(rows[-1], counting="kernel", rep=1,
                                     perf_syscalls_per_req=sc * k("syscalls") * f.get("syscalls", 1.0),
                                     syscalls_per_req=None if not own else sc * k("syscalls"),
                                     cpu_us_per_req=cpu * k("cpu") * machine * f.get("cpu", 1.0)))
        os.makedirs(os.path.join(d, "ab", s))
        with open(os.path.join(d, "ab", s, "rows.json"), "w") as f:
            json.dump(rows, f)
    with open(os.path.join(d, "instructions.json"), "w") as f:
        json.dump(instr, f)
    return d


class Verdicts(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def gate(self, **kw):
        d = make_gate(self.tmp.name, **kw)
        out = io.StringIO()
        ok = regress.compare(d, out=out)
        text = out.getvalue()
        with open(os.path.join(d, "REGRESS.txt")) as f:
            self.assertEqual(f.read(), text)
        return ok, text

    def assertLast(self, text, pattern):
        self.assertRegex(text.splitlines()[-1], pattern)

    def test_unchanged_passes(self):
        ok, text = self.gate()
        self.assertTrue(ok, text)
        self.assertLast(text, r"^regress: \d+ passed, 0 failed$")

    def test_syscalls_up_15_percent_fails_naming_it(self):
        ok, text = self.gate(change={("poll", "syscalls"): 1.15})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL poll N=1,000: syscalls/req 2\.050 -> 2\.357 \(\+15\.0%, limit \+10%\)")
        self.assertLast(text, r"^regress: \d+ passed, 2 failed$")  # N = 100 and 1,000

    def test_syscalls_up_5_percent_passes(self):
        ok, text = self.gate(change={("poll", "syscalls"): 1.05})
        self.assertTrue(ok, text)

    def test_uring_syscalls_up_15_percent_passes(self):
        ok, text = self.gate(change={("uring", "syscalls"): 1.15})
        self.assertTrue(ok, text)

    def test_uring_one_more_enter_per_request_fails(self):
        ok, text = self.gate(change={("uring", "syscalls"): (0.61 + 1) / 0.61})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL uring N=100: syscalls/req .*\(\+163\.9%, limit \+25%\)")

    def test_instructions_up_3_percent_fail(self):
        ok, text = self.gate(change={("libuv", "instr"): 1.03})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL libuv N=100: instr/req 814\.0 -> 838\.4 \(\+3\.00%, limit \+2\.0%\)")

    def test_instructions_up_1_percent_pass(self):
        ok, text = self.gate(change={("libuv", "instr"): 1.01})
        self.assertTrue(ok, text)

    def test_busypoll_is_counted_per_pass(self):
        ok, text = self.gate(change={("busypoll", "instr"): 1.5})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL busypoll N=1,000: instr/pass 13,500\.0 -> 20,250\.0")

    def test_cpu_up_50_percent_fails(self):
        ok, text = self.gate(change={("epoll", "cpu"): 1.5})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL epoll over all N: CPU/req head/base 1\.5\d\d, the median of 8 pairs at N = 100, 1,000")
        self.assertRegex(text, r"epoll\s+100 .* 1\.5\d\d \[1\.\d\d-1\.\d\d\]\s+ok")  # a point shows its pairs

    def test_cpu_up_20_percent_passes(self):
        ok, text = self.gate(change={("epoll", "cpu"): 1.2})
        self.assertTrue(ok, text)

    def test_core_slowdown_fails_every_server(self):
        """The shared core 50% slower in head: every server pays it, epoll included, and every one
        fails (the old gate divided by epoll's CPU and let this through)."""
        ok, text = self.gate(change={(s, "cpu"): 1.5 for s in SERVERS})
        self.assertFalse(ok)
        for s in ("epoll", "poll", "libuv", "uring"):
            self.assertRegex(text, rf"FAIL {s} over all N: CPU/req")

    def test_slower_machine_for_both_passes(self):
        ok, text = self.gate(machine=3.0)
        self.assertTrue(ok, text)

    def test_spinning_and_saturated_cpu_not_gated(self):
        ok, text = self.gate(change={("busypoll", "cpu"): 3, ("poll", "cpu"): 3}, util={"poll": 0.95})
        self.assertTrue(ok, text)
        self.assertRegex(text, r"busypoll .*ok \(CPU not gated: it spins\)")
        self.assertRegex(text, r"poll .*ok \(CPU not gated: a core 90% busy")

    def test_server_without_figures_fails(self):
        ok, text = self.gate(drop_head="libuv")
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL libuv N=100: head run 1: failed:server_crashed.*head instructions: failed:no_count")
        self.assertRegex(text, r"no syscall count from head")

    def test_refused_server_is_skipped_not_passed(self):
        ok, text = self.gate(skip={"uring": "the kernel refuses io_uring (EPERM)"})
        self.assertTrue(ok, text)
        self.assertRegex(text, r"uring\s+1,000\s+-\s+-\s+-\s+skipped: the kernel refuses io_uring")
        self.assertLast(text, r"^regress: \d+ passed, 0 failed, 2 skipped$")

    def test_errors_fail(self):
        ok, text = self.gate(errors={"epoll": 3})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL epoll N=100: head run 1: 3 errors")

    def test_a_server_without_own_counts_is_gated_on_its_counted_pair(self):
        """libuv counts no syscalls itself: its figure is the kernel's, from the counted pair."""
        ok, text = self.gate(counted={"libuv": (False, {})}, change={("libuv", "syscalls"): 1.15})
        self.assertFalse(ok)
        self.assertRegex(text, r"FAIL libuv N=100: syscalls/req 2\.150 -> 2\.47\d \(\+15\.0%")
        ok, text = self.gate(counted={"libuv": (False, {})})
        self.assertTrue(ok, text)

    def test_the_own_count_is_the_figure_where_there_is_one(self):
        # the counted pair's kernel count says +15% for head; the servers' own counts, the figure, do not
        ok, text = self.gate(counted={"epoll": (True, {"syscalls": 1.15})})
        self.assertTrue(ok, text)

    def test_counted_pairs_are_no_cpu_pairs(self):
        # perf's tax on head's counted run (3x its CPU) is no regression: CPU comes from the published pairs
        ok, text = self.gate(counted={s: (True, {"cpu": 3.0}) for s in SERVERS if not SERVERS[s][3]})
        self.assertTrue(ok, text)
        # every pair ratio of the point is a published pair's: none near 3
        self.assertRegex(text, r"epoll\s+100 .* 1\.0\d\d \[0\.9\d-1\.0\d\]\s+ok")

    def gate_of_head(self, dirty):
        """A gate directory whose head build is commit aaa...a, with or without changes."""
        d = make_gate(self.tmp.name)
        with open(os.path.join(d, "gate.json")) as f:
            gate = json.load(f)
        gate["head"].update(commit="a" * 40, dirty=dirty)
        with open(os.path.join(d, "gate.json"), "w") as f:
            json.dump(gate, f)
        return d

    def test_baseline_names_head_commit(self):
        d = self.gate_of_head(dirty=False)
        out = io.StringIO()
        regress.baseline(d, out=out)
        path = os.path.join(d, "baseline.csv")
        with open(path, "w") as f:
            f.write(out.getvalue())
        self.assertEqual(regress.read_base_commit(path), "a" * 40)
        self.assertIn("epoll,100,2.2000,316.0,instr/req,", out.getvalue())

    def test_baseline_refuses_uncommitted_head(self):
        d = self.gate_of_head(dirty=True)
        with self.assertRaises(SystemExit):
            regress.baseline(d, out=io.StringIO())


if __name__ == "__main__":
    unittest.main(verbosity=2)
