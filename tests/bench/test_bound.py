#!/usr/bin/env python3
"""test_bound.py - the `bound` verdict (results.bound) on synthetic inputs: each of its four
outcomes, the edges of its two thresholds, closed loop decided by the cores alone; how busy each
side was, from bench/run's cgroup samples (row.busy), and on one shared core (row.shared_core);
the progress line and the report's sentences (report.bound_facts) that carry the verdict."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import report  # noqa: E402
import results  # noqa: E402
import row  # noqa: E402


class Verdict(unittest.TestCase):
    def test_four_outcomes_at_a_fixed_rate(self):
        # a server that cannot keep up: its core is full, the loadgen's is not
        self.assertEqual(results.bound(1.0, 0.30, 100000, 20000), "server")
        # a loadgen that cannot keep up
        self.assertEqual(results.bound(0.40, 0.99, 100000, 60000), "loadgen")
        # the rate missed with neither core full (a stall, a sleeping loop, a slow wake-up)
        self.assertEqual(results.bound(0.50, 0.50, 100000, 60000), "neither")
        # nothing bounded the run: the rate was met and neither core was full
        self.assertEqual(results.bound(0.20, 0.20, 2000, 2000), "")

    def test_a_missed_rate_is_not_the_loadgens_fault_by_itself(self):
        # the old verdict: every missed rate was "loadgen-bound"
        self.assertNotEqual(results.bound(0.99, 0.27, 120000, 16000), "loadgen")

    def test_both_full_is_the_server(self):
        self.assertEqual(results.bound(0.97, 0.99, 100000, 50000), "server")
        self.assertEqual(results.bound(0.97, 0.99, None, 50000), "server")

    def test_busy_poll_meets_its_rate_with_a_full_core(self):
        # it spins: its core is full whatever the load, so its rows say server
        self.assertEqual(results.bound(1.0, 0.2, 20000, 20000), "server")

    def test_thresholds(self):
        self.assertEqual(results.bound(0.95, 0.0, 1000, 1000), "server")
        self.assertEqual(results.bound(0.9499, 0.95, 1000, 1000), "loadgen")
        self.assertEqual(results.bound(0.5, 0.9499, 1000, 950), "")          # 95% of the rate is met
        self.assertEqual(results.bound(0.5, 0.9499, 1000, 949.9), "neither")

    def test_closed_loop_by_the_cores_alone(self):
        self.assertEqual(results.bound(1.0, 0.6, None, 31000), "server")
        self.assertEqual(results.bound(0.6, 1.0, None, 31000), "loadgen")
        self.assertEqual(results.bound(0.6, 0.6, None, 31000), "")
        self.assertEqual(results.bound(0.6, 0.6, 0, 31000), "")

    def test_unknown_utilization_is_not_saturation(self):
        self.assertEqual(results.bound(None, None, 1000, 500), "neither")
        self.assertEqual(results.bound(None, None, None, 500), "")


def sample(t_s, srv_usage_s, srv_full_s, lg_usage_s=None, lg_full_s=None):
    s = {"t_ns": int(t_s * 1e9), "server": {"usage_us": int(srv_usage_s * 1e6), "full_us": int(srv_full_s * 1e6)}}
    if lg_usage_s is not None:
        s["loadgen"] = {"usage_us": int(lg_usage_s * 1e6), "full_us": int(lg_full_s * 1e6)}
    return s


class Busy(unittest.TestCase):
    WINDOW = {"start_ns": int(10e9), "end_ns": int(12e9)}

    def test_cpu_plus_starved_time(self):
        # 0.7 s of CPU and 0.3 s runnable but not running, in 1 s: the core was full for the server
        samples = [sample(9.9, 0, 0, 0, 0), sample(10.01, 5, 1, 1, 0), sample(11.01, 5.7, 1.3, 1.25, 0.02),
                   sample(12.05, 9, 9, 9, 9)]
        srv, lg, how = row.busy(samples, self.WINDOW, 1, 1)
        self.assertAlmostEqual(srv, 1.0)
        self.assertAlmostEqual(lg, 0.27)
        self.assertEqual(how, "cgroup cpu.stat + cpu.pressure")

    def test_capped_and_divided_by_cores(self):
        samples = [sample(10.0, 0, 0, 0, 0), sample(12.0, 3.0, 2.0, 1.0, 0.0)]
        srv, lg, _ = row.busy(samples, self.WINDOW, 2, 1)
        self.assertAlmostEqual(srv, 1.0)   # (3 + 2) / 2 s / 2 cores = 1.25 -> 1
        self.assertAlmostEqual(lg, 0.5)

    def test_no_samples_in_the_window(self):
        self.assertEqual(row.busy([], self.WINDOW, 1, 1), (None, None, None))
        self.assertEqual(row.busy([sample(9, 0, 0), sample(13, 1, 1)], self.WINDOW, 1, 1), (None, None, None))

    def test_a_side_without_a_cgroup(self):
        samples = [sample(10.0, 0, 0), sample(12.0, 1.0, 0.0)]
        self.assertEqual(row.busy(samples, self.WINDOW, 1, 1), (0.5, None, "cgroup cpu.stat + cpu.pressure"))

    def test_one_shared_core(self):
        # closed loop on one core: each side ran half the time and waited for the other the rest
        self.assertEqual(row.shared_core("shared", 0.89, 0.90, 0.5, 0.47), (0.97, 0.97))
        self.assertEqual(results.bound(*row.shared_core("shared", 0.89, 0.90, 0.5, 0.47)), "server")
        self.assertEqual(row.shared_core("shared", 0.2, 0.1, 0.1, 0.05), (0.2, 0.2))
        self.assertEqual(row.shared_core("split", 0.89, 0.90, 0.48, 0.47), (0.89, 0.90))

    def test_samples_that_cover_too_little_of_the_window(self):
        samples = [sample(10.0, 0, 0), sample(10.5, 0.5, 0.0)]
        self.assertEqual(row.busy(samples, self.WINDOW, 1, 1), (None, None, None))


def rrow(label, n, mode, bound, status="ok"):
    return {"label": label, "server": label, "variant": "default", "connections": n, "active": 500, "mode": mode,
            "offered_rps": 20000 if mode == "rate" else None, "achieved_rps": 1000.0, "bound": bound,
            "status": status}


class Words(unittest.TestCase):
    def test_report_sentences(self):
        rows = [rrow("libuv", 10000, "closed", "loadgen"), rrow("busypoll", 10000, "rate", "server"),
                rrow("epoll", 1000, "closed", "server"), rrow("epoll", 10000, "closed", "server"),
                rrow("uring", 100, "closed", ""),
                rrow("poll", 10000, "rate", "server"), rrow("epoll", 10000, "rate", ""),
                rrow("select", 1000, "rate", "neither"), rrow("epoll", 100, "rate", "loadgen", "failed:errors")]
        facts = " ".join(report.bound_facts(rows))
        self.assertIn("loadgen-bound", facts)
        self.assertIn("libuv N=10,000 closed", facts)
        self.assertIn("server-bound", facts)
        self.assertIn("busypoll N=10,000 rate; poll N=10,000 rate.", facts)
        self.assertIn("the rate was missed with neither core saturated: select N=1,000 rate", facts)
        self.assertNotIn("epoll N=100 ", facts)  # failed rows are reported elsewhere
        # closed loop always fills one side on 2 cores: counted, not listed
        self.assertIn("In closed loop the server's core was the saturated one at 2 of 4 points; "
                      "neither core reached 95% at uring N=100 closed.", facts)
        self.assertNotIn("epoll N=1,000 closed", facts)
        loadgen = next(f for f in report.bound_facts(rows) if "loadgen-bound" in f)
        self.assertNotIn("busypoll", loadgen)  # the old report listed a saturated busy-poll here

    def test_report_when_nothing_was_bound(self):
        facts = " ".join(report.bound_facts([rrow("epoll", 1000, "rate", "")]))
        self.assertIn("No row was loadgen-bound", facts)
        self.assertNotIn("server-bound", facts)
        self.assertNotIn("closed loop", facts)

    def test_progress_line(self):
        base = {"server": "poll", "variant": "default", "connections": 15000, "active": 500, "mode": "rate",
                "offered_rps": 100000, "achieved_rps": 19000.0, "status": "ok"}
        self.assertIn("SERVER-BOUND", row.progress_line(dict(base, bound="server"), "1/1"))
        self.assertIn("LOADGEN-BOUND", row.progress_line(dict(base, bound="loadgen"), "1/1"))
        self.assertIn("neither core saturated", row.progress_line(dict(base, bound="neither"), "1/1"))
        self.assertNotIn("BOUND", row.progress_line(dict(base, bound=""), "1/1"))

    def test_csv_cell(self):
        self.assertIn("bound", row.COLUMNS)
        self.assertNotIn("loadgen_bound", row.COLUMNS)
        self.assertEqual(row.fmt(""), "")


class OldRows(unittest.TestCase):
    def test_rows_without_the_column_are_decided_from_cpu_share(self):
        r = {"server": "busypoll", "variant": "default", "connections": 10000, "mode": "rate", "offered_rps": 20000,
             "achieved_rps": 15000.0, "server_util": 1.0, "loadgen_util": 0.3, "loadgen_bound": True}
        results.fill_bound(r)
        self.assertEqual(r["bound"], "server")


if __name__ == "__main__":
    unittest.main()
