#!/usr/bin/env python3
"""test_loadgens.py - bench/lib/loadgens.py: several loadgens' results as one row's.

  - hand-made parts: counts and throughputs add, CPU per request is summed CPU over summed
    requests, utilisation the busiest part's, and the percentiles are those of the buckets
    together (3 requests at 100 µs and 1 at 900: p50 100, p90 900);
  - real loadgens (two at once against one echo-epoll, --rate 2k each, with --hist): the merge of
    one part gives back exactly that loadgen's own p50, p90, p99 and p999 (the same quantile as
    loadgen/hist.c); the merge of both has the summed requests and rate, no errors, and every
    percentile between the two parts' own;
  - the merged histogram (write_hist) reads back as the buckets of both, one line per value;
  - a histogram whose count disagrees with its JSON, or that is not one, is a MergeError.

usage: test_loadgens.py SOURCE_DIR BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(sys.argv[1], "bench", "lib"))
import loadgens  # noqa: E402
from verdict import fail  # noqa: E402


def hist(path, rows):
    with open(path, "w") as f:
        f.write("# value_us count cumulative_fraction (bucket middles)\n")
        total, seen = sum(c for _, c in rows), 0
        for v, c in rows:
            seen += c
            f.write(f"{v:.3f} {c} {seen / total:.9f}\n")


def part(requests, rps, cpu, util, lat_max, mean, count, rate=None):
    return {"requests": requests, "achieved_rps": rps, "offered_rps": rate, "errors": 0, "starved": 0,
            "bytes_in": requests * 64, "bytes_out": requests * 64, "errors_by_kind": {"verify": 0, "timeout": 0},
            "loadgen_cpu_us_per_req": cpu, "loadgen_user_us_per_req": cpu / 2, "loadgen_cpu_util": util,
            "loadgen_bound": None if rate is None else False, "connect_seconds": 0.1, "incomplete": False,
            "latency_us": {"max": lat_max, "mean": mean, "count": count},
            "window": {"seconds": 1.0, "start_realtime_ns": 1},
            "config": {"connections": 10, "active": 5, "rate": rate or 0}}


def synthetic(d):
    a, b = os.path.join(d, "a.hist"), os.path.join(d, "b.hist")
    hist(a, [(100.0, 3)])
    hist(b, [(900.0, 1)])
    m = loadgens.merge([(part(300, 300.0, 10.0, 0.2, 101.0, 100.0, 3), a),
                        (part(100, 100.0, 30.0, 0.6, 901.0, 900.0, 1), b)])
    want = {"requests": 400, "achieved_rps": 400.0, "loadgen_cpu_us_per_req": 15.0, "loadgen_cpu_util": 0.6}
    for k, v in want.items():
        if abs(m[k] - v) > 1e-9:
            fail(f"synthetic merge: {k} = {m[k]}, want {v}")
    lat = m["latency_us"]
    if (lat["p50"], lat["p90"], lat["max"], lat["count"]) != (100.0, 900.0, 901.0, 4) or abs(lat["mean"] - 300.0) > 1e-9:
        fail(f"synthetic merge: latency {lat}")
    if m["config"]["connections"] != 20 or m["config"]["hosts"] != 2 or m["offered_rps"] is not None:
        fail(f"synthetic merge: config {m['config']}, offered {m['offered_rps']}")
    # the merged histogram, written as a loadgen writes one, reads back as the same buckets
    c = os.path.join(d, "c.hist")
    hist(c, [(100.0, 2), (500.0, 1)])
    parts = [(part(300, 300.0, 10.0, 0.2, 101.0, 100.0, 3), a), (part(3, 3.0, 1.0, 0.1, 501.0, 233.0, 3), c)]
    merged = os.path.join(d, "merged.hist")
    with open(merged, "w") as f:
        loadgens.write_hist(f, loadgens.merged_buckets(parts))
    back = loadgens.read_hist(merged)
    if back != [(100.0, 5), (500.0, 1)]:
        fail(f"write_hist of 100x3, 100x2, 500x1 read back as {back}")
    with open(merged) as f:
        last = f.read().strip().splitlines()[-1].split()
    if float(last[2]) != 1.0:
        fail(f"write_hist: the last cumulative fraction is {last[2]}, want 1")
    for bad, why in ((part(300, 300.0, 10.0, 0.2, 101.0, 100.0, 4), "values, but its loadgen counted"),):
        try:
            loadgens.merge([(bad, a)])
            fail("a histogram of 3 values for a loadgen that counted 4 merged")
        except loadgens.MergeError as e:
            if why not in str(e):
                fail(f"MergeError: {e}")
    junk = os.path.join(d, "junk.hist")
    with open(junk, "w") as f:
        f.write("hello world\n")
    try:
        loadgens.merge([(part(1, 1.0, 1.0, 0.1, 1.0, 1.0, 1), junk)])
        fail("a file that is not a histogram merged")
    except loadgens.MergeError:
        pass


def real(d, build):
    server = subprocess.Popen([os.path.join(build, "servers", "echo-epoll"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("listening on "):
            fail(f"echo-epoll: {line!r}")
        port = line.strip().rsplit(":", 1)[1]
        procs = []
        for i in range(2):
            procs.append(subprocess.Popen(
                [os.path.join(build, "loadgen", "loadgen"), "--port", port, "--connections", "20", "--active", "10",
                 "--rate", "2k", "--duration", "1s", "--warmup", "0.2s", "--seed", str(i + 1),
                 "--json", os.path.join(d, f"lg{i}.json"), "--hist", os.path.join(d, f"lg{i}.hist")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate(timeout=60)
            if p.returncode != 0:
                fail(f"loadgen exit {p.returncode}: {err.strip()[-300:]}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    parts = []
    for i in range(2):
        with open(os.path.join(d, f"lg{i}.json")) as f:
            parts.append((json.load(f), os.path.join(d, f"lg{i}.hist")))
    for j, h in parts:
        one = loadgens.merge([(j, h)])["latency_us"]
        for k in ("p50", "p90", "p99", "p999", "max"):
            if abs(one[k] - j["latency_us"][k]) > 0.0015:  # the JSON's and the file's 3 decimals
                fail(f"the merge of one loadgen's histogram: {k} {one[k]}, the loadgen said {j['latency_us'][k]}")
    m = loadgens.merge(parts)
    if m["requests"] != sum(j["requests"] for j, _ in parts) or m["errors"] or m["starved"]:
        fail(f"merged: requests {m['requests']}, errors {m['errors']}, starved {m['starved']}")
    if m["offered_rps"] != 4000:
        fail(f"merged offered_rps {m['offered_rps']}, want 4000")
    for k in ("p50", "p90", "p99", "p999"):
        lo, hi = sorted(j["latency_us"][k] for j, _ in parts)
        if not lo - 0.0015 <= m["latency_us"][k] <= hi + 0.0015:
            fail(f"merged {k} {m['latency_us'][k]} is outside the parts' {lo}..{hi}")
    return m


def main():
    with tempfile.TemporaryDirectory() as d:
        synthetic(d)
        m = real(d, sys.argv[2])
    print(f"ok: synthetic merge exact; two real loadgens: {m['requests']} requests, p50 {m['latency_us']['p50']} µs, "
          f"p99 {m['latency_us']['p99']} µs, each part reproduced by a merge of one")


if __name__ == "__main__":
    main()
