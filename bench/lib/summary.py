#!/usr/bin/env python3
"""summary.py - the table printed at the end of a sweep: one line per server and N, medians over
the repetitions: syscalls, failed reads and CPU per request at the fixed rate, p99 there, and the
closed-loop throughput. usage: summary.py RUN_DIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def fmt(s, spec):
    return format(s.median, spec) if s else "-"


def main():
    rows, _ = results.load(sys.argv[1])
    pts = results.points(rows)
    print(f"{'server':<18} {'N':>6} {'syscalls/req':>12} {'EAGAIN/read':>11} {'CPU us/req':>10} "
          f"{'p99 us':>9} {'max req/s':>10}  status")
    for lab in results.labels(rows):
        for n in results.conns(rows):
            rate, closed = pts.get((lab, n, "rate"), []), pts.get((lab, n, "closed"), [])
            if not rate and not closed:
                continue
            st = results.status_of(rate + closed)
            print(f"{lab:<18} {n:>6} {fmt(results.stat(rate, 'syscalls_any'), '.2f'):>12} "
                  f"{fmt(results.stat(rate, 'eagain_reads_per_read'), '.1f'):>11} "
                  f"{fmt(results.stat(rate, 'cpu_us_per_req'), '.1f'):>10} {fmt(results.stat(rate, 'p99_us'), ',.0f'):>9} "
                  f"{fmt(results.stat(closed, 'achieved_rps'), ',.0f'):>10}  {st}")


if __name__ == "__main__":
    main()
