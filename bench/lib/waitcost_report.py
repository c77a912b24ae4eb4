#!/usr/bin/env python3
"""waitcost_report.py - turn RUN/waitcost.csv (bench/waitcost) into what a reader looks at.

Writes, in RUN:
  waitcost.md         Kerrisk's LCA 2006 table (100,000 waits, one ready fd) beside ours, with
                      the ratio per cell; how each mechanism's cost grows with N; every row
  waitcost.dat        chart data: one block per (mechanism, K): N, median, min, max, ns per ready
  waitcost-vars.gp    what the gnuplot scripts in plots/waitcost/ need to style those blocks
  waitcost.meta.json  the environment (kernel, CPU, load, git commit, build), via meta.py
and prints waitcost.md's table on stdout. The charts come from TCP rows (unix rows, where there
are any, are summarised in the markdown only).

usage: waitcost_report.py RUN_DIR BUILD_DIR
"""
import csv
import json
import os
import platform
import resource
import sys
import time

import meta  # bench/lib/meta.py: the same environment probes as bench/run's meta.json

MECHANISMS = ["select", "poll", "epoll", "uring", "busy"]  # chart order; colours in plots/waitcost
KERRISK_N = [10, 100, 1000, 10000]
# Kerrisk, "The Linux epoll API", LCA 2006: seconds for 100,000 waits with one ready fd.
KERRISK = {
    "poll": [1.12, 6.8, 157, 1750],
    "select": [1.28, 7.1, 151, 1087],
    "epoll": [0.65, 0.68, 0.89, 0.97],
}
WAITS = 100_000


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"waitcost_report: {path} has no rows")
    for r in rows:
        for k in ("fds", "ready", "reps", "calls_per_rep"):
            r[k] = int(r[k])
        for k in ("median_ns_per_call", "min_ns_per_call", "max_ns_per_call"):
            r[k] = float(r[k])
        r["median_ns_per_ready"] = float(r["median_ns_per_ready"]) if r["median_ns_per_ready"] else None
    return rows


def find(rows, mech, n, k, sock):
    for r in rows:
        if (r["mechanism"], r["fds"], r["ready"], r["socket"]) == (mech, n, k, sock):
            return r
    return None


def seconds(s):
    """A figure in seconds, to three significant digits (published figures have two to four)."""
    return f"{s:,.3g}" if s < 1000 else f"{s:,.0f}"


def kerrisk_table(rows, sock):
    head = "| 100,000 waits, 1 ready | " + " | ".join(f"N = {n:,}" for n in KERRISK_N) + " |"
    lines = [head, "|---" * (len(KERRISK_N) + 1) + "|"]
    for mech, published in KERRISK.items():
        cells = []
        for n, pub in zip(KERRISK_N, published):
            r = find(rows, mech, n, 1, sock)
            if r:
                ours = r["median_ns_per_call"] * WAITS / 1e9
                cells.append(f"{seconds(ours)} s vs {seconds(pub)} s ({ours / pub:.2g}x)")
            elif mech == "select" and n >= 1024:
                cells.append(f"not possible: FD_SETSIZE (published {seconds(pub)} s)")
            else:
                cells.append(f"not measured (published {seconds(pub)} s)")
        lines.append(f"| {mech} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(rows, sock):
    """How the time per call grows with N at K = 1: the claim is linear for select/poll/busy,
    flat for epoll and io_uring. One line per mechanism, over the widest N range it ran."""
    out = []
    for mech in MECHANISMS:
        pts = sorted((r["fds"], r["median_ns_per_call"]) for r in rows
                     if r["mechanism"] == mech and r["ready"] == 1 and r["socket"] == sock)
        if len(pts) < 2:
            continue
        (n0, t0), (n1, t1) = pts[0], pts[-1]
        out.append(f"- {mech}: {t0:,.0f} ns per call at N = {n0:,}, {t1:,.0f} ns at N = {n1:,}: "
                   f"x{t1 / t0:,.1f} for N x{n1 / n0:,.0f}")
    return "\n".join(out)


def all_rows(rows):
    lines = ["| mechanism | socket | N | K | median ns/call | min | max | ns per ready | calls/rep |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per = f"{r['median_ns_per_ready']:,.1f}" if r["median_ns_per_ready"] is not None else ""
        lines.append(f"| {r['mechanism']} | {r['socket']} | {r['fds']:,} | {r['ready']} | "
                     f"{r['median_ns_per_call']:,.1f} | {r['min_ns_per_call']:,.1f} | "
                     f"{r['max_ns_per_call']:,.1f} | {per} | {r['calls_per_rep']:,} |")
    return "\n".join(lines)


def chart_data(rows, sock, run):
    """Blocks for gnuplot's `index`: the first line of each is its title (columnhead)."""
    blocks, mech_idx, kvals = [], [], []
    ks = sorted({r["ready"] for r in rows if r["socket"] == sock and r["mechanism"] in MECHANISMS})
    for mi, mech in enumerate(MECHANISMS, 1):
        for k in ks:
            pts = sorted((r for r in rows if (r["mechanism"], r["ready"], r["socket"]) == (mech, k, sock)),
                         key=lambda r: r["fds"])
            if not pts:
                continue
            lines = [f'"{mech} K={k}"']
            lines += [f"{r['fds']} {r['median_ns_per_call']} {r['min_ns_per_call']} {r['max_ns_per_call']} "
                      f"{r['median_ns_per_ready']}" for r in pts]
            blocks.append("\n".join(lines))
            mech_idx.append(mi)
            kvals.append(k)
    with open(os.path.join(run, "waitcost.dat"), "w") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    return mech_idx, kvals, ks


def reference(rows, sock):
    """The slope-1 guide: through poll's K = 1 point at its smallest N (0, 0 when absent)."""
    pts = sorted((r["fds"], r["median_ns_per_call"]) for r in rows
                 if (r["mechanism"], r["ready"], r["socket"]) == ("poll", 1, sock))
    return pts[0] if pts else (0, 0)


def write_vars(run, mech_idx, kvals, ks, ref, sock, env):
    def arr(name, vals):
        return f"array {name}[{len(vals)}] = [{', '.join(str(v) for v in vals)}]"

    machine = f"{env['cpu_model']}, {env['cores']} cores, Linux {env['kernel']}, {sock}"
    with open(os.path.join(run, "waitcost-vars.gp"), "w") as f:
        f.write("# written by bench/lib/waitcost_report.py for plots/waitcost/*.gp\n")
        f.write(f"nblocks = {len(mech_idx)}\n{arr('blk_mech', mech_idx or [0])}\n{arr('blk_k', kvals or [0])}\n")
        f.write(f"k_small = {ks[0] if ks else 1}\nref_n = {ref[0]}\nref_ns = {ref[1]}\n")
        f.write(f'machine = "{machine}"\n')


def environment(run, build):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cc = meta.run("cc", "--version")
    env = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpu_model": meta.cpu_model(),
        "cores": os.cpu_count(),
        # the machine is shared: say how busy it was (1, 5 and 15 minute load averages)
        "loadavg": " ".join((meta.read("/proc/loadavg") or "? ? ?").split()[:3]),
        "rlimit_nofile": {"soft": soft, "hard": hard},
        "ip_local_port_range": meta.read("/proc/sys/net/ipv4/ip_local_port_range"),
        "git_commit": meta.run("git", "rev-parse", "HEAD"),
        "git_dirty": bool(meta.run("git", "status", "--porcelain", "--untracked-files=no")),
        "compiler": cc.splitlines()[0] if cc else None,
        "build_dir": build,
        "build_options": meta.build_options(build),
        "liburing": meta.run("pkg-config", "--modversion", "liburing"),
        "placement": "unpinned",
        "clocksource": meta.read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
    }
    with open(os.path.join(run, "waitcost.meta.json"), "w") as f:
        json.dump(env, f, indent=1)
    return env


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    run, build = sys.argv[1:]
    rows = load(os.path.join(run, "waitcost.csv"))
    env = environment(run, build)
    socks = [s for s in ("tcp", "unix") if any(r["socket"] == s for r in rows)]
    sock = socks[0]
    write_vars(run, *chart_data(rows, sock, run), reference(rows, sock), sock, env)

    missing = [m for m in MECHANISMS if not any(r["mechanism"] == m for r in rows)]
    table = kerrisk_table(rows, sock)
    md = [
        "# waitcost: the cost of one wait",
        "",
        f"{env['date']}, {env['cpu_model']} ({env['cores']} cores, shared; load {env['loadavg']}), "
        f"Linux {env['kernel']}, commit {(env['git_commit'] or '?')[:12]}"
        f"{' (dirty)' if env['git_dirty'] else ''}. What a call includes, and every column: "
        "results/README.md, section waitcost.",
        "",
        f"## Kerrisk's LCA 2006 table, and ours ({sock})",
        "",
        "Seconds for 100,000 waits with one ready fd: ours (the median time per call x 100,000), "
        "the published figure, and ours / published.",
        "",
        table,
        "",
        f"## Growth with N (K = 1, {sock})",
        "",
        growth(rows, sock),
    ]
    for other in socks[1:]:
        md += ["", f"## The same with {other} sockets", "", kerrisk_table(rows, other), "",
               growth(rows, other)]
    if missing:
        md += ["", f"Not measured in this run: {', '.join(missing)} (waitcost's stderr says why)."]
    md += ["", "## Every row", "", all_rows(rows), ""]
    with open(os.path.join(run, "waitcost.md"), "w") as f:
        f.write("\n".join(md))
    print(f"Kerrisk's LCA 2006 table ({sock}): seconds for 100,000 waits with one ready fd, ours vs published")
    print(table)


if __name__ == "__main__":
    main()
