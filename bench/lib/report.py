#!/usr/bin/env python3
"""report.py - REPORT.md for a run: every figure and every sentence in it is computed from the
run's rows (rows.json), its environment (meta.json) and hyperfine's results; none is typed in.

usage: report.py RUN_DIR
"""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capacity  # noqa: E402
import interval  # noqa: E402
import plotdata  # noqa: E402
import ratebasis  # noqa: E402
import results  # noqa: E402

CHARTS = [
    ("checks", "Readiness checks per request against N (the headline)"),
    ("syscalls", "Syscalls per request against N (poll makes fewer than epoll and loses: see the checks)"),
    ("shares", "Where the server's CPU went at the largest common N"),
    ("waitshare", "The wait's share of the server's CPU against N"),
    ("cpu", "Server CPU per request at the fixed rate"),
    ("latency", "p50 and p99 latency at the fixed rate"),
    ("throughput", "Maximum throughput, closed loop"),
    ("kinds", "Syscalls per request by kind"),
    ("memory", "Server memory (RSS) and threads"),
    ("cdf", "Latency distribution"),
    ("hyperfine", "Fixed work timed by hyperfine"),
    ("scaling", "A second event loop: echo-epoll --threads 1 and 2"),
    ("balance", "Per-loop shares of connections, requests and CPU with two loops"),
    ("capacity", "Sustainable requests per second under the latency bound, against N"),
    ("shapes-cpu", "Server CPU per request against request size, with and without pipelining"),
    ("shapes-syscalls", "Syscalls per request against request size, with and without pipelining"),
]


def num(x, spec=".2f"):
    return "–" if x is None else format(x, spec)


def rng(s, spec=".2f", unit=""):
    """median [lo–hi] of a Stat: the interval for its median (results.Stat.ci), or a dash."""
    if not s:
        return "–"
    lo, hi = (format(x, spec) for x in (s.ci.lo, s.ci.hi))
    return f"{format(s.median, spec)}{unit}" + (f" [{lo}–{hi}]" if lo != hi else "")


def within_noise(a, b):
    """Two medians whose intervals share a value: a difference the repetitions cannot tell from none."""
    return bool(a and b) and interval.overlap(a.ci, b.ci)


def noise(a, b, spec=".2f", unit=""):
    """What every comparison sentence adds: '; within the noise: ...' when the two Stats' intervals
    overlap, nothing when they do not."""
    if not within_noise(a, b):
        return ""
    def ci(x):
        return f"[{format(x.ci.lo, spec)}–{format(x.ci.hi, spec)}]{unit}"
    return f"; within the noise: the intervals {ci(a)} and {ci(b)} overlap"


def intervals_said(rows):
    """The first paragraph's sentence on the intervals: their kind and the coverage this run's
    repetitions give."""
    reps = {}
    for r in rows:
        if r["status"] == "ok" and results.published(r):
            k = (r["label"], r["connections"], r["mode"])
            reps[k] = reps.get(k, 0) + 1
    ns = sorted(set(reps.values()))
    if not ns:
        return ""
    cov = sorted({round(interval.median_interval(range(n)).coverage * 100) for n in ns if n > 1})
    return (f"Beside each median, in brackets, its distribution-free interval (the sign test's order statistics: "
            f"results/README.md, \"Intervals\"); with {'/'.join(map(str, ns))} repetition(s) a point it covers the "
            f"median with {'/'.join(f'{c}%' for c in cov) or 'no'} probability (95% takes 6 repetitions: REPS=6 or "
            f"REPS=auto). A comparison whose two intervals overlap is said to be within the noise.")


def uring_saving(sc, saved, e_cpu):
    """What the syscalls io_uring does not make are worth on this machine: saved per request at the
    entry cost bench/syscallcost measured (getppid: entry and exit, nothing else, which is all that
    io_uring saves, since the sends and receives it still makes), against epoll's CPU per request."""
    if not sc or not sc.get("getppid_ns") or saved <= 0:
        return ": the syscalls it saves were never most of the cost, which is TCP's work in the kernel, the same for both."
    us = saved * sc["getppid_ns"] / 1000
    share = us / e_cpu
    return (f": at this machine's {sc['getppid_ns']:,.0f} ns per syscall entry and exit (getppid, the environment "
            f"table) the {saved:.2f} syscalls per request it saves are worth about {us:.2f} µs, {share * 100:.0f}% of "
            f"epoll's CPU per request: the other {max(0.0, 1 - share) * 100:.0f}% is not what entering the kernel costs but "
            f"the work done there, TCP's most of all, which io_uring does too.")


def syscall_cost_text(sc):
    """The environment's syscall entry row: bench/syscallcost's figures (meta.json), None without."""
    if not sc or not sc.get("getppid_ns"):
        return None
    return (f"getppid {sc['getppid_ns']:,.0f} ns [{sc['getppid_ns_min']:,.0f}–{sc['getppid_ns_max']:,.0f}], "
            f"a read() that finds nothing {sc['read_eagain_ns']:,.0f} ns [{sc['read_eagain_ns_min']:,.0f}–"
            f"{sc['read_eagain_ns_max']:,.0f}] (bench/syscallcost on the server's CPU: median and range of "
            f"{sc['rounds']} rounds of {sc['calls']:,} calls)")


def mitigations_text(m):
    """The environment's mitigations row: every line of /sys/devices/system/cpu/vulnerabilities that
    is not "Not affected", then how many are; None where the run did not record them."""
    if not m:
        return None
    told = [f"{k}: {v}" for k, v in sorted(m.items()) if v != "Not affected"]
    rest = len(m) - len(told)
    return "; ".join(told + ([f"{rest} others: Not affected"] if rest else []))


def ratio(a, b):
    return a / b if a is not None and b else None


def scaling_section(run_dir, w):
    """bench/scaling's rows (RUN_DIR/scaling): echo-epoll with 1 and 2 event loops, placement all,
    two loops accepting by SO_REUSEPORT and by EPOLLEXCLUSIVE; then how evenly the loops shared."""
    path = os.path.join(run_dir, "scaling")
    if not os.path.exists(os.path.join(path, "rows.json")):
        return
    rows, _ = results.load(path)
    ok = [r for r in rows if r["status"] == "ok" and r["server"] == "epoll"]  # the blocking acceptors: balance only
    if not ok:
        return
    nloops = {results.label(r): plotdata.loops(r) for r in ok}
    labs = sorted(nloops, key=lambda lab: (nloops[lab], lab))
    rates = sorted({r["offered_rps"] for r in ok if r["mode"] == "rate"})
    n = ok[0]["connections"]

    def pick(lab, mode, rate=None):
        return [r for r in ok if results.label(r) == lab and r["mode"] == mode and (rate is None or r["offered_rps"] == rate)]

    w("## A second event loop\n")
    w(f"`bench/scaling`: echo-epoll with `--threads T` at N={n:,} connections, {ok[0]['active']} active, the server "
      f"and the loadgen both free to run on every CPU (placement all); with two loops, each with a SO_REUSEPORT "
      f"listener of its own (the default) and with one listener in both loops' sets (`--accept exclusive`, "
      f"EPOLLEXCLUSIVE). Server CPU is summed over its threads, so its utilisation can pass 100%. Medians over "
      f"the repetitions, the interval for each beside it.\n")
    w("| server | loops | closed: req/s | closed: CPU µs/req | closed: server / loadgen busy | "
      + " | ".join(f"{int(r) // 1000}k req/s: CPU µs/req" for r in rates) + " |")
    w("| --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(rates))
    for lab in labs:
        c = pick(lab, "closed")
        su, lu = results.Stat([r.get("server_util") for r in c]), results.Stat([r.get("loadgen_util") for r in c])
        busy = f"{su.median * 100:.0f}% / {lu.median * 100:.0f}%" if su and lu else "–"
        w(f"| {lab} | {nloops[lab]} | {rng(results.stat(c, 'achieved_rps'), ',.0f')} | {rng(results.stat(c, 'cpu_us_per_req'), '.1f')} | {busy} | "
          + " | ".join(rng(results.stat(pick(lab, 'rate', r), 'cpu_us_per_req'), '.1f') for r in rates) + " |")
    w("")
    plain = [lab for lab in labs if not any(plotdata.exclusive(r) for r in ok if results.label(r) == lab)]
    if len({nloops[lab] for lab in plain}) >= 2:
        a, b = plain[0], plain[-1]
        la, lb = nloops[a], nloops[b]
        sa, sb = results.stat(pick(a, "closed"), "achieved_rps"), results.stat(pick(b, "closed"), "achieved_rps")
        ta, tb = sa.median, sb.median
        if ta and tb:
            w(f"- Closed loop, {lb} loops against {la}: {tb / ta:.2f}x the throughput{noise(sb, sa, ',.0f')}. "
              f"On a 2-core machine the loadgen needs "
              f"about as much CPU per request as the server (TCP costs both sides alike), so the whole machine, not the "
              f"server's loop count, is the bound; a second loop can only take CPU the loadgen would have used.")
        for r in rates:
            sa, sb = (results.stat(pick(lab, "rate", r), "cpu_us_per_req") for lab in (a, b))
            ca, cb = sa.median, sb.median
            if ca and cb:
                why = ("" if within_noise(sa, sb) else
                       ": more: each loop wakes for its share of the events, so every wake-up carries fewer"
                       if cb > ca else ": less")
                w(f"- At {r:,.0f} req/s, CPU per request with {lb} loops was {cb / ca:.2f}x that with {la} "
                  f"({cb:.1f} against {ca:.1f} µs){noise(sb, sa, '.1f')}{why}.")
        w("")
    balance_section(rows, w)


def balance_section(rows, w):
    """How evenly each multi-loop server's loops shared connections, requests and CPU (plotdata.balance),
    and Jain's index of each; one sentence comparing the two ways of accepting."""
    got = plotdata.balance(rows)
    if not got:
        return
    w("### Balance across loops\n")
    w("Each loop's share of the connections it holds (all of them connect before the window, so these are its "
      "accepts), of the requests it served in the window and of the server's CPU there (each loop's own thread, "
      "RUSAGE_THREAD; echo-blocking's acceptors start a thread per connection, so no thread is their loop and "
      "their CPU is not known), medians over the published repetitions; then Jain's fairness index of each over "
      "the loops, (Σx)² / (k·Σx²): 1 when every loop has the same, 1/k when one has it all.\n")
    w("| server | load | connections | requests | CPU | Jain: connections | Jain: requests | Jain: CPU |")
    w("| --- | --- | --- | --- | --- | ---: | ---: | ---: |")
    for (lab, load), v in got.items():
        sh = ["/".join(f"{100 * x:.0f}%" for x in v["shares"][m]) if v["shares"][m] else "–" for m, _ in plotdata.BALANCE]
        w(f"| {lab} | {load} | " + " | ".join(sh) + " | "
          + " | ".join(rng(v["jain"][m], ".3f") for m, _ in plotdata.BALANCE) + " |")
    w("")
    rates = sorted({ld for _, ld in got if ld != "closed"}, key=lambda x: int(x[:-1]))
    at = rates[0] if rates else "closed"
    two = [(lab, v) for (lab, ld), v in got.items() if ld == at]
    ex = [(lab, v) for lab, v in two if "exclusive" in lab]
    rp = [(lab, v) for lab, v in two if lab.startswith("epoll") and "exclusive" not in lab
          and v["loops"] == (ex[0][1]["loops"] if ex else 0)]
    if ex and rp:
        (le, ve), (lr, vr) = ex[0], rp[0]
        parts = []
        for m, name in plotdata.BALANCE:
            je, jr = ve["jain"][m], vr["jain"][m]
            if je and jr:
                parts.append(f"{name} {jr.median:.3f} against {je.median:.3f}{noise(jr, je, '.3f')}")
        w(f"- At {at} req/s, Jain's index of {lr} (SO_REUSEPORT: the kernel hashes each connection to a listener) "
          f"against {le} (EPOLLEXCLUSIVE: one listener, the kernel wakes one waiting loop, the last to wait first): "
          + "; ".join(parts) + ". The connections' index is the accept balance; the requests' and CPU's follow "
          "from which loops hold the active connections.")
    bl = [(lab, v) for lab, v in two if lab.startswith("blocking") and v["shares"]["conns"]]
    if bl:
        lab, v = bl[0]
        sh = "/".join(f"{100 * x:.0f}%" for x in v["shares"]["conns"])
        others = [(lo, vo) for lo, vo in (rp[:1] + ex[:1]) if vo["jain"]["conns"]]
        vs = " and ".join(f"{lo}'s {vo['jain']['conns'].median:.3f}{noise(v['jain']['conns'], vo['jain']['conns'], '.3f')}"
                          for lo, vo in others)
        vs = f", against {vs}" if vs else ""
        w(f"- {lab} ({v['loops']} threads blocked in accept() on one listener: the kernel wakes the one that has "
          f"waited longest): the accepts split {sh}, Jain's index {v['jain']['conns'].median:.3f}{vs}.")
    w("")


def manyconns_section(run_dir, w):
    """bench/manyconns' rows (RUN_DIR/manyconns): a server with workers from 10,000 to 100,000
    connections at one fixed rate, and the one-process servers' fd_limit rows past 20,000."""
    path = os.path.join(run_dir, "manyconns")
    if not os.path.exists(os.path.join(path, "rows.json")):
        return
    rows, meta = results.load(path)
    pts = results.points(rows)
    wide = [lab for lab in results.labels(rows) if any(r["status"] == "ok" for r in rows if r["label"] == lab)]
    if not wide:
        return
    rate = next((r["offered_rps"] for r in rows if r.get("offered_rps")), None)
    soft = (meta.get("rlimit_nofile") or {}).get("soft")
    w("## 100,000 connections\n")
    w(f"`bench/manyconns`: N connections of which {rows[0]['active']} are active, at a fixed {rate:,} requests/s, so "
      f"that every N does the same work. One process may open {soft:,} fds here (RLIMIT_NOFILE), so past that the "
      f"server needs worker processes and bench/run deals the load over several loadgens, each from source addresses "
      f"of its own below the connect knee (`rows.json`: `loadgens`, `client_shares`). RSS is the server's, summed over "
      f"its processes; TCP memory is the kernel's socket buffer pages (/proc/net/sockstat, read inside the window, "
      f"less its value before the server started) per connection, both ends of each loopback connection together: "
      f"buffers only, which an idle connection has none of; slab is the growth of the kernel caches a connection "
      f"takes its objects from (/proc/slabinfo: tcp_sock, socket inode, file, epoll entry), the same way. "
      f"Medians over the repetitions, the interval for each beside it.\n")
    for lab in wide:
        ns = sorted({n for (lb, n, _) in pts if lb == lab})
        w(f"### {lab}\n")
        w("| N | CPU µs/req | syscalls/req | checks/req | p99 µs | RSS KiB | RSS B/conn | TCP mem B/conn | "
          "slab B/conn | loadgens | status |")
        w("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for n in ns:
            rs = pts.get((lab, n, "rate"), [])
            ok = [r for r in rs if r["status"] == "ok"]
            rss = results.Stat([r.get("rss_kb") for r in ok])
            per = results.Stat([r["rss_kb"] * 1024 / n for r in ok if r.get("rss_kb")])
            tcp = results.Stat([(r.get("sockstat") or {}).get("tcp_mem_bytes_per_conn") for r in ok])
            slab = results.Stat([(r.get("sockstat") or {}).get("slab_bytes_per_conn") for r in ok])
            parts = max((len(r.get("loadgens") or []) or 1 for r in ok), default=0)
            w(f"| {n:,} | {rng(results.stat(rs, 'cpu_us_per_req'), '.1f')} | {rng(results.stat(rs, 'syscalls_per_req'))} | "
              f"{rng(results.stat(rs, 'checks_per_req'))} | {rng(results.stat(rs, 'p99_us'), ',.0f')} | {rng(rss, ',.0f')} | "
              f"{rng(per, ',.0f')} | {rng(tcp, ',.0f')} | {rng(slab, ',.0f')} | {parts or '–'} | {results.status_of(rs)} |")
        w("")
        lo, hi = ns[0], ns[-1]
        c_lo = results.stat(pts.get((lab, lo, "rate"), []), "cpu_us_per_req")
        c_hi = results.stat(pts.get((lab, hi, "rate"), []), "cpu_us_per_req")
        r_lo = results.stat(pts.get((lab, lo, "rate"), []), "rss_kb").median
        r_hi = results.stat(pts.get((lab, hi, "rate"), []), "rss_kb").median
        if c_lo.median and c_hi.median and hi > lo:
            x = c_hi.median / c_lo.median
            w(f"- CPU per request at N = {hi:,} was {x:.2f}x that at {lo:,} ({c_hi.median:.1f} against "
              f"{c_lo.median:.1f} µs), with {hi / lo:.0f} times the idle connections"
              + noise(c_hi, c_lo, ".1f") + ". "
              + ("epoll's cost follows the ready connections, not the held ones." if x <= 1.15 or within_noise(c_hi, c_lo) else
                 "more than 15% dearer, though the work was the same; the syscalls and checks per request above "
                 "say whether the loop or the kernel paid it."))
        if r_lo and r_hi and hi > lo:
            w(f"- Each connection past {lo:,} added {(r_hi - r_lo) * 1024 / (hi - lo):,.0f} bytes of server RSS "
              f"(from {r_lo / 1024:,.1f} to {r_hi / 1024:,.1f} MiB).")
        w("")
    refused = sorted({r["label"] for r in rows if r["status"] == "unsupported:fd_limit"}, key=results.sort_key)
    if refused:
        at = sorted({r["connections"] for r in rows if r["status"] == "unsupported:fd_limit"})
        w(f"- {', '.join(refused)}: `unsupported:fd_limit` at N = {', '.join(f'{n:,}' for n in at)}. Each is one "
          f"process, and one process may open {soft:,} fds here; the hard limit, not the model, stops them.")
    other = sorted({(r["label"], r["status"]) for r in rows
                    if r["status"] != "ok" and r["status"] != "unsupported:fd_limit" and r["label"] not in wide})
    for lab, st in other:
        w(f"- {lab}: `{st}` (results/README.md, `status`).")
    w("")


def capacity_section(run_dir, w):
    """bench/capacities' searches (RUN_DIR/capacity/*/capacity.json): each server's capacity under
    one latency bound at each N."""
    docs = plotdata.capacities(run_dir)
    if not docs:
        return
    ns = sorted({x["connections"] for x in docs})
    x0 = docs[0]
    w("## Capacity under a latency bound\n")
    w(f"`bench/capacities`: for each server and N, the highest fixed rate at which the {x0['percentile']} latency, "
      f"measured from each request's scheduled send, stayed within {x0['bound_us'] / 1000:g} ms and at least "
      f"{x0['met']:.0%} of the rate was achieved (medians over {x0['reps']} repetition(s) a step; bench/capacity "
      f"brackets, then bisects until the bracket's ends are within {x0['precision']:.0%}). Beside each capacity, its "
      f"interval: from the highest rate at which every repetition's median interval passed to the lowest at which it "
      f"surely failed (? where no step measured was sure); the rates in between are those this run could not tell "
      f"apart from the capacity (results/README.md, \"Capacity under a latency bound\"). `loadgen_bound`: above the "
      f"bracket the loadgen's CPU, not the server's, was saturated, so the capacity is at least the figure given.\n")
    w("| server | " + " | ".join(f"N = {n:,}" for n in ns) + " |")
    w("| --- |" + " ---: |" * len(ns))

    def cell(x):
        if x is None:
            return "–"
        if not x.get("capacity_rps"):
            return f"none ({x['verdict']})"
        iv = x.get("interval") or x["bracket"]
        return f"{x['capacity_rps']:,} {capacity.interval_text(iv)}" + (f" ({x['verdict']})" if x["verdict"] != "ok" else "")
    for lab in dict.fromkeys(x["server"] for x in docs):
        w(f"| {lab} | " + " | ".join(cell(next((x for x in docs if x["server"] == lab and x["connections"] == n), None))
                                     for n in ns) + " |")
    w("")
    said = []
    for n in ns:
        e = next((x for x in docs if x["server"] == "epoll" and x["connections"] == n and x.get("capacity_rps")), None)
        if not e:
            continue
        for lab in ("poll", "uring"):
            o = next((x for x in docs if x["server"] == lab and x["connections"] == n and x.get("capacity_rps")), None)
            if not o:
                continue
            (elo, ehi), (olo, ohi) = (x.get("interval") or x["bracket"] for x in (e, o))
            # the ends that decide an overlap: the lower one's top and the higher one's bottom
            low, high = ((o, (olo, ohi)), (e, (elo, ehi))) if o["capacity_rps"] <= e["capacity_rps"] \
                else ((e, (elo, ehi)), (o, (olo, ohi)))
            top, bottom = low[1][1], high[1][0]
            both = f"{capacity.interval_text((olo, ohi))} and {capacity.interval_text((elo, ehi))}"
            if top is not None and bottom is not None:
                tail = f"; within the noise: the intervals {both} overlap" if top >= bottom else ""
            else:
                tail = (f"; whether that is within the noise is not known: the intervals {both} lack the end "
                        f"that decides it (no step measured was sure there)")
            said.append(f"At N = {n:,}, {lab} sustained {o['capacity_rps'] / e['capacity_rps']:.2f}x epoll's rate under "
                        f"{x0['slo']}{tail}.")
    if said:
        w(" ".join(said) + "\n")


def size_text(b):
    return f"{b // 1024} KiB" if b >= 1024 and b % 1024 == 0 else f"{b} B"


def rate_rows_of_shapes(run_dir, sub):
    """RUN_DIR/SUB's fixed-rate rows of every request size and pipeline, and their sizes; None where
    there is no such sweep or none of its rows is ok."""
    path = os.path.join(run_dir, sub)
    if not os.path.exists(os.path.join(path, "rows.json")):
        return None
    rows, _ = results.load(path, shapes=True)
    ok = [r for r in rows if r["mode"] == "rate"]
    if not any(r["status"] == "ok" for r in ok):
        return None
    return ok, sorted({results.shape(r)[0] for r in ok})


def shapes_section(run_dir, w):
    """bench/shapes' rows (RUN_DIR/shapes/): CPU and syscalls per request against request size and
    pipelining, at one N and the fixed rate."""
    got = rate_rows_of_shapes(run_dir, "shapes")
    if not got:
        return
    ok, sizes = got
    pipes = sorted({results.shape(r)[1] for r in ok})
    n, rate = ok[0]["connections"], ok[0]["offered_rps"]

    def st(lab, size, k, key):
        return results.stat([r for r in ok if r["label"] == lab and results.shape(r) == (size, k)], key)
    w("## Message size and pipelining\n")
    w(f"`bench/shapes`: N = {n:,}, M = {ok[0]['active']} active, {rate:,} requests/s; request sizes "
      f"{', '.join(size_text(z) for z in sizes)}; pipeline {', '.join(map(str, pipes))} (a client writes that many "
      f"requests to one connection at once, in one write, and waits for their echoes: redis-benchmark's -P). "
      f"Per-request figures divide by requests, not batches. Medians [interval].\n")
    for title, key, spec in (("CPU µs per request", "cpu_us_per_req", ".1f"),
                             ("syscalls per request", "syscalls_any", ".2f")):
        w(f"{title}:\n")
        w("| server | pipeline | " + " | ".join(size_text(z) for z in sizes) + " |")
        w("| --- | ---: |" + " ---: |" * len(sizes))
        for lab in results.labels(ok):
            for k in pipes:
                cells = [st(lab, z, k, key) for z in sizes]
                if not any(cells):
                    if not any(r["label"] == lab and results.shape(r)[1] == k for r in ok):
                        continue
                    w(f"| {lab} | {k} | " + " | ".join([results.status_of(
                        [r for r in ok if r["label"] == lab and results.shape(r) == (z, k)]) for z in sizes]) + " |")
                    continue
                w(f"| {lab} | {k} | " + " | ".join(rng(c, spec) for c in cells) + " |")
        w("")
    facts = []
    lo_z, hi_z, lo_k, hi_k = sizes[0], sizes[-1], pipes[0], pipes[-1]
    for lab in [x for x in ("epoll", "poll", "uring") if any(r["label"] == x for r in ok)]:
        a, b = st(lab, lo_z, lo_k, "cpu_us_per_req"), st(lab, hi_z, lo_k, "cpu_us_per_req")
        if a and b and hi_z != lo_z:
            facts.append(f"{lab}'s CPU per request at {size_text(hi_z)} was {b.median / a.median:.2f}x its CPU at "
                         f"{size_text(lo_z)} ({rng(b, '.1f')} against {rng(a, '.1f')} µs{noise(b, a, '.1f')}).")
        a, b = st(lab, lo_z, lo_k, "syscalls_any"), st(lab, lo_z, hi_k, "syscalls_any")
        c, d = st(lab, lo_z, lo_k, "cpu_us_per_req"), st(lab, lo_z, hi_k, "cpu_us_per_req")
        if a and b and c and d and hi_k != lo_k:
            facts.append(f"Pipelining {hi_k} at {size_text(lo_z)} took {lab} from {a.median:.2f} to {b.median:.2f} "
                         f"syscalls per request{noise(b, a)}. Its CPU per request went to {d.median / c.median:.2f}x "
                         f"({rng(d, '.1f')} against {rng(c, '.1f')} µs{noise(d, c, '.1f')}).")
    for f_ in facts:
        w(f"- {f_}")
    if facts:
        w("")


# Why a variant has no figures, by its status: what the row's status means on this machine.
VARIANT_WHY = {
    "unsupported:no_napi": "its connections carried no NAPI id (loopback has no NAPI device, so no socket gets one), "
                           "so epoll had nothing to busy-poll: its figures would be plain epoll's, and are not published",
    "unsupported:kernel": "this kernel refused the feature (the server exited 77; its line in logs/ names the errno)",
}


def variants_section(run_dir, w):
    """bench/variants' rows (RUN_DIR/variants/): every variant beside its base (the server whose
    executable it runs with options: epoll-oneshot beside epoll), at one N and the fixed rate, with a
    sentence each computed from the two rows."""
    path = os.path.join(run_dir, "variants")
    if not os.path.exists(os.path.join(path, "rows.json")):
        return
    rows, _ = results.load(path)
    rows = [r for r in rows if r["mode"] == "rate"]
    if not rows:
        return
    n, m, rate = rows[0]["connections"], rows[0]["active"], rows[0]["offered_rps"]
    labs = results.labels(rows)
    bases = [lab for lab in labs if any(r["label"] == lab == r["server"] for r in rows)]
    of = {lab: [r for r in rows if r["label"] == lab] for lab in labs}
    w("## What the newer interfaces buy\n")
    w(f"`bench/variants`: each layout or newer interface beside the server it varies (the same executable with "
      f"an option), N = {n:,}, M = {m} active, {rate:,} requests/s, in one job. CPU per request is every thread "
      f"of the server's, medians [interval].\n")
    cols = (("syscalls_any", ".2f"), ("checks_any", ",.2f"), ("cpu_us_per_req", ".1f"), ("p99_us", ",.0f"))
    w("| server | beside | syscalls/req | checks/req | CPU µs/req | p99 µs | status |")
    w("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for base in bases:
        for lab in [base] + [x for x in labs if x != base and of[x][0]["server"] == base]:
            cells = [rng(results.stat(of[lab], k), spec) for k, spec in cols]
            w(f"| {lab} | {'–' if lab == base else base} | " + " | ".join(cells) + f" | {results.status_of(of[lab])} |")
    w("")
    facts = []
    for lab in labs:
        base = of[lab][0]["server"]
        if lab == base or base not in of:
            continue
        status = results.status_of(of[lab])
        if status != "ok":
            facts.append(f"{lab}: `{status}`: {VARIANT_WHY.get(status, 'its rows say why (rows.json, logs/)')}.")
            continue
        st = {k: (results.stat(of[lab], k), results.stat(of[base], k)) for k, _ in cols}
        (sv, sb), (kv, kb), (cv, cb), (pv, pb) = (st[k] for k, _ in cols)
        parts = []
        if sv and sb:
            parts.append(f"made {sv.median:.2f} syscalls per request against {base}'s {sb.median:.2f} "
                         f"({sv.median - sb.median:+.2f}{noise(sv, sb)})")
        if kv and kb and (kv.median > 2 * kb.median or kb.median > 2 * kv.median):
            parts.append(f"its loop was told of {kv.median:,.1f} ready fds per request against {kb.median:,.1f}")
        if cv and cb:
            parts.append(f"used {cv.median / cb.median:.2f}x {base}'s CPU per request ({rng(cv, '.1f')} against "
                         f"{rng(cb, '.1f')} µs{noise(cv, cb, '.1f')})")
        # echo-uring --sqpoll: how much of that CPU was the kernel's SQ thread, and where it ran
        sq = results.stat(of[lab], "sq_cpu_us_per_req")
        if sq and cv:
            where = sorted({(r["sq_thread"]["cpu"], r["sq_thread"]["allowed"]) for r in of[lab] if r.get("sq_thread")})
            on = "; ".join(f"CPU {c}, allowed {a}" for c, a in where)
            parts.append(f"of which its SQ thread ({on}) used {rng(sq, '.1f')} µs ({sq.median / cv.median:.0%})")
        if pv and pb:
            parts.append(f"and had a p99 of {pv.median:,.0f} against {pb.median:,.0f} µs{noise(pv, pb, ',.0f', ' µs')}")
        if parts:
            facts.append(f"{lab} " + ", ".join(parts) + "." + copied_said(of[lab]))
    for f_ in facts:
        w(f"- {f_}")
    if facts:
        w("")
    sized_variants(run_dir, w)


def copied_said(rows, why=True):
    """echo-uring --zc: ' The kernel copied X% of its zero-copy sends after all' (its notifications
    say so, IORING_NOTIF_USAGE_ZC_COPIED), with why once (why), or nothing for a row without
    zero-copy sends."""
    share = results.stat(rows, "zc_copied_share")
    if not share:
        return ""
    return (f" The kernel copied {share.median:.0%} of its zero-copy sends after all"
            + (" (each send's notification says; a packet delivered on this host cannot keep the sender's pages)."
               if why else "."))


def sized_variants(run_dir, w):
    """bench/variants' second sweep (RUN_DIR/variants-sizes/): uring-zc and uring-bundle beside uring
    at the request sizes where they might pay, with a sentence per variant and size."""
    got = rate_rows_of_shapes(run_dir, "variants-sizes")
    if not got:
        return
    ok, sizes = got
    labs = results.labels(ok)
    n, rate = ok[0]["connections"], ok[0]["offered_rps"]

    def at(lab, size):
        return [r for r in ok if r["label"] == lab and results.shape(r)[0] == size]
    w(f"Where the request size matters: {', '.join(x for x in labs if x != 'uring')} again beside uring at "
      f"{', '.join(size_text(z) for z in sizes)} requests, N = {n:,}, {rate:,} requests/s (bench/variants' "
      f"VARIANT_SIZES, VARIANT_SIZES_RATE). A ring buffer is a page, so a plain receive brings at most 4 KiB: "
      f"checks/req are the completions reaped per request.\n")
    w("| size | server | syscalls/req | checks/req | CPU µs/req | p99 µs | copied | status |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for z in sizes:
        for lab in labs:
            rs = at(lab, z)
            if not rs:
                continue
            cells = [rng(results.stat(rs, k), spec) for k, spec in
                     (("syscalls_any", ".2f"), ("checks_any", ".2f"), ("cpu_us_per_req", ".1f"), ("p99_us", ",.0f"))]
            share = results.stat(rs, "zc_copied_share")
            w(f"| {size_text(z)} | {lab} | " + " | ".join(cells) + f" | {f'{share.median:.0%}' if share else '–'} | "
              f"{results.status_of(rs)} |")
    w("")
    facts = []
    for z in sizes:
        cb, kb = results.stat(at("uring", z), "cpu_us_per_req"), results.stat(at("uring", z), "checks_any")
        for lab in (x for x in labs if x != "uring"):
            cv, kv = results.stat(at(lab, z), "cpu_us_per_req"), results.stat(at(lab, z), "checks_any")
            if not (cv and cb):
                continue
            said = (f"At {size_text(z)}, {lab} used {cv.median / cb.median:.2f}x uring's CPU per request "
                    f"({rng(cv, '.1f')} against {rng(cb, '.1f')} µs{noise(cv, cb, '.1f')})")
            if lab == "uring-bundle" and kv and kb:
                said += (f" and reaped {kv.median:.2f} completions per request against {kb.median:.2f}"
                         f"{noise(kv, kb)}")
            facts.append(said + "." + copied_said(at(lab, z), why=False))
    for f_ in facts:
        w(f"- {f_}")
    if facts:
        w("")


def bound_facts(rows):
    """The sentences that carry the rows' `bound` verdicts (results.bound), over the rows that ran."""
    ok = [r for r in rows if r["status"] == "ok" and "bound" in r and results.published(r)]

    def pts(verdict, mode=None):
        return sorted({f"{r['label']} N={r['connections']:,} {r['mode']}" for r in ok
                       if r["bound"] == verdict and mode in (None, r["mode"])},
                      key=lambda p: (results.sort_key(p.split()[0]), int(p.split()[1][2:].replace(",", "")), p))
    loadgen, server, neither = pts("loadgen"), pts("server", "rate"), pts("neither")
    out = [("These points were loadgen-bound (the loadgen's core was at least 95% busy while the server's was "
            "not; a point is listed where any of its repetitions was): " + "; ".join(loadgen) + ". Their figures "
            "measure the loadgen, not the server.") if loadgen
           else "No row was loadgen-bound: the loadgen's core was never saturated while the server's was not."]
    if server:
        out.append("At the fixed rate these points were server-bound (the server's core was at least 95% busy, "
                   "counting, where bench/run sampled its cgroup, the time it waited for that core as well as its CPU "
                   "time; busy-poll's always is, since it spins): "
                   + "; ".join(server) + ". Their figures are the server at its limit; where the rate was missed, "
                   "the server could not keep up.")
    if neither:
        out.append("At these points the rate was missed with neither core saturated: " + "; ".join(neither) + ". "
                   "Something other than CPU set the pace (a stall, a wake-up, a limit), so they measure neither "
                   "side's capacity.")
    closed = {(r["label"], r["connections"]) for r in ok if r["mode"] == "closed"}
    if closed:
        srv, idle = pts("server", "closed"), pts("", "closed")
        out.append(f"In closed loop the server's core was the saturated one at {len(srv)} of {len(closed)} points"
                   + (f"; neither core reached 95% at {'; '.join(idle)}" if idle else "") + ".")
    return out


def poll_per_call(pts, ns, at):
    """poll's checks per request are its fds per call times its calls per request: one sentence with
    both at N = at, and, where checks per request fell from one N to the next, why (each call found
    more requests: the server was saturated or the load batched), computed from the rows."""
    def per(n):
        rows = pts.get(("poll", n, "rate"), [])
        chk, waits = results.stat(rows, "checks_per_req").median, results.stat(rows, "waits_per_req").median
        return (chk, chk / waits, 1 / waits) if chk and waits else None
    here = per(at)
    if not here:
        return ""
    out = (f" Each poll call checked {here[1]:,.0f} fds (every fd it held: the connections, the listener and "
           f"the wake-up fd) and found {here[2]:,.0f} requests on average.")
    have = [(n, per(n)) for n in ns if per(n)]
    fell = [(a, b) for a, b in zip(have, have[1:]) if b[1][0] < a[1][0]]
    if fell:
        (n0, a), (n1, b) = fell[-1]
        out += (f" Checks per request fall where each call finds more: from N = {n0:,} to {n1:,} they went from "
                f"{a[0]:,.0f} to {b[0]:,.0f} while the fds per call grew from {a[1]:,.0f} to {b[1]:,.0f}, since each "
                f"call found {b[2]:,.0f} requests instead of {a[2]:,.0f}"
                + (": its core was saturated there (server-bound), and the longer each call took, the more "
                   "requests were waiting when it returned." if any(r.get("bound") == "server" and results.published(r)
                                                                   for r in pts.get(("poll", n1, "rate"), []))
                   else "."))
    return out


# The smallest change of a wait share across the Ns, in percentage points, that the report calls a
# trend: about twice the spread (one standard deviation) of one point's profiled repetitions.
TREND_POINTS = 10


def wait_trend(points):
    """The change of the wait share from the first N to the last on the least-squares line of share
    against log10 N through every point: one profiled repetition per point is noisy, and the line
    weighs every N where the two end points alone would not."""
    xs = [math.log10(n) for n, _ in points]
    ys = [y for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return slope * (xs[-1] - xs[0])


def shares_section(w, pts, labs, ns, at, rate):
    """Where the server's CPU went at N = at (profiled repetitions), and how poll's and epoll's
    wait share moved with N; one line when the run has no profiled repetitions."""
    w("## Where the server's CPU went\n")
    got = {lab: results.shares(pts.get((lab, at, "rate"), [])) for lab in labs}
    got = {lab: v for lab, v in got.items() if v}
    if not got:
        w("No profiled repetitions in this run (bench/run --profile; the sweep's PROFILE=1).\n")
        return
    w(f"At N = {at:,}, {rate:,} req/s: the share of the server's CPU samples (perf record -e cpu-clock, "
      f"kernel call chains, one profiled repetition per point that no published figure comes from) in its "
      f"wait, in receiving, in sending (on loopback: the receiver's TCP work and its wake-up too), in the "
      f"rest of the kernel and in user space. perf report's top 30 symbols per run: logs/*.perf-report.txt.\n")
    w("| server | wait | receive | send | other kernel | user |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    for lab, v in got.items():
        w(f"| {lab} | " + " | ".join(f"{100 * v[k]:.0f}%" for k in results.SHARES) + " |")
    w("")
    facts = []
    if "poll" in got and "epoll" in got:
        facts.append(f"poll spent {100 * got['poll']['wait']:.0f}% of its CPU in the wait, epoll "
                     f"{100 * got['epoll']['wait']:.0f}%.")
    for lab in ("poll", "epoll"):
        have = [(n, results.shares(pts.get((lab, n, "rate"), []))) for n in ns]
        have = [(n, v["wait"]) for n, v in have if v]
        if len(have) >= 2:
            change = wait_trend(have)
            verb = ("grew" if change >= TREND_POINTS / 100 else "fell" if change <= -TREND_POINTS / 100
                    else "stayed about the same")
            lo, hi = have[0][1], have[-1][1]
            facts.append(f"From N = {have[0][0]:,} to {have[-1][0]:,}, {lab}'s wait share {verb} "
                         f"({100 * lo:.0f}% to {100 * hi:.0f}%; {100 * change:+.0f} points on the least-squares "
                         f"line against log N through its {len(have)} points).")
    if any("wait share" in f for f in facts):
        facts.append(f"A change under {TREND_POINTS} points counts as none: the profile is one repetition per "
                     f"point, and repetitions of one point spread by several points (results/README.md, "
                     f"\"Where the CPU went\", has this machine's figure).")
    if facts:
        w(" ".join(facts) + "\n")


def main():
    run_dir = sys.argv[1]
    rows, meta = results.load(run_dir)
    pts = results.points(rows)
    labs = results.labels(rows)
    ns = results.conns(rows)
    at = 10000 if 10000 in ns else ns[-1]
    m_at = min(500, at)
    rate = next((r["offered_rps"] for r in rows if r["mode"] == "rate" and r.get("offered_rps")), None)
    ticks = {r.get("tick") for r in rows if r["mode"] == "rate"}
    reps = max((r["rep"] for r in rows), default=0)
    main_size, main_k = results.main_shape(rows)
    windows = {round(r["loadgen"]["window"]["seconds"], 1) for r in rows if r.get("loadgen")}  # QUICK's are 0.5 s
    L = []
    w = L.append

    w(f"# muxbench report: {at:,} connections, {m_at} ready\n")
    w(f"Run of {meta.get('date', '?')}: servers {', '.join(labs)}; N = {', '.join(f'{n:,}' for n in ns)} "
      f"connections of which M = min(500, N) active; {size_text(main_size)} requests"
      f"{'' if main_k == 1 else f' in pipelined batches of {main_k}'}; a fixed rate of {rate:,} requests/s"
      f"{ratebasis.said(meta.get('rate_basis'))}"
      f"{'; its requests released together every ' + ', '.join(sorted(t for t in ticks if t)) if any(ticks) else ', its requests evenly spaced'}; "
      f"and a closed loop; "
      f"{reps} repetition(s) of a {', '.join(f'{x:g}' for x in sorted(windows))} s window per point. Figures are "
      f"medians over the repetitions. {intervals_said(rows)} Every number below is computed from "
      f"`rows.json` by `bench/lib/report.py`.\n")

    w("## Environment\n")
    bo = meta.get("build_options", {})
    w("| | |\n| --- | --- |")
    for k, v in [("kernel", meta.get("kernel")), ("CPU", f"{meta.get('cpu_model')} ({meta.get('cores')} vCPU)"),
                 ("placement", f"{meta.get('placement')}: server on CPU {meta.get('server_cpu')}, loadgen on CPU {meta.get('loadgen_cpu')}"),
                 ("syscall counting", f"{meta.get('count_method')} ({meta.get('perf_version') or 'no perf'}) and the servers' own counters"),
                 ("RLIMIT_NOFILE", f"{meta.get('rlimit_nofile', {}).get('soft')} (hard {meta.get('rlimit_nofile', {}).get('hard')})"),
                 ("somaxconn", meta.get("somaxconn")), ("ephemeral ports", meta.get("ip_local_port_range")),
                 ("compiler", meta.get("compiler")), ("build", f"{bo.get('buildtype')}, -O{bo.get('optimization')}, sanitizers {bo.get('b_sanitize')}"),
                 ("git commit", f"{meta.get('git_commit')}{' (with uncommitted changes)' if meta.get('git_dirty') else ''}"),
                 ("clocksource, cpuidle", f"{meta.get('clocksource')}, {meta.get('cpuidle')}"),
                 ("syscall entry", syscall_cost_text(meta.get("syscall_cost"))),
                 ("CPU mitigations", mitigations_text(meta.get("mitigations")))]:
        if v is not None:
            w(f"| {k} | {v} |")
    w("")

    # The table.
    w(f"## {at:,} connections, {m_at} ready\n")

    def med0(lab, n, mode, key):
        return results.stat(pts.get((lab, n, mode), []), key).median

    p_chk, e_chk = med0("poll", at, "rate", "checks_any"), med0("epoll", at, "rate", "checks_any")
    if p_chk and e_chk:
        w(f"At N = {at:,} and {rate:,} req/s, poll checked {p_chk:,.0f} fds per request and epoll "
          f"{e_chk:,.2f} ({p_chk / e_chk:,.0f}x): the readiness checks each server asked the kernel to make "
          f"(results/README.md, \"Readiness checks\").{poll_per_call(pts, ns, at)}\n")
    w(f"At the fixed rate ({rate:,} req/s): syscalls per request (the servers' own count; perf's for libuv), "
      f"readiness checks per request (the fds the kernel examined; the kernel's count for libuv), "
      f"reads that found nothing per read that found data, server CPU per request and p99 latency. "
      f"Closed loop: the highest throughput.\n")
    w("| server | syscalls/req | checks/req | failed reads per useful read | CPU µs/req | p99 µs | max req/s (closed) | status |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for lab in labs:
        r_rate, r_closed = pts.get((lab, at, "rate"), []), pts.get((lab, at, "closed"), [])
        st = results.status_of(r_rate + r_closed)
        w(f"| {lab} | {rng(results.stat(r_rate, 'syscalls_any'))} | {rng(results.stat(r_rate, 'checks_any'), ',.2f')} | "
          f"{rng(results.stat(r_rate, 'eagain_reads_per_read'), '.1f')} | "
          f"{rng(results.stat(r_rate, 'cpu_us_per_req'), '.1f')} | {rng(results.stat(r_rate, 'p99_us'), ',.0f')} | "
          f"{rng(results.stat(r_closed, 'achieved_rps'), ',.0f')} | {st} |")
    w("")

    # Sentences computed from the rows.
    def med(lab, n, mode, key):
        return results.stat(pts.get((lab, n, mode), []), key).median

    shares_section(w, pts, labs, ns, at, rate)
    w("## What the numbers say\n")
    def st(lab, n, mode, key):
        return results.stat(pts.get((lab, n, mode), []), key)

    facts = []
    e_sys_s, b_sys_s, p_sys_s = (st(x, at, "rate", "syscalls_any") for x in ("epoll", "busypoll", "poll"))
    e_sys, b_sys, p_sys = e_sys_s.median, b_sys_s.median, p_sys_s.median
    b_eagain = med("busypoll", at, "rate", "eagain_reads_per_read")
    if e_sys and b_sys:
        facts.append(f"At N={at:,}, busy-poll made {b_sys / e_sys:.0f}x the syscalls of epoll per request "
                     f"({b_sys:.1f} against {e_sys:.2f}{noise(b_sys_s, e_sys_s)})"
                     + (f", {b_eagain:.1f} reads that found nothing for every read that found data." if b_eagain else "."))
    e_cpu_s, p_cpu_s = st("epoll", at, "rate", "cpu_us_per_req"), st("poll", at, "rate", "cpu_us_per_req")
    e_cpu, p_cpu = e_cpu_s.median, p_cpu_s.median
    if e_sys and p_sys and e_cpu and p_cpu:
        quiet = within_noise(p_cpu_s, e_cpu_s)
        facts.append(f"poll made {abs(p_sys - e_sys) / e_sys * 100:.0f}% {'fewer' if p_sys < e_sys else 'more'} syscalls per request "
                     f"than epoll ({p_sys:.2f} against {e_sys:.2f}{noise(p_sys_s, e_sys_s)}) "
                     + (f"and its CPU per request was {p_cpu / e_cpu:.2f}x epoll's ({p_cpu:.1f} µs against {e_cpu:.1f} µs"
                        f"{noise(p_cpu_s, e_cpu_s, '.1f')}): at this N and rate the kernel's scan of all {at:,} fds per "
                        f"call did not show above the repetitions' spread." if quiet else
                        f"but used {p_cpu / e_cpu:.1f}x its CPU per request ({p_cpu:.1f} µs against {e_cpu:.1f} µs): "
                        f"one poll() call is cheap to count and expensive to make, since the kernel checks all "
                        f"{at:,} fds every time."))
    u_sys_s, u_cpu_s = st("uring", at, "rate", "syscalls_any"), st("uring", at, "rate", "cpu_us_per_req")
    u_sys, u_cpu = u_sys_s.median, u_cpu_s.median
    u_closed = med("uring", at, "closed", "syscalls_any")
    if u_sys and e_sys and u_cpu and e_cpu:
        facts.append(f"io_uring made {u_sys:.2f} syscalls per request at the fixed rate (epoll {e_sys:.2f}"
                     f"{noise(u_sys_s, e_sys_s)})"
                     + (f" and {u_closed:.3f} in closed loop" if u_closed else "")
                     + f": one io_uring_enter() per pass carries every send and every completion of the pass. "
                     f"Its CPU per request was {u_cpu:.1f} µs against epoll's {e_cpu:.1f} µs ({u_cpu / e_cpu:.2f}x"
                     f"{noise(u_cpu_s, e_cpu_s, '.1f')})" + uring_saving(meta.get("syscall_cost"), e_sys - u_sys, e_cpu))
    for lab in ("busypoll", "epoll", "poll"):
        s_lo, s_hi = st(lab, ns[0], "rate", "syscalls_any"), st(lab, at, "rate", "syscalls_any")
        c_lo, c_hi = st(lab, ns[0], "rate", "cpu_us_per_req"), st(lab, at, "rate", "cpu_us_per_req")
        lo, hi, clo, chi = s_lo.median, s_hi.median, c_lo.median, c_hi.median
        if lo and hi and clo and chi:
            facts.append(f"From N={ns[0]:,} to N={at:,}, {lab}'s syscalls per request went from {lo:.2f} to {hi:.2f} "
                         f"(x{hi / lo:.1f}{noise(s_hi, s_lo)}) and its CPU per request from {clo:.1f} µs to "
                         f"{chi:.1f} µs (x{chi / clo:.1f}{noise(c_hi, c_lo, '.1f')}).")
    busy = [r for r in rows if r["label"] == "busypoll" and r["mode"] == "rate" and r["status"] == "ok"
            and results.published(r)
            and (r.get("server_window") or {}).get("loop_passes")]
    if busy:
        lo = min(busy, key=lambda r: r["connections"])
        hi = max(busy, key=lambda r: r["connections"])

        def per_s(r):
            w_ = r["server_window"]
            return w_["syscalls"]["total"] / w_["seconds"] / 1e6, w_["syscalls"]["read"] / w_["loop_passes"]
        (slo, rlo), (shi, rhi) = per_s(lo), per_s(hi)
        facts.append(f"Busy-poll never sleeps, so at a fixed rate its syscalls per request are set by how fast its "
                     f"core can make them, not by N: {slo:.2f} million syscalls/s at N={lo['connections']:,} and "
                     f"{shi:.2f} million/s at N={hi['connections']:,}. What N changes is the pass: {rlo:,.0f} reads "
                     f"per pass at N={lo['connections']:,}, {rhi:,.0f} at N={hi['connections']:,} (every connection, "
                     f"every pass), so fewer passes per second and later answers (p99 in the table).")
    sel = [r for r in rows if r["label"] == "select" and r["status"].startswith("unsupported")]
    if sel:
        facts.append(f"select could not be run at N = {', '.join(f'{n:,}' for n in sorted({r['connections'] for r in sel}))}: "
                     f"an fd_set cannot describe an fd of {1024} or more (FD_SETSIZE), so these rows say "
                     f"`unsupported:fd_setsize` instead of measuring refusals.")
    utils = [(r["label"], r.get("server_util")) for r in rows if r["mode"] == "rate" and r["connections"] == at
             and r["status"] == "ok" and results.published(r)]
    for lab in ("busypoll", "epoll"):
        u = [x for l_, x in utils if l_ == lab and x is not None]
        if u:
            u.sort()
            facts.append(f"At the fixed rate and N={at:,}, {lab}'s server used {u[len(u) // 2] * 100:.0f}% of its core "
                         f"(median of {len(u)}).")
    best = max(((med(lab, n, "closed", "achieved_rps") or 0, lab, n) for lab in labs for n in ns), default=None)
    if best and best[0]:
        closed = [r for r in rows if r["mode"] == "closed" and r["label"] == best[1] and r["connections"] == best[2] and r["status"] == "ok"]
        su = [r.get("server_util") for r in closed if r.get("server_util") is not None]
        lu = [r.get("loadgen_util") for r in closed if r.get("loadgen_util") is not None]
        facts.append(f"The highest closed-loop throughput was {best[0]:,.0f} req/s ({best[1]}, N={best[2]:,}); there the server's "
                     f"core was {max(su) * 100:.0f}% busy and the loadgen's {max(lu) * 100:.0f}%. On 2 cores each side has one, "
                     f"and TCP costs both about the same, so closed-loop peaks show which side saturated first; compare "
                     f"servers by CPU per request at the fixed rate." if su and lu else "")
    facts.extend(bound_facts(rows))
    dis = [abs(r["syscalls_per_req"] - r["perf_syscalls_per_req"]) / r["perf_syscalls_per_req"]
           for r in rows if r.get("syscalls_per_req") and r.get("perf_syscalls_per_req")]
    if dis:
        facts.append(f"The servers' own syscall counts and perf's agreed within {max(dis) * 100:.2f}% on every one of "
                     f"{len(dis)} rows that have both.")
    failed = sorted({f"{r['label']} N={r['connections']:,} {r['mode']}: {r['status']}" for r in rows if r["status"].startswith("failed")})
    if failed:
        facts.append("Failed runs (kept as rows, left out of the figures): " + "; ".join(failed) + ".")
    for f_ in facts:
        if f_:
            w(f"- {f_}")
    w("")

    scaling_section(run_dir, w)
    manyconns_section(run_dir, w)
    capacity_section(run_dir, w)
    shapes_section(run_dir, w)
    variants_section(run_dir, w)

    w("## Charts\n")
    for name, title in CHARTS:
        if os.path.exists(os.path.join(run_dir, "plots", name + ".png")):
            w(f"### {title}\n\n![{title}](plots/{name}.png)\n")

    hf = os.path.join(run_dir, "hyperfine.json")
    if os.path.exists(hf):
        res = json.load(open(hf))["results"]
        if res:
            w("## Fixed work, timed by hyperfine\n")
            w(open(os.path.join(run_dir, "hyperfine.md")).read())
            fastest = min(res, key=lambda r: r["mean"])
            f_s = results.Stat(fastest["times"])
            w(f"The fastest was {fastest['command']} at {fastest['mean']:.3f} s (mean of {len(fastest['times'])} runs); "
              + ", ".join(f"{r['command']} took {r['mean'] / fastest['mean']:.2f}x"
                          + noise(results.Stat(r["times"]), f_s, ".3f", " s") for r in res if r is not fastest) + ".\n")

    w("## How to read this\n")
    w("- Syscalls per request count every syscall the server made in the measured window (its own wrappers "
      "and perf's `raw_syscalls:sys_enter` over the same window), divided by the responses the loadgen got.")
    w("- At the fixed rate every server does the same work, so CPU per request compares the models' costs. "
      "On this VM a wake-up costs the server 15–20 µs of CPU, so the shape of the load matters: the "
      "requests of each millisecond are released together (as wrk2's timers do); `bench/run --tick 0` spaces them evenly.")
    w("- Latency is measured from each request's scheduled send time, so a stalled server cannot hide the "
      "requests it delayed. It depends on placement (a wake-up across vCPUs costs about 30 µs here).")
    w("- Column definitions: `results/README.md`. Raw outputs: `logs/`; histograms: `hist/`.")
    with open(os.path.join(run_dir, "REPORT.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
