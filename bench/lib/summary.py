#!/usr/bin/env python3
"""summary.py - the table printed at the end of a sweep: one line per server and N, medians over
the repetitions: syscalls, failed reads and CPU per request at the fixed rate, p99 there, and the
closed-loop throughput, each with the interval for its median in brackets (results.Stat.ci: the
sign test's order statistics; [min-max] at 3 repetitions). usage: summary.py RUN_DIR"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402


def fmt(s, spec):
    if not s:
        return "-"
    lo, hi = (format(x, spec) for x in (s.ci.lo, s.ci.hi))
    return format(s.median, spec) + (f" [{lo}-{hi}]" if lo != hi else "")


def main():
    rows, _ = results.load(sys.argv[1])
    pts = results.points(rows)
    print(f"{'server':<18} {'N':>6} {'syscalls/req':>20} {'EAGAIN/read':>16} {'CPU us/req':>18} "
          f"{'p99 us':>21} {'max req/s':>26}  status")
    for lab in results.labels(rows):
        for n in results.conns(rows):
            rate, closed = pts.get((lab, n, "rate"), []), pts.get((lab, n, "closed"), [])
            if not rate and not closed:
                continue
            st = results.status_of(rate + closed)
            print(f"{lab:<18} {n:>6} {fmt(results.stat(rate, 'syscalls_any'), '.2f'):>20} "
                  f"{fmt(results.stat(rate, 'eagain_reads_per_read'), '.1f'):>16} "
                  f"{fmt(results.stat(rate, 'cpu_us_per_req'), '.1f'):>18} {fmt(results.stat(rate, 'p99_us'), ',.0f'):>21} "
                  f"{fmt(results.stat(closed, 'achieved_rps'), ',.0f'):>26}  {st}")


if __name__ == "__main__":
    main()
