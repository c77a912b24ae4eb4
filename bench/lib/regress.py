#!/usr/bin/env python3
"""regress.py - the regression gate's verdicts: the head build against the base build, per server
and point, from what bench/regress measured in one job on one machine.

A gate directory (bench/regress --out) holds:
  gate.json           the two builds, their commits, the servers and points, the tolerances
  instructions.json   valgrind's counts (bench/lib/instructions.py): one entry per server, N, build
  ab/SERVER/rows.json bench/run --base-build: runs in pairs, one of each build back to back
Per server and N, three checks, and one per server; each is a pass or a failure in the last line:
  runs          every run and count of both builds ended ok with no error, and produced figures;
  syscalls/req  the server's own count (its stats, from the pairs, which perf does not tax), median
                over each build's runs; a server without own counters (libuv) has one counted pair
                more, and its figure is the kernel's (perf) from those; a rise of more than
                SYSCALLS_TOL fails (echo-uring: its batches depend on timing; busy-poll: only the
                syscalls that did work, since how often it polls is its core's speed);
  instr/req     user-space instructions per request (busy-poll: per pass), head against base; a
                rise of more than INSTR_TOL fails;
  CPU/req       head's CPU per request / base's in the same published pair (counting own: a counted
                pair's CPU is taxed by perf), per point (shown); the check is
                per server, on the median of the pair ratios of all its points (a line "all"):
                more than 1 + CPU_TOL fails. Not for busy-poll (a whole core, always) nor at a
                point where either build's core was saturated (CPU per request is then 1/rate).
A server the kernel refuses what it needs (bench/lib/probes.py, asked of the kernel, not of the
server) is skipped, and said so; a server that is in head but not in base is skipped as new.
The tolerances come from A/A runs (head against itself, results/README.md).

usage: regress.py compare GATE_DIR        -> the table (also GATE_DIR/REGRESS.txt), then
                                             'regress: N passed, N failed[, N skipped]'; exit 1 on a failure
       regress.py baseline GATE_DIR > results/baseline.csv   -> the base commit and head's figures
"""
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results  # noqa: E402

SYSCALLS_TOL = 0.10
# echo-uring's syscalls per request are how many requests one io_uring_enter() carries, which
# depends on timing (how many arrive while it is awake), not only on its code (see results/README.md).
SYSCALLS_TOL_BY_SERVER = {"uring": 0.25}
# From A/A runs (head against itself; results/README.md, "The regression gate"): instructions
# repeat to 0.1% for most servers, epoll-edge's move by up to 0.6% (whether a read finds the next
# request depends on timing); one server's pooled CPU ratio strayed by up to 20%.
INSTR_TOL = 0.02
CPU_TOL = 0.35
SATURATED = 0.9
USABLE = ("ok", "failed:counts_disagree")  # the latter still has figures; its runs check fails


def published(row):
    """A repetition that nothing but the server counted (rows before bench/run's roles: all were)."""
    return row.get("counting", "own") == "own"


def work_syscalls(row):
    """Busy-poll's syscalls per request without its polling: the failed accept of every pass and
    the reads that found nothing."""
    w = row.get("server_window") or {}
    sc, req = w.get("syscalls"), w.get("requests")
    if not sc or not req or w.get("loop_passes") is None:
        return None
    return (sc["total"] - (w.get("read_eagain") or 0) - w["loop_passes"]) / req


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def load_gate(gate_dir):
    with open(os.path.join(gate_dir, "gate.json")) as f:
        gate = json.load(f)
    instr = []
    path = os.path.join(gate_dir, "instructions.json")
    if os.path.exists(path):
        with open(path) as f:
            instr = json.load(f)
    rows = []
    for s in gate["servers"]:
        d = os.path.join(gate_dir, "ab", s["name"])
        if os.path.exists(os.path.join(d, "rows.json")):
            mine, _ = results.load(d)
            rows += [dict(r, gate_server=s["name"]) for r in mine]
    return gate, instr, rows


class Cell:
    """One server at one N: its figures, its checks, and the words that say them."""

    def __init__(self, server, n):
        self.server, self.n = server, n
        self.checks = []  # (name, ok, why)
        self.sys = self.instr = self.cpu = None  # (base, head) / (median, min, max)
        self.unit = "instr/req"
        self.notes = []
        self.skipped = None
        self.ratios = None  # CPU pair ratios head/base at this point, where they are gated

    def check(self, name, ok, why=""):
        self.checks.append((name, ok, why))


def _runs_check(cell, rows, instr_entries, pairs):
    faults = [f"{r['build']} run {r['rep']}: {r['status']}" for r in rows if r["status"] != "ok"]
    faults += [f"{r['build']} run {r['rep']}: {r['errors']} errors" for r in rows if r.get("errors")]
    faults += [f"{e['build']} instructions: {e['status']} {e.get('why', '')}".rstrip()
               for e in instr_entries if e["status"] != "ok"]
    for build in ("base", "head"):
        if pairs and not any(r["build"] == build for r in rows):
            faults.append(f"no {build} run")
        if not any(e["build"] == build for e in instr_entries):
            faults.append(f"no {build} instruction count")
    cell.check("runs", not faults, "; ".join(faults))


def _syscalls(cell, rows, spins):
    """Each build's median syscalls per request: the server's own count from the published pairs
    (busy-poll: its work syscalls), else the kernel's from the counted pairs (libuv counts none)."""
    def figure(b):
        mine = [r for r in rows if r["build"] == b and r["status"] in USABLE]
        own = median([work_syscalls(r) if spins else r.get("syscalls_per_req") for r in mine if published(r)])
        if own is not None:
            return own
        return median([r.get("perf_syscalls_per_req") for r in mine if r.get("counting") == "kernel"])
    base, head = figure("base"), figure("head")
    if base is None or head is None:
        cell.check("syscalls/req", False, "no syscall count from " + ("base" if base is None else "head"))
        return
    cell.sys = (base, head)
    tol = SYSCALLS_TOL_BY_SERVER.get(cell.server, SYSCALLS_TOL)
    rise = head / base - 1 if base else 0.0
    cell.check("syscalls/req", rise <= tol, f"syscalls/req {base:.3f} -> {head:.3f} ({rise:+.1%}, limit +{tol:.0%})")


def _instructions(cell, entries, spins):
    cell.unit = "instr/pass" if spins else "instr/req"
    got = {e["build"]: e.get("figure") for e in entries if e["status"] == "ok"}
    if got.get("base") is None or got.get("head") is None:
        missing = [b for b in ("base", "head") if got.get(b) is None]
        cell.check(cell.unit, False, f"no {cell.unit} count from {' and '.join(missing)}")
        return
    base, head = got["base"], got["head"]
    cell.instr = (base, head)
    rise = head / base - 1
    cell.check(cell.unit, rise <= INSTR_TOL,
               f"{cell.unit} {base:,.1f} -> {head:,.1f} ({rise:+.2%}, limit +{INSTR_TOL:.1%})")


def _cpu(cell, rows, spins):
    """The point's pair ratios (cell.ratios), shown; the check is the server's, over all its points."""
    if spins:
        cell.notes.append("CPU not gated: it spins")
        return
    pairs = {}
    for r in rows:
        if r["status"] in USABLE and published(r):
            pairs.setdefault(r["rep"], {})[r["build"]] = r
    ratios, saturated = [], False
    for p in pairs.values():
        if "base" not in p or "head" not in p:
            continue
        if any((p[b].get("server_util") or 0) >= SATURATED for b in p):
            saturated = True
        b, h = p["base"].get("cpu_us_per_req"), p["head"].get("cpu_us_per_req")
        if b and h:
            ratios.append(h / b)
    if ratios:
        cell.cpu = (statistics.median(ratios), min(ratios), max(ratios))
    if saturated:
        cell.notes.append(f"CPU not gated: a core {SATURATED:.0%} busy (saturated: CPU/req is 1/rate)")
    else:
        cell.ratios = ratios


def _server_cpu(server, points):
    """The server's CPU check: the median of every pair ratio at its unsaturated points. One pair
    moves by up to 70% on its own here and one point's median of 4 by up to 25%; over all the
    points' pairs the median stays within a few percent (A/A runs, results/README.md)."""
    cell = Cell(server, "all")
    gated = [c for c in points if c.ratios is not None]
    if not gated:
        return None
    ratios = [r for c in gated for r in c.ratios]
    if not ratios:
        cell.check("CPU/req", False, "no pair with both builds' CPU per request")
        return cell
    m = statistics.median(ratios)
    cell.cpu = (m, min(ratios), max(ratios))
    cell.check("CPU/req", m <= 1 + CPU_TOL,
               f"CPU/req head/base {m:.3f}, the median of {len(ratios)} pairs at N = "
               f"{', '.join(f'{c.n:,}' for c in gated)} [{min(ratios):.2f}-{max(ratios):.2f}] (limit {1 + CPU_TOL:.2f})")
    return cell


def cells(gate, instr, rows):
    out = []
    for s in gate["servers"]:
        name, spins = s["name"], s.get("spins", False)
        mine_cells = []
        for n in gate["points"]:
            cell = Cell(name, n)
            mine_cells.append(cell)
            if s.get("skip"):
                cell.skipped = s["skip"]
                continue
            mine = [r for r in rows if r.get("gate_server") == name and r["connections"] == n]
            entries = [e for e in instr if e["server"] == name and e["connections"] == n]
            _runs_check(cell, mine, entries, gate["pairs"])
            _instructions(cell, entries, spins)
            if gate["pairs"]:  # --pairs 0: the instruction counts alone
                _syscalls(cell, mine, spins)
                _cpu(cell, mine, spins)
        out += mine_cells
        whole = _server_cpu(name, [c for c in mine_cells if not c.skipped])
        if whole:
            out.append(whole)
    return out


def _n(n):
    return f"{n:,}" if isinstance(n, int) else n


def _change(pair, digits):
    if not pair:
        return "-"
    b, h = pair
    return f"{b:,.{digits}f} -> {h:,.{digits}f} ({(h / b - 1) if b else 0:+.1%})"


def render(gate, cs):
    head = ("server", "N", "syscalls/req base -> head", "instructions base -> head", "CPU/req head/base [spread]",
            "verdict")
    lines = []
    passed = failed = skipped = 0
    for c in cs:
        if c.skipped:
            skipped += 1
            lines.append((c.server, _n(c.n), "-", "-", "-", "skipped: " + c.skipped))
            continue
        bad = [why for _, ok, why in c.checks if not ok]
        passed += sum(1 for _, ok, _ in c.checks if ok)
        failed += len(bad)
        instr = (_change(c.instr, 1) + " " + c.unit.split("/")[1]) if c.instr else "-"
        cpu = f"{c.cpu[0]:.3f} [{c.cpu[1]:.2f}-{c.cpu[2]:.2f}]" if c.cpu else "-"
        where = "over all N" if c.n == "all" else f"N={c.n:,}"
        verdict = (f"FAIL {c.server} {where}: " + "; ".join(bad)) if bad else \
            "ok" + ("" if not c.notes else " (" + "; ".join(c.notes) + ")")
        lines.append((c.server, _n(c.n), _change(c.sys, 3), instr, cpu, verdict))
    widths = [max(len(str(x[i])) for x in lines + [head]) for i in range(len(head) - 1)]
    text = [f"regress: head {gate['head']['describe']} against base {gate['base']['describe']}; "
            f"N connections, {gate['load']}"]
    for line in [head] + lines:
        text.append("  ".join(str(v).ljust(w) for v, w in zip(line[:-1], widths)) + "  " + line[-1])
    text.append(f"regress: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return text, failed


def compare(gate_dir, out=sys.stdout):
    gate, instr, rows = load_gate(gate_dir)
    text, failed = render(gate, cells(gate, instr, rows))
    with open(os.path.join(gate_dir, "REGRESS.txt"), "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text), file=out)
    return failed == 0


def baseline(gate_dir, out=sys.stdout):
    """results/baseline.csv: the commit the gate builds as its base from now on (head's), and
    head's figures at the gate's points, for the record (the gate measures the base anew)."""
    gate, instr, rows = load_gate(gate_dir)
    commit = gate["head"].get("commit")
    if not commit or gate["head"].get("dirty"):
        raise SystemExit("regress.py: the head build is not a clean commit: commit first, then make regress-update")
    print("# muxbench regression baseline (make regress-update). make regress builds git_commit as its", file=out)
    print("# base and measures both builds in the same job; the figures below are that commit's at the", file=out)
    print("# gate's points, for the record (what a later gate's base should reproduce on a like machine).", file=out)
    print(f"# git_commit: {commit}", file=out)
    for k in ("date", "kernel", "cpu_model", "cores"):
        print(f"# {k}: {gate.get('env', {}).get(k)}", file=out)
    print(f"# load: {gate['load']}", file=out)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["server", "connections", "syscalls_per_req", "instructions", "instructions_unit", "cpu_us_per_req"])
    for c in cells(gate, instr, rows):
        if c.skipped or c.n == "all":
            continue
        mine = [r for r in rows if r.get("gate_server") == c.server and r["connections"] == c.n
                and r["build"] == "head" and r["status"] == "ok"]
        cpu = median([r.get("cpu_us_per_req") for r in mine])
        w.writerow([c.server, c.n, f"{c.sys[1]:.4f}" if c.sys else "", f"{c.instr[1]:.1f}" if c.instr else "",
                    c.unit, f"{cpu:.3f}" if cpu else ""])


def read_base_commit(path):
    """The git_commit line of results/baseline.csv, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("# git_commit:"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    return None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "compare":
        sys.exit(0 if compare(sys.argv[2]) else 1)
    if len(sys.argv) == 3 and sys.argv[1] == "baseline":
        baseline(sys.argv[2])
        return
    print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
