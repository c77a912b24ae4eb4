#!/usr/bin/env python3
"""test_ab.py - bench/run --base-build: each repetition a pair, one run of each build.

1. An A/A run (the build under test is its own base), --reps 2: four `ok` rows, builds base, head,
   head, base and reps 1, 1, 2, 2 in rows.json, all published ones (counting own: a pair counts
   nothing by default, no perf), rows.csv's header unchanged, every run's logs and histogram under a
   name of its own, a progress line per run naming its role and build, and meta.json's base_build
   naming the directory and its source's commit. --counted-reps 1 adds one counted pair after them.
2. A fake base: a directory whose table's epoll row is a wrapper script that says so and execs the
   real echo-epoll. The base row's server is the wrapper, the head row's is not: the base binary is
   the base directory's.
3. Usage errors, exit 2 with one line and no rows: --base-build with --server-cmd, a directory
   without a table, a table without the server, a row whose binary is not built.

No bound here is a time or a rate: the checks are statuses, orders, names and files.

usage: test_ab.py SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip)
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

from test_run import HEADER
from verdict import fail, need_bench_run

LOAD = ("--connections", "50", "--active", "10", "--rate", "2k", "--duration", "0.3s", "--warmup", "0.1s")
WRAPPER = """\
#!/bin/sh
# the fake base build's echo-epoll: says so where bench/run keeps the server's stderr, then is the real one
echo "fake base server $$" >&2
echo $$ >> '{marker}'
exec '{real}' "$@"
"""


def bench_run(src, build, out, *args):
    """bench/run ARGS plus the small load, from SOURCE_DIR -> (exit code, stderr)."""
    p = subprocess.run(["bench/run", *args, *LOAD, "--out", out], cwd=src, env=dict(os.environ, BUILD=build),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    return p.returncode, p.stderr


def read_rows(out, n, stderr):
    """rows.csv and rows.json of OUT, which must hold n ok rows each."""
    try:
        with open(os.path.join(out, "rows.csv"), newline="") as f:
            header = f.readline().rstrip("\n")
            f.seek(0)
            rows = list(csv.DictReader(f))
        with open(os.path.join(out, "rows.json")) as f:
            objs = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{out}: {e}: {stderr.strip()}")
    if header != HEADER:
        fail(f"rows.csv header changed: {header}")
    if len(rows) != n or len(objs) != n:
        fail(f"{len(rows)} rows in rows.csv, {len(objs)} in rows.json, want {n}: {stderr.strip()}")
    statuses = [r["status"] for r in rows] + [r["status"] for r in objs]
    if statuses != ["ok"] * 2 * n:
        fail(f"statuses {statuses}: {stderr.strip()}")
    return objs


def meta_base(out):
    with open(os.path.join(out, "meta.json")) as f:
        return json.load(f).get("base_build", "<no base_build>")


def table(build):
    """BUILD's servers.tsv -> (header line, {name: cells})."""
    with open(os.path.join(build, "servers", "servers.tsv")) as f:
        lines = f.read().splitlines()
    return lines[0], {line.split("\t")[0]: line.split("\t") for line in lines[1:] if line.strip()}


def write_table(path, header, rows):
    os.makedirs(os.path.join(path, "servers"))
    with open(os.path.join(path, "servers", "servers.tsv"), "w") as f:
        f.write("\n".join([header] + ["\t".join(cells) for cells in rows.values()]) + "\n")


def a_a(src, build, tmp):
    """1. The build against itself: the pairs, their order, their names, meta.json."""
    out = os.path.join(tmp, "aa")
    rc, err = bench_run(src, build, out, "--server", "epoll", "--base-build", build, "--reps", "2")
    if rc:
        fail(f"A/A: bench/run exited {rc}: {err.strip()}")
    objs = read_rows(out, 4, err)
    builds, reps = [r.get("build") for r in objs], [r["rep"] for r in objs]
    if builds != ["base", "head", "head", "base"] or reps != [1, 1, 2, 2]:
        fail(f"A/A: builds {builds}, reps {reps}; want base head head base, 1 1 2 2")
    tags = [r["tag"] for r in objs]
    if len(set(tags)) != 4:
        fail(f"A/A: the two builds' runs share a log tag: {tags}")
    for tag in tags:
        for path in (f"logs/{tag}.server.out", f"logs/{tag}.stats.jsonl", f"logs/{tag}.row.json", f"hist/{tag}.hist"):
            if not os.path.isfile(os.path.join(out, path)):
                fail(f"A/A: no {path}: {sorted(os.listdir(os.path.join(out, 'logs')))}")
    # each run's own files: its row.json is its row, not the other build's
    for r in objs:
        with open(os.path.join(out, "logs", r["tag"] + ".row.json")) as f:
            if json.load(f)["rep"] != r["rep"]:
                fail(f"A/A: logs/{r['tag']}.row.json is another run's")
    progress = [line.split("]")[0] + "]" for line in err.splitlines() if line.startswith("[")]
    if progress != ["[1/4 own base]", "[2/4 own head]", "[3/4 own head]", "[4/4 own base]"]:
        fail(f"A/A: progress lines {progress}: {err.strip()}")
    counted = [(r["counting"], r["perf_syscalls_per_req"], r.get("perf_scope")) for r in objs]
    if counted != [("own", None, None)] * 4:
        fail(f"A/A: the pairs were counted by the kernel: (counting, perf syscalls/req, scope) {counted}")
    git = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True)
    want = {"dir": os.path.abspath(build), "commit": git.stdout.strip() if git.returncode == 0 else None}
    if meta_base(out) != want:
        fail(f"A/A: meta.json base_build {meta_base(out)}, want {want}")


def counted_pair(src, build, tmp):
    """1b. --counted-reps 1 with --base-build: the published pair, then a counted one, each build's
    kernel row with perf's count, its tag apart from the published run's."""
    out = os.path.join(tmp, "aa-k")
    rc, err = bench_run(src, build, out, "--server", "epoll", "--base-build", build, "--reps", "1",
                        "--counted-reps", "1")
    if rc:
        fail(f"counted pair: bench/run exited {rc}: {err.strip()}")
    objs = read_rows(out, 4, err)
    got = [(r["counting"], r["build"], r["rep"]) for r in objs]
    if got != [("own", "base", 1), ("own", "head", 1), ("kernel", "base", 1), ("kernel", "head", 1)]:
        fail(f"counted pair: (counting, build, rep) {got}")
    if any(r["perf_syscalls_per_req"] is None for r in objs[2:]):
        fail(f"counted pair: a kernel row without a count: {[r['perf_syscalls_per_req'] for r in objs]}")
    tags = [r["tag"] for r in objs]
    if len(set(tags)) != 4 or not tags[2].endswith("-r1-k-base") or not tags[3].endswith("-r1-k"):
        fail(f"counted pair: tags {tags}")


def fake_base(src, build, tmp):
    """2. A base whose epoll is a wrapper: the base rows ran it, the head rows did not."""
    header, rows = table(build)
    fake, marker = os.path.join(tmp, "fake"), os.path.join(tmp, "fake-ran")
    path = header.split("\t").index("path")
    wrapper = os.path.join(fake, "bin", "echo-epoll")  # named so that the row's server stays `epoll`
    os.makedirs(os.path.dirname(wrapper))
    with open(wrapper, "w") as f:
        f.write(WRAPPER.format(marker=marker, real=rows["epoll"][path]))
    os.chmod(wrapper, 0o755)
    rows["epoll"][path] = wrapper
    write_table(fake, header, rows)

    out = os.path.join(tmp, "fake-out")
    rc, err = bench_run(src, build, out, "--server", "epoll", "--base-build", fake, "--reps", "1")
    if rc:
        fail(f"fake base: bench/run exited {rc}: {err.strip()}")
    objs = read_rows(out, 2, err)
    for r in objs:
        with open(os.path.join(out, "logs", r["tag"] + ".server.err")) as f:
            ran = "fake base server" in f.read()
        if ran != (r.get("build") == "base"):
            fail(f"fake base: the {r.get('build')} row's server {'was' if ran else 'was not'} the base's wrapper")
    with open(marker) as f:
        if len(f.read().split()) != 1:
            fail("fake base: the wrapper did not run exactly once (one base run)")
    want = {"dir": fake, "commit": None}  # not a meson build directory: no source, no commit
    if meta_base(out) != want:
        fail(f"fake base: meta.json base_build {meta_base(out)}, want {want}")


def usage_errors(src, build, tmp):
    """3. What bench/run refuses before it runs anything: exit 2, one line."""
    header, rows = table(build)
    empty, noname, unbuilt = (os.path.join(tmp, d) for d in ("empty", "noname", "unbuilt"))
    os.makedirs(empty)
    write_table(noname, header, {n: r for n, r in rows.items() if n != "epoll"})
    path = header.split("\t").index("path")
    rows["epoll"][path] = os.path.join(unbuilt, "echo-epoll")
    write_table(unbuilt, header, rows)
    cases = [("--server-cmd", ["--server-cmd", "sleep {port}", "--base-build", build], "--base-build"),
             ("no table", ["--server", "epoll", "--base-build", empty], empty),
             ("no epoll row", ["--server", "epoll", "--base-build", noname], noname),
             ("not built", ["--server", "epoll", "--base-build", unbuilt], unbuilt)]
    for what, args, named in cases:
        out = os.path.join(tmp, "err-out")
        rc, err = bench_run(src, build, out, *args)
        if rc != 2 or len(err.splitlines()) != 1 or named not in err:
            fail(f"{what}: exit {rc}, want 2 with one line naming {named}: {err!r}")
        if os.path.exists(os.path.join(out, "rows.csv")):
            fail(f"{what}: a usage error wrote rows")


def main():
    src, build = sys.argv[1], sys.argv[2]
    need_bench_run()
    tmp = tempfile.mkdtemp(prefix="muxbench-ab.")
    try:
        a_a(src, build, tmp)
        counted_pair(src, build, tmp)
        fake_base(src, build, tmp)
        usage_errors(src, build, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("bench/run --base-build: ok")


if __name__ == "__main__":
    main()
