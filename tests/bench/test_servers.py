#!/usr/bin/env python3
"""test_servers.py - bench/lib/servers.py reads the table of servers as meson writes it: typed
columns by the header's names, one clear error for a missing file, a malformed row or an unknown
name, and the model (the results row's `server`) from the executable."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "lib"))
import servers  # noqa: E402

HEADER = "name\tpath\targs\tserial\tspins\tfd_limit\tcounters\tloops\tworkers\tneeds\tsweep\n"


class Table(unittest.TestCase):
    def test_typed_columns(self):
        t = servers.parse([HEADER,
                           "select\t/b/servers/echo-select\t\tno\tno\t1024\tin-process\t1\t0\t-\tyes\n",
                           "epoll-t2\t/b/servers/echo-epoll\t--threads 2\tno\tno\t0\tin-process\t2\t0\t-\tno\n",
                           "uring\t/b/servers/echo-uring\t\tno\tno\t0\tin-process\t1\t0\tio_uring\tyes\n"], "t")
        self.assertEqual(list(t), ["select", "epoll-t2", "uring"])
        s, e, u = t["select"], t["epoll-t2"], t["uring"]
        self.assertEqual((s.fd_limit, s.args, s.sweep, s.needs, s.model), (1024, [], True, None, "select"))
        self.assertEqual((e.args, e.loops, e.sweep, e.model), (["--threads", "2"], 2, False, "epoll"))
        self.assertEqual(u.needs, "io_uring")

    def test_columns_by_name(self):
        header = "sweep\tname\tpath\targs\tserial\tspins\tfd_limit\tcounters\tloops\tworkers\tneeds\n"
        t = servers.parse([header, "yes\tlibuv\t/b/echo-libuv\t\tno\tno\t0\tnone\t1\t0\t-\n"], "t")
        self.assertEqual((t["libuv"].counters, t["libuv"].sweep), ("none", True))

    def test_errors(self):
        for lines in ([], [HEADER.replace("\tsweep", "")],
                      [HEADER, "a\t/x\t\tmaybe\tno\t0\tnone\t1\t0\t-\tyes\n"],
                      [HEADER, "a\t/x\t\tno\tno\tmany\tnone\t1\t0\t-\tyes\n"],
                      [HEADER, "a\t/x\t\tno\n"],
                      [HEADER] + ["a\t/x\t\tno\tno\t0\tnone\t1\t0\t-\tyes\n"] * 2):
            with self.assertRaises(servers.Error):
                servers.parse(lines, "t")

    def test_missing_file_and_names(self):
        with tempfile.TemporaryDirectory() as build:
            with self.assertRaisesRegex(servers.Error, "make"):
                servers.load(build)
            os.mkdir(os.path.join(build, "servers"))
            with open(servers.path_of(build), "w") as f:
                f.write(HEADER + "true\t/bin/true\t\tno\tno\t0\tnone\t1\t0\t-\tyes\n"
                        "gone\t/nonexistent/echo-gone\t\tno\tno\t0\tnone\t1\t0\t-\tno\n")
            t = servers.load(build)
            self.assertEqual(servers.lookup(t, "true", build).path, "/bin/true")
            with self.assertRaisesRegex(servers.Error, "not a server.*servers: true gone"):
                servers.lookup(t, "nope", build)
            with self.assertRaisesRegex(servers.Error, "build it first"):
                servers.lookup(t, "gone", build)


if __name__ == "__main__":
    unittest.main()
