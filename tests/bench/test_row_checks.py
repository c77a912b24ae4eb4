#!/usr/bin/env python3
"""test_row_checks.py - a row's roles and readiness checks (bench/lib/row.py) on synthetic inputs.

What a row says by its role: a published row (counting own) has no kernel figure at all; a kernel
row of a server whose checks are its reads gets the kernel's count from perf stat's reads (busy-poll:
and its accept4 attempts); any other model's kernel row says why it has none; a profile row takes
the kernel's count and the CPU shares from bench/lib/profile.py's summary. Two counts of checks that
differ by more than 2% fail the row (failed:checks_disagree) unless the difference is within the
window's edges (a few average loop passes), and a server whose stats line has no checks (libuv, or
a line older than the count) leaves the columns empty. The window is the test's own (row.window is
replaced), so this tests row.py whatever snapshots.py's stats line holds.
"""
import json
import os
import sys
import tempfile
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import row  # noqa: E402

REQ = 10000


def server_window(checks=None, walked=None, scanned=None, passes=1000, wakeups=900, requests=REQ):
    return {"requests": requests, "seconds": 1.0, "cpu_us": 50000, "user_us": 10000, "sys_us": 40000,
            "cpu_us_per_req": 5.0, "util": 0.05, "ctxsw": 100, "wakeups": wakeups, "loop_passes": passes,
            "events": checks or 0, "maxrss_kb": 1000, "threads": 1, "conns": 100, "counters": "in-process",
            "syscalls": {"total": 2 * REQ + wakeups, "read": REQ, "write": REQ, "accept4": 0},
            "read_eagain": 0, "checks": checks, "walked": walked, "scanned": scanned}


class Rows(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.windows = []
        self.real_window = row.window
        row.window = lambda lines: self.windows.pop(0)  # the test's window, whatever the stats file holds

    def tearDown(self):
        row.window = self.real_window
        self.tmp.cleanup()

    def build(self, counting, window, perf=None, summary=None, kind="events", spins=False, own_stats=True):
        d = self.tmp.name
        with open(os.path.join(d, "lg.json"), "w") as f:
            json.dump({"requests": REQ, "achieved_rps": REQ, "errors": 0, "starved": 0, "loadgen_cpu_us_per_req": 4.0,
                       "loadgen_cpu_util": 0.4, "latency_us": {k: 10 for k in ("p50", "p90", "p99", "p999", "max")},
                       "window": {"start_ns": 0, "end_ns": 10 ** 9}}, f)
        with open(os.path.join(d, "stats.jsonl"), "w") as f:
            f.write('{"type": "snapshot"}\n{"type": "snapshot"}\n')
        perf_path = None
        if perf is not None:
            perf_path = os.path.join(d, "counts.perf")
            with open(perf_path, "w") as f:
                f.write("".join(f"{v},,{e},1000,100.00,,\n" for e, v in perf.items()))
        self.windows.append(window)
        a = SimpleNamespace(server="x", variant="default", connections=100, active=10, size=64, rep=1, rate=20000,
                            placement="split", count_method="perf" if counting == "kernel" else None, status="ok",
                            stats=os.path.join(d, "stats.jsonl") if own_stats else None, own_stats=own_stats,
                            perf=perf_path, loadgen=os.path.join(d, "lg.json"), busy=None, counting=counting,
                            checks_kind=kind, spins=spins, loops=1, profile=summary)
        return row.build_row(a)

    def test_own_row_counts_nothing_of_the_kernel(self):
        r, d = self.build("own", server_window(checks=12000, walked=12000, scanned=12000))
        self.assertEqual((r["counting"], r["status"]), ("own", "ok"))
        self.assertIsNone(r["perf_syscalls_per_req"])
        self.assertIsNone(r["kernel_checks_per_req"])
        self.assertNotIn("kernel_checks", d)
        self.assertAlmostEqual(r["checks_per_req"], 1.2)
        self.assertAlmostEqual(r["waits_per_req"], 0.09)

    def test_no_checks_in_the_stats_line_leaves_them_empty(self):
        r, _ = self.build("own", server_window())
        self.assertEqual(r["status"], "ok")
        for c in ("checks_per_req", "walked_per_req", "scanned_per_req", "kernel_checks_per_req", "wait_share"):
            self.assertIsNone(r[c], c)
        self.assertEqual(row.fmt(r["checks_per_req"]), "")

    def test_kernel_row_of_reads_counts_perfs_reads(self):
        perf = {"raw_syscalls:sys_enter": 2 * REQ + 900, "syscalls:sys_enter_read": REQ,
                "syscalls:sys_enter_accept4": 50}
        r, d = self.build("kernel", server_window(checks=REQ, walked=REQ), perf=perf, kind="reads")
        self.assertEqual(r["status"], "ok")
        self.assertAlmostEqual(r["kernel_checks_per_req"], 1.0)  # not spinning: its accept4 is no check
        self.assertEqual(d["kernel_checks"]["checks"], REQ)
        self.assertIsNotNone(r["perf_syscalls_per_req"])

    def test_busypoll_adds_its_accept4_attempts(self):
        perf = {"raw_syscalls:sys_enter": 60000, "syscalls:sys_enter_read": 49000, "syscalls:sys_enter_accept4": 1000}
        w = server_window(checks=50000, walked=50000, passes=1000)
        w["syscalls"] = {"total": 60000, "read": 49000, "write": REQ, "accept4": 1000}
        r, d = self.build("kernel", w, perf=perf, kind="reads", spins=True)
        self.assertEqual(r["status"], "ok", d.get("checks_disagreement"))
        self.assertAlmostEqual(r["kernel_checks_per_req"], 5.0)
        self.assertEqual(d["kernel_checks"]["source"], "perf: read + accept4")

    def test_kernel_row_of_another_model_says_why_not(self):
        perf = {"raw_syscalls:sys_enter": 2 * REQ + 900, "syscalls:sys_enter_read": REQ}
        r, d = self.build("kernel", server_window(checks=12000, walked=12000), perf=perf, kind="nfds")
        self.assertEqual(r["status"], "ok")
        self.assertIsNone(r["kernel_checks_per_req"])
        self.assertIn("profile", d["kernel_checks"]["why_not"])

    def test_reads_that_disagree_fail_the_row(self):
        perf = {"raw_syscalls:sys_enter": 2 * REQ + 900, "syscalls:sys_enter_read": 11000}
        r, d = self.build("kernel", server_window(checks=REQ, walked=REQ, passes=5000), perf=perf, kind="reads")
        self.assertEqual(r["status"], "failed:checks_disagree")
        self.assertEqual(d["checks_disagreement"]["checks"]["own"], REQ)

    def summary(self, checks=None, walked=None, shares=None):
        return {"samples": 800, "shares": shares, "tracepoints": {},
                "kernel_checks": {"checks": checks, "walked": walked, "source": "perf record", "why_not": None}}

    def test_profile_row_takes_the_summary(self):
        shares = {"wait": 0.25, "recv": 0.25, "send": 0.25, "kernel_other": 0.15, "user": 0.10}
        r, d = self.build("profile", server_window(checks=12000, walked=12000),
                          summary=self.summary(12100, 12100, shares), kind="events")
        self.assertEqual(r["status"], "ok")  # 0.8% apart: agree
        self.assertAlmostEqual(r["kernel_checks_per_req"], 1.21)
        self.assertAlmostEqual(d["kernel_walked_per_req"], 1.21)
        self.assertEqual(r["wait_share"], 0.25)
        self.assertEqual(d["cpu_shares"], dict(shares, samples=800))
        self.assertIsNone(r["perf_syscalls_per_req"])

    def test_profile_checks_past_two_percent_fail(self):
        r, d = self.build("profile", server_window(checks=12000, walked=12000, passes=5000),
                          summary=self.summary(12500, 12500))
        self.assertEqual(r["status"], "failed:checks_disagree")
        self.assertEqual(set(d["checks_disagreement"]), {"checks", "walked"})

    def test_a_difference_within_the_window_edges_passes(self):
        # 50 passes of 10,000 fds (poll over 10,000): the edges may move 4 passes, 8% of the count
        w = server_window(checks=500000, walked=500000, passes=50)
        r, _ = self.build("profile", w, summary=self.summary(530000, 530000), kind="nfds")
        self.assertEqual(r["status"], "ok")
        r, _ = self.build("profile", dict(w), summary=self.summary(560000, 560000), kind="nfds")
        self.assertEqual(r["status"], "failed:checks_disagree")

    def test_select_compares_walked(self):
        # select's kernel count is of walked (pselect6's n): checks are not compared, walked are
        w = server_window(checks=REQ, walked=100 * REQ, passes=1000)
        r, d = self.build("profile", w, summary=self.summary(None, 100 * REQ + 500), kind="set_fds")
        self.assertEqual(r["status"], "ok")
        self.assertIsNone(r["kernel_checks_per_req"])
        self.assertAlmostEqual(d["kernel_walked_per_req"], 100.05)
        r, d = self.build("profile", dict(w), summary=self.summary(None, 110 * REQ), kind="set_fds")
        self.assertEqual((r["status"], list(d["checks_disagreement"])), ("failed:checks_disagree", ["walked"]))

    def test_libuv_has_no_own_checks_to_compare(self):
        r, _ = self.build("profile", server_window(), summary=self.summary(9000, 9000), kind="none")
        self.assertEqual(r["status"], "ok")
        self.assertAlmostEqual(r["kernel_checks_per_req"], 0.9)
        self.assertIsNone(r["checks_per_req"])

    def test_progress_line_says_the_checks(self):
        r, _ = self.build("profile", server_window(checks=12000, walked=12000),
                          summary=self.summary(12000, 12000, {"wait": 0.5, "recv": 0.2, "send": 0.2,
                                                             "kernel_other": 0.05, "user": 0.05}))
        line = row.progress_line(r, "3/3 profile")
        self.assertIn("1.20 checks/req (kernel 1.20)", line)
        self.assertIn("wait 50% of CPU", line)

    def test_old_caller_without_a_role(self):
        perf = {"raw_syscalls:sys_enter": 2 * REQ + 900}
        r, _ = self.build(None, server_window(), perf=perf)
        self.assertEqual(r["counting"], "kernel")
        r, _ = self.build(None, server_window())
        self.assertEqual(r["counting"], "own")



class LoopShares(unittest.TestCase):
    """snapshots.py's per-loop window and Jain's index over the loops."""

    def test_jain(self):
        import snapshots
        self.assertAlmostEqual(snapshots.jain([5, 5, 5]), 1.0)
        self.assertAlmostEqual(snapshots.jain([9, 0, 0]), 1 / 3)
        self.assertAlmostEqual(snapshots.jain([3, 1]), 16 / 20)
        self.assertIsNone(snapshots.jain([]))
        self.assertIsNone(snapshots.jain([0, 0]))

    def test_loops_window(self):
        import snapshots

        def line(loops):
            return {"loops": [{"requests": r, "accepted": a, "conns": c, "cpu_us": u} for r, a, c, u in loops]}
        w = snapshots.loops_window(line([(10, 5, 5, 100), (20, 5, 5, 300)]), line([(110, 6, 6, 1100), (70, 5, 4, 800)]))
        self.assertEqual(w, [{"requests": 100, "accepted": 1, "conns": 6, "cpu_us": 1000},
                             {"requests": 50, "accepted": 0, "conns": 4, "cpu_us": 500}])
        f = snapshots.fairness(w)
        self.assertAlmostEqual(f["requests"], 150 ** 2 / (2 * (100 ** 2 + 50 ** 2)))
        self.assertAlmostEqual(f["conns"], 100 / (2 * 52))
        # one loop, or loops that do not match (a worker restarted): no per-loop window
        self.assertIsNone(snapshots.loops_window({}, {}))
        self.assertIsNone(snapshots.loops_window(line([(1, 1, 1, 1)]), line([(1, 1, 1, 1), (2, 2, 2, 2)])))
        self.assertIsNone(snapshots.fairness(None))


if __name__ == "__main__":
    unittest.main()
