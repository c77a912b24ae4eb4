#!/usr/bin/env python3
"""test_regress.py - the regression gate's comparator on synthetic result files: a 15% rise in
syscalls per request fails, a 5% one passes (echo-uring: 15% passes, one more syscall per request
fails), a 60% rise of poll's CPU ratio to epoll fails, a
server missing from the run fails with a message naming it, and errors fail."""
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import regress  # noqa: E402

SERVERS = {"epoll": (2.2, 10.0), "poll": (2.05, 45.0), "busypoll": (50.0, 50.0), "libuv": (2.15, 9.0),
           "uring": (0.61, 9.5)}


def rows(change=None, drop=None, errors=None):
    """Two repetitions per server and N; change = {(server, metric): factor}."""
    change = change or {}
    out = []
    for server, (sc, cpu) in SERVERS.items():
        if server == drop:
            continue
        for n in (100, 1000, 5000):
            for rep in (1, 2):
                s = sc * change.get((server, "syscalls"), 1) * (1 + 0.01 * rep)
                c = cpu * change.get((server, "cpu"), 1) * (1 + 0.01 * rep)
                out.append({"server": server, "variant": "default", "connections": n, "active": 100,
                            "mode": "rate", "offered_rps": 5000, "rep": rep, "status": "ok",
                            "errors": (errors or {}).get(server, 0),
                            "syscalls_per_req": None if server == "libuv" else s, "perf_syscalls_per_req": s,
                            "cpu_us_per_req": c})
    return out


class Comparator(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.base = os.path.join(self.tmp.name, "baseline.csv")
        d = self.run_dir(rows())
        with open(self.base, "w") as f:
            regress.baseline(d, out=f)

    def tearDown(self):
        self.tmp.cleanup()

    def run_dir(self, rs):
        d = tempfile.mkdtemp(dir=self.tmp.name)
        with open(os.path.join(d, "rows.json"), "w") as f:
            json.dump(rs, f)
        return d

    def compare(self, rs):
        out = io.StringIO()
        ok = regress.compare(self.base, self.run_dir(rs), out=out)
        return ok, out.getvalue()

    def test_unchanged_passes(self):
        ok, text = self.compare(rows())
        self.assertTrue(ok, text)
        self.assertRegex(text.splitlines()[-1], r"^regress: \d+ passed, 0 failed$")

    def test_syscalls_up_15_percent_fails(self):
        ok, text = self.compare(rows({("poll", "syscalls"): 1.15}))
        self.assertFalse(ok)
        self.assertRegex(text, r"poll\s+1,000\s+syscalls/req\s+\S+\s+\S+\s+\+15\.0%\s+FAIL")
        self.assertRegex(text.splitlines()[-1], r"^regress: \d+ passed, 3 failed$")  # N = 100, 1000, 5000

    def test_syscalls_up_5_percent_passes(self):
        ok, text = self.compare(rows({("poll", "syscalls"): 1.05}))
        self.assertTrue(ok, text)

    def test_uring_syscalls_up_15_percent_passes(self):
        # its own tolerance (25%): how many requests one io_uring_enter carries depends on timing
        ok, text = self.compare(rows({("uring", "syscalls"): 1.15}))
        self.assertTrue(ok, text)

    def test_uring_one_more_enter_per_request_fails(self):
        ok, text = self.compare(rows({("uring", "syscalls"): (0.61 + 1) / 0.61}))
        self.assertFalse(ok)
        self.assertRegex(text, r"uring\s+100\s+syscalls/req\s+\S+\s+\S+\s+\+16\d\.\d%\s+FAIL \(limit \+25%\)")

    def test_unsupported_server_is_skipped_not_passed(self):
        rs = [dict(r, status="unsupported:kernel", syscalls_per_req=None, perf_syscalls_per_req=None,
                   cpu_us_per_req=None) if r["server"] == "uring" else r for r in rows()]
        ok, text = self.compare(rs)
        self.assertTrue(ok, text)
        self.assertRegex(text, r"uring\s+1,000\s+all\s+-\s+-\s+skipped: unsupported:kernel")
        self.assertRegex(text.splitlines()[-1], r"^regress: \d+ passed, 0 failed, 3 skipped$")

    def test_libuv_counted_by_perf(self):
        ok, text = self.compare(rows({("libuv", "syscalls"): 1.2}))
        self.assertFalse(ok)
        self.assertRegex(text, r"libuv\s+100\s+syscalls/req.*FAIL")

    def test_cpu_ratio_up_60_percent_fails(self):
        ok, text = self.compare(rows({("poll", "cpu"): 1.6}))
        self.assertFalse(ok)
        self.assertRegex(text, r"poll\s+all\s+CPU/req vs epoll\s+\S+\s+\S+\s+\+60\.0%\s+FAIL")

    def test_cpu_ratio_up_20_percent_passes(self):
        ok, text = self.compare(rows({("poll", "cpu"): 1.2}))
        self.assertTrue(ok, text)

    def test_whole_machine_slower_passes(self):
        """Every server 30% slower, epoll included: the ratios do not move, the gate holds."""
        ok, text = self.compare(rows({(s, "cpu"): 1.3 for s in SERVERS}))
        self.assertTrue(ok, text)

    def test_missing_server_fails_naming_it(self):
        ok, text = self.compare(rows(drop="busypoll"))
        self.assertFalse(ok)
        self.assertIn("busypoll at N=1,000 is in the baseline but not in this run", text)

    def test_errors_fail(self):
        ok, text = self.compare(rows(errors={"epoll": 3}))
        self.assertFalse(ok)
        self.assertRegex(text, r"epoll\s+100\s+errors\s+0\s+6\s+FAIL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
