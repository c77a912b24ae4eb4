#!/usr/bin/env python3
"""test_run.py - bench/run end to end, on small loads.

A good run (--reps 1, one counted rep by default) gives two `ok` rows: the published one
(counting own: no perf at all, the server's own counts only) and the kernel's (counting kernel:
perf's count, which agrees with the server's); select past FD_SETSIZE gives an `unsupported` row
without running; a server killed mid-run gives a `failed:` row, the next repetition runs, and
nothing is left behind (no process, no cgroup); an --out path with quotes, spaces and shell syntax
in it is a path, never a command; --profile adds a row sampled by perf record whose CPU shares sum
to 1, with its report kept and its perf.data gone; bad role counts and --clients' bad options
are usage errors (exit 2, one line); --reps auto stops where its rule, recomputed from its rows, says (and
runs to the cap for a target no machine meets). Where bench/lib/profile.py is not in this checkout yet, the profile case runs bench/run
with a stand-in this test writes (its interface, perf report's plain figures) and says so.

No bound here is a time or a rate: the fixed rate is a tenth of what epoll did in closed loop in
this run, the syscall bound is built from the server's own counts, and the kill waits for the
window's first snapshot rather than for a number of seconds. A tenth of the closed loop is met on
any machine that runs both sides, but not while the hypervisor takes their vCPUs: where more than
5% of the CPU time was stolen during the good run (/proc/stat), a rate missed either way (a stall
delays requests out of the window or catches them up inside it), and the `neither` it gives, are
not failed; every other figure is checked all the same.

usage: test_run.py SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip)
"""
import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from verdict import STEAL_MAX, cpu_times, fail, need_bench_run, steal_share

# The host's steal during the good run (verdict.py): a rate missed while the host took more than
# STEAL_MAX of the CPU time is the host's doing; every other figure is still checked.
STOLEN = [0.0]

HEADER = ("server,variant,connections,active,mode,offered_rps,size,pipeline,rep,achieved_rps,p50_us,p90_us,p99_us,"
          "p999_us,max_us,syscalls_per_req,perf_syscalls_per_req,eagain_reads_per_read,cpu_us_per_req,"
          "user_us_per_req,sys_us_per_req,ctxsw_per_req,rss_kb,threads,errors,loadgen_cpu_us_per_req,bound,"
          "count_method,placement,status,counting,checks_per_req,walked_per_req,scanned_per_req,waits_per_req,"
          "kernel_checks_per_req,wait_share")
# bench/lib/profile.py's interface, for a checkout that has not got it yet (see the top)
STAND_IN = """\
import subprocess


def record_argv(data_path, target, ctl, ack):
    return ["perf", "record", "-q", "-e", "cpu-clock", "-D", "-1", "--control", f"fifo:{ctl},{ack}",
            "-o", data_path, *target]


def summarize(data_path, report_path, checks_kind):
    def perf(*args):
        return subprocess.run(["perf", *args, "-i", data_path], capture_output=True, text=True, timeout=120).stdout
    with open(report_path, "w") as f:
        f.write(perf("report", "--stdio", "--sort", "sym"))
    dsos = perf("script", "-F", "ip,dso").splitlines()
    n, k = len(dsos), sum("kernel" in d for d in dsos)
    shares = {"wait": 0.0, "recv": 0.0, "send": 0.0, "kernel_other": k / n, "user": (n - k) / n} if n else None
    return {"samples": n, "shares": shares, "tracepoints": {},
            "kernel_checks": {"checks": None, "walked": None, "source": "stand-in", "why_not": "stand-in"}}
"""


def bench_run_argv(server, connections, active, out, *args):
    return ["bench/run", "--server", server, "--connections", str(connections), "--active", str(active),
            *args, "--out", out]


def bench_run(src, build, *argv, env=None):
    """Runs bench/run to its end from SOURCE_DIR; returns its exit code."""
    return subprocess.run(bench_run_argv(*argv), cwd=src, env=dict(os.environ, BUILD=build, **(env or {})),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def col(path, row, name):
    """One value of rows.csv, or what stands in its place (no file, no such row)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        return f"<no {path}: {e.strerror}>"
    if row >= len(rows):
        return f"<no row {row} in {path}: {len(rows)} rows>"
    return rows[row].get(name, f"<no column {name}>")


def lines(path):
    """wc -l: how many newlines, or -1 if there is no file."""
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return -1


def cat(*patterns):
    text = ""
    for p in patterns:
        for path in sorted(glob.glob(p)):
            with open(path, errors="replace") as f:
                text += f.read()
    return text


def figures(r, k, rate, closed):
    """What is wrong with the good run's figures (r: the published row, k: the kernel's), or None."""
    if r["counting"] != "own" or k["counting"] != "kernel":
        return f"roles {r['counting']!r}, {k['counting']!r}; want own, kernel"
    # the published row: nothing but the server counted
    if r["perf_syscalls_per_req"] is not None or r["perf"] is not None or r["count_method"] is not None:
        return f"the own row has a kernel count: {r['perf_syscalls_per_req']} ({r['count_method']}), {r['perf']}"
    s, rps = r["syscalls_per_req"], r["achieved_rps"]
    # A stall moves the rate either way: requests delayed out of the window, or caught up inside it.
    if not 0.95 < rps / rate < 1.05 and not STOLEN[0] > STEAL_MAX:
        return (f"achieved {rps} req/s of {rate} (a tenth of the {closed:.0f} of closed loop; "
                f"{100 * STOLEN[0]:.1f}% of the CPU time stolen by the host meanwhile)")
    # At a tenth of its closed loop neither side is saturated and the rate is met: nothing bounded the run.
    if r["bound"] != "" and not (r["bound"] == "neither" and STOLEN[0] > STEAL_MAX):
        return f"bound {r['bound']!r}: server busy {r['server_busy']}, loadgen busy {r['loadgen_busy']}"
    # the kernel's row: perf counted, and agrees with the server's own count of the same run
    ks, kp = k["syscalls_per_req"], k["perf_syscalls_per_req"]
    if kp is None or k["count_method"] not in ("perf", "strace") or not abs(ks - kp) / kp < 0.05:
        return f"kernel row: {ks} in-process, {kp} by {k['count_method']}"
    # epoll's checks are the kernel's deliveries (events): its own count has no kernel twin in a
    # kernel row (perf stat counts calls, not what a call delivered), and says why
    kc = k.get("kernel_checks") or {}
    if k["kernel_checks_per_req"] is not None or not kc.get("why_not"):
        return f"kernel row: kernel checks {k['kernel_checks_per_req']} from {kc}"
    # One read and one write per request, plus the waits and the empty reads this run made (how many
    # requests a wake-up finds depends on the machine's speed): nothing else, epoll_ctl included, may
    # cost a syscall per request. 0.05 per request leaves room for the window's odd signal or accept.
    w = r["server_window"]
    req, sc = w["requests"], w["syscalls"]
    waits = sc["epoll_wait"] + sc.get("epoll_pwait", 0)
    if not 2.0 <= s <= 2 + (waits + w["read_eagain"]) / req + 0.05:
        return (f"epoll made {s} syscalls per request with {waits / req:.3f} waits and "
                f"{w['read_eagain'] / req:.3f} empty reads: {sc}")
    # ...and the waits are bounded by the work too: level-triggered echo-epoll blocks in epoll_wait
    # (timeout -1), so every wait returns at least one event.
    if not waits <= w["events"]:
        return f"{waits} waits delivered {w['events']} events: a wait that found nothing"
    if not (r["cpu_us_per_req"] > 0 and r["errors"] == 0):
        return f"cpu_us_per_req {r['cpu_us_per_req']}, errors {r['errors']}"
    # The waits per request are the server's wake-ups (waits that returned: at most its epoll_waits)
    # over the loadgen's responses; where the server counts its checks, every wake-up delivered at
    # least one, and for epoll walked = checks.
    lgreq, wakeups = r["loadgen"]["requests"], w["wakeups"]
    if abs(r["waits_per_req"] * lgreq - wakeups) > 0.5 or not 0 < wakeups <= waits:
        return f"waits_per_req {r['waits_per_req']} for {wakeups} wake-ups, {waits} waits, {lgreq} responses"
    if w.get("checks") is not None:
        if not (r["checks_per_req"] * lgreq >= wakeups and r["walked_per_req"] == r["checks_per_req"]):
            return f"checks/req {r['checks_per_req']} walked/req {r['walked_per_req']} with {wakeups} wake-ups"
    elif r["checks_per_req"] is not None:
        return f"checks_per_req {r['checks_per_req']} from a window without checks"
    return None


def check_figures(path, rate, closed):
    try:
        with open(path) as f:
            r, k = json.load(f)
        why = figures(r, k, rate, closed)
    except (OSError, ValueError, LookupError, TypeError, ZeroDivisionError) as e:
        why = f"{type(e).__name__}: {e}"
    if why:
        fail(f"figures out of range: {why}")


def check_json(path):
    try:
        with open(path) as f:
            json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{os.path.basename(path)}: {e}")


def snapshots(pattern):
    """The server's snapshots so far in the stats files PATTERN names."""
    n = 0
    for path in glob.glob(pattern):
        with open(path) as f:
            for line in f:
                try:
                    n += json.loads(line).get("type") == "snapshot"
                except ValueError:
                    pass  # a line the server is still writing
    return n


def processes(regex):
    """pgrep -f: the pids (not this one) whose command line, its words joined by spaces, matches."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(pid) != os.getpid() and re.search(regex, cmdline):
            found.append(int(pid))
    return found


def kill_all(regex):
    """pkill -KILL -f: how many processes got the signal."""
    n = 0
    for pid in processes(regex):
        try:
            os.kill(pid, signal.SIGKILL)
            n += 1
        except OSError:
            pass
    return n


def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == "cgroup2":
                return fields[1]
    return None


def calibrate(src, build, out):
    """0. What this machine does: epoll's closed loop at the load of run 1. A tenth of it is a rate
    any machine meets with both cores mostly idle."""
    rc = bench_run(src, build, "epoll", 200, 20, f"{out}/cal", "--duration", "1s", "--warmup", "0.3s",
                   "--counted-reps", "0")
    if rc:
        fail(f"bench/run exited {rc} (closed loop)")
    status = col(f"{out}/cal/rows.csv", 0, "status")
    if status != "ok":
        fail(f"closed loop: {status}")
    achieved = col(f"{out}/cal/rows.csv", 0, "achieved_rps")
    try:
        closed = float(achieved)
    except ValueError:
        fail(f"closed loop: achieved_rps {achieved!r}")
    return closed, max(1, int(closed / 10))


def good_run(src, build, out, rate, closed):
    """1. A good run."""
    t0 = cpu_times()
    rc = bench_run(src, build, "epoll", 200, 20, f"{out}/a", "--rate", str(rate), "--duration", "1s",
                   "--warmup", "0.3s")
    if rc:
        fail(f"bench/run exited {rc}")
    rows = f"{out}/a/rows.csv"
    try:
        with open(rows) as f:
            header = f.readline().rstrip("\n")
    except OSError as e:
        header = f"<no {rows}: {e.strerror}>"
    if header != HEADER:
        fail(f"rows.csv header: {header}")
    if lines(rows) != 3:
        fail("expected two rows (own, kernel)")
    for i in (0, 1):
        status = col(rows, i, "status")
        if status != "ok":
            fail(f"row {i}: status {status}: {cat(f'{out}/a/logs/*.loadgen.err')}")
    if col(rows, 0, "perf_syscalls_per_req") != "" or col(rows, 1, "perf_syscalls_per_req") == "":
        fail(f"rows.csv perf_syscalls_per_req: {col(rows, 0, 'perf_syscalls_per_req')!r} (own), "
             f"{col(rows, 1, 'perf_syscalls_per_req')!r} (kernel)")
    tags = sorted(os.path.basename(p)[:-len(".row.json")] for p in glob.glob(f"{glob.escape(out)}/a/logs/*.row.json"))
    if len(tags) != 2 or not (tags[0].endswith("-r1") and tags[1].endswith("-r1-k")):
        fail(f"log tags {tags}: want ...-r1 and ...-r1-k")
    if glob.glob(f"{glob.escape(out)}/a/logs/{tags[0]}.perf*"):
        fail(f"the own rep ran perf: {glob.glob(f'{glob.escape(out)}/a/logs/{tags[0]}.perf*')}")
    STOLEN[0] = steal_share(t0, cpu_times())
    check_figures(f"{out}/a/rows.json", rate, closed)
    for name in ("meta.json", "rows.json"):
        check_json(f"{out}/a/{name}")
    if not glob.glob(f"{out}/a/hist/*.hist"):
        fail("no histogram")


def select_unsupported(src, build, out):
    """2. select cannot hold 2,000 connections: a row that says so, and no run."""
    rc = bench_run(src, build, "select", 2000, 20, f"{out}/b", "--duration", "1s", "--warmup", "0.2s")
    if rc:
        fail(f"bench/run exited {rc} for select")
    status = col(f"{out}/b/rows.csv", 0, "status")
    if status != "unsupported:fd_setsize":
        fail(f"select: {status}")


def crash(src, build, out, rate):
    """3. A server killed mid-run: a failed row, the script goes on, nothing left behind."""
    run = subprocess.Popen(bench_run_argv("epoll", 100, 10, f"{out}/c", "--rate", str(rate), "--duration", "3s",
                                          "--warmup", "0.3s", "--reps", "2", "--counted-reps", "0"),
                           cwd=src, env=dict(os.environ, BUILD=build),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Mid-run, in the window: its first snapshot is in the server's stats file (bench/run's own
        # deadlines end the wait if it never comes).
        stats = f"{out}/c/logs/*-r1.stats.jsonl"
        while snapshots(stats) < 1:
            if run.poll() is not None:
                fail("bench/run ended before the window opened")
            time.sleep(0.02)
        if not kill_all(re.escape(f"echo-epoll --port 0 --stats {out}/c")):
            fail("no server to kill")
        rc = run.wait()
    finally:
        if run.poll() is None:  # a failure above: bench/run's own SIGTERM handling ends its run
            run.terminate()
            run.wait()
    if rc:
        fail(f"bench/run exited {rc} after a crash")
    n = snapshots(stats)
    if n != 1:
        fail(f"the server was killed after the window, not in it ({n} snapshots)")
    status = col(f"{out}/c/rows.csv", 0, "status")
    if status != "failed:server_crashed":
        fail(f"crash row: {status}")
    status = col(f"{out}/c/rows.csv", 1, "status")
    if status != "ok":
        fail(f"the next repetition: {status}")
    o = re.escape(f"{out}/")
    if processes(f"stats {o}") or processes(f"loadgen.*json {o}") or processes(f"sample --out {o}"):
        fail("processes left behind")
    root = cgroup2_root()
    if root and glob.glob(f"{glob.escape(root)}/muxbench-*"):
        fail("cgroups left behind")


def out_with_shell_syntax(src, build, out, rate):
    """4. --out with a quote, spaces and shell syntax: the path of a directory, not a command to run."""
    q = f"{out}/it's; touch {out}/injected #a dir"
    rc = bench_run(src, build, "epoll", 100, 10, q, "--rate", str(rate), "--duration", "1s", "--warmup", "0.3s")
    if rc:
        fail(f'bench/run exited {rc} with --out "{q}"')
    if os.path.exists(f"{out}/injected"):
        fail(f'--out "{q}" ran the command in it')
    # both roles: the kernel's rep gives perf the path too
    if lines(f"{q}/rows.csv") != 3 or {col(f"{q}/rows.csv", i, "status") for i in (0, 1)} != {"ok"}:
        fail(f'--out "{q}": {cat(glob.escape(q) + "/rows.csv")}')


def profiled(src, build, out, rate):
    """5. --profile: a published row, then one sampled by perf record: counting profile, no perf
    stat count, CPU shares that sum to 1 (samples > 0), its report kept and its perf.data gone."""
    env = None
    if not os.path.isfile(os.path.join(src, "bench", "lib", "profile.py")):
        stand_in = os.path.join(out, "profile-stand-in")
        os.makedirs(stand_in)
        with open(os.path.join(stand_in, "profile.py"), "w") as f:
            f.write(STAND_IN)
        env = {"PYTHONPATH": stand_in}
        print("profile: bench/lib/profile.py is not in this checkout: bench/run runs with this test's stand-in")
    rc = bench_run(src, build, "epoll", 100, 10, f"{out}/p", "--rate", str(rate), "--duration", "1s", "--warmup",
                   "0.3s", "--counted-reps", "0", "--profile", env=env)
    if rc:
        fail(f"bench/run --profile exited {rc}")
    try:
        with open(f"{out}/p/rows.json") as f:
            rows = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"--profile: rows.json: {e}")
    roles = [(r["counting"], r["status"]) for r in rows]
    if roles == [("own", "ok"), ("profile", "unsupported:perf_record")]:
        print("profile: perf record cannot sample on this machine: the row says so; its figures are not checked")
        return
    if roles != [("own", "ok"), ("profile", "ok")]:
        fail(f"--profile: rows {roles}; want own ok, profile ok")
    p = rows[1]
    shares = p.get("cpu_shares") or {}
    parts = [shares.get(k) for k in ("wait", "recv", "send", "kernel_other", "user")]
    if None in parts or abs(sum(parts) - 1) > 1e-6 or min(parts) < 0 or not shares.get("samples", 0) > 0:
        fail(f"--profile: cpu_shares {shares}")
    if p["wait_share"] != shares["wait"] or p["perf_syscalls_per_req"] is not None or p["count_method"] is not None:
        fail(f"--profile: wait_share {p['wait_share']}, perf {p['perf_syscalls_per_req']} ({p['count_method']})")
    kc = p.get("kernel_checks")
    if not isinstance(kc, dict) or not {"checks", "walked", "source", "why_not"} <= set(kc):
        fail(f"--profile: kernel_checks {p.get('kernel_checks')!r}")
    report = os.path.join(out, "p", p.get("perf_report") or "<no perf_report>")
    if not (os.path.isfile(report) and os.path.getsize(report) > 0):
        fail(f"--profile: no report {report}")
    left = glob.glob(f"{glob.escape(out)}/p/logs/*perf.data*")
    if left:
        fail(f"--profile: perf.data left behind: {left}")
    print(f"profile: ok ({shares['samples']} samples, wait {shares['wait']:.1%}, user {shares['user']:.1%})")


def usage_errors(src, build, out):
    """6. Role counts that make no sense: exit 2 with one line, and no rows."""
    cases = [("--counted-reps x", ["--counted-reps", "x"]), ("--profile-reps -1", ["--profile-reps", "-1"]),
             ("--profile and --profile-reps", ["--profile", "--profile-reps", "2"]),
             ("nothing to run", ["--reps", "0", "--counted-reps", "0"]),
             # --clients' options (bench/run clients runs them against real hosts): refused before
             # any ssh, and a target outside loopback and 198.18.0.0/15 before any packet
             ("--clients without --server-addr", ["--clients", "h1"]),
             ("--server-addr without --clients", ["--server-addr", "198.18.1.1"]),
             ("--ssh-config without --clients", ["--ssh-config", "/dev/null"]),
             ("--clients with --placement shared", ["--clients", "h1", "--server-addr", "127.0.0.1",
                                                    "--placement", "shared"]),
             ("--clients naming a host twice", ["--clients", "a,a", "--server-addr", "127.0.0.1"]),
             ("--clients 192.0.2.1", ["--clients", "192.0.2.1", "--server-addr", "127.0.0.1"]),
             ("--server-addr 192.0.2.1", ["--clients", "127.0.0.2", "--server-addr", "192.0.2.1"]),
             ("--loadgens 0", ["--loadgens", "0"]),
             ("--loadgens with --clients", ["--loadgens", "2", "--clients", "127.0.0.2", "--server-addr", "127.0.0.1"]),
             ("more hosts than active connections", ["--clients", "127.0.0.2,127.0.0.3", "--server-addr",
                                                     "127.0.0.1", "--active", "1"]),
             ("--reps-cap without --reps auto", ["--reps-cap", "8"]),
             ("--reps auto --reps-cap 3", ["--reps", "auto", "--reps-cap", "3"]),
             ("--reps auto --reps-within 0", ["--reps", "auto", "--reps-within", "0"]),
             ("--reps auto --reps-within x", ["--reps", "auto", "--reps-within", "x"]),
             ("--pipeline 0", ["--pipeline", "0"]), ("--pipeline 2000", ["--pipeline", "2000"]),
             ("--size 0", ["--size", "0"]), ("--size 1GB", ["--size", "1GB"])]
    for what, args in cases:
        p = subprocess.run(bench_run_argv("epoll", 10, 1, f"{out}/u", *args), cwd=src,
                           env=dict(os.environ, BUILD=build), capture_output=True, text=True, timeout=60)
        if p.returncode != 2 or len(p.stderr.splitlines()) != 1:
            fail(f"{what}: exit {p.returncode}, want 2 with one line: {p.stderr!r}")
        if os.path.exists(f"{out}/u/rows.csv"):
            fail(f"{what}: a usage error wrote rows")


def auto_reps(src, build, out, rate):
    """7. --reps auto: published repetitions until the 95% interval of the median CPU per request is
    within --reps-within of it, from 6 to --reps-cap. The verdict line must agree with the rule
    recomputed from the rows it wrote; a target no machine meets (0.001%) runs to the cap."""
    sys.path.insert(0, os.path.join(src, "bench", "lib"))
    import interval
    for within, cap in (("0.001", 7), ("25", 9)):
        d = f"{out}/auto{cap}"
        p = subprocess.run(bench_run_argv("epoll", 50, 50, d, "--rate", str(rate), "--duration", "0.3s",
                                          "--warmup", "0.1s", "--reps", "auto", "--reps-within", within,
                                          "--reps-cap", str(cap), "--counted-reps", "0"),
                           cwd=src, env=dict(os.environ, BUILD=build), capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            fail(f"--reps auto --reps-within {within}: exit {p.returncode}: {p.stderr[-400:]}")
        with open(os.path.join(d, "rows.json")) as f:
            rows = json.load(f)
        line = next((x for x in p.stderr.splitlines() if "--reps auto:" in x), "")
        vals = [r["cpu_us_per_req"] for r in rows if r["status"] == "ok"]
        iv = interval.median_interval(vals)
        met = iv.coverage >= 0.95 and max(iv.median - iv.lo, iv.hi - iv.median) <= float(within) / 100 * iv.median
        first = interval.median_interval(vals[:-1]) if len(vals) > 6 else None
        met_before = first and first.coverage >= 0.95 and \
            max(first.median - first.lo, first.hi - first.median) <= float(within) / 100 * first.median
        if not 6 <= len(rows) <= cap or met_before:
            fail(f"--reps auto --reps-within {within} --reps-cap {cap}: {len(rows)} rows, want 6..{cap}, "
                 f"and none after the interval was met: {vals}")
        if met != ("stopped" in line) or (not met and (len(rows) != cap or "at the cap" not in line)):
            fail(f"--reps auto --reps-within {within}: the line {line!r} against the rows' {iv}")
        if within == "0.001" and (met or len(rows) != cap):
            fail(f"--reps-within 0.001%: {len(rows)} rows, want the cap {cap}: {line!r}")


def main():
    src, build = sys.argv[1], sys.argv[2]
    need_bench_run()
    out = tempfile.mkdtemp(prefix="muxbench-run.")
    try:
        closed, rate = calibrate(src, build, out)
        good_run(src, build, out, rate, closed)
        select_unsupported(src, build, out)
        crash(src, build, out, rate)
        out_with_shell_syntax(src, build, out, rate)
        profiled(src, build, out, rate)
        usage_errors(src, build, out)
        auto_reps(src, build, out, rate)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print("bench/run: ok")


if __name__ == "__main__":
    main()
