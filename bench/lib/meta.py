#!/usr/bin/env python3
"""meta.py - the environment a results directory came from, as DIR/meta.json.

Kernel, CPU model, cores, RLIMIT_NOFILE, somaxconn, the ephemeral port range, git commit, compiler
and build flags, the pinning and the syscall-counting method, the CPU's mitigations and what a
syscall costs here (bench/syscallcost: io_uring's saving is worth what a syscall costs): everything
a reader needs to judge whether two runs are comparable; with bench/run --base-build, the base build's directory and
commit too (base_build). Written once per directory, by the directory's first bench/run.

usage: meta.py OUT_DIR BUILD_DIR PLACEMENT SERVER_CPU LOADGEN_CPU COUNT_METHOD
"""
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model():
    for line in (read("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


VULNERABILITIES = "/sys/devices/system/cpu/vulnerabilities"


def mitigations():
    """{issue: the kernel's line} for every file of /sys/devices/system/cpu/vulnerabilities, None
    where the kernel has none: every syscall's entry and exit pays for what is mitigated there."""
    try:
        names = sorted(os.listdir(VULNERABILITIES))
    except OSError:
        return None
    return {n: read(os.path.join(VULNERABILITIES, n)) for n in names}


def syscall_cost(build, cpu):
    """bench/syscallcost's ns per getppid() and per read() that finds nothing, run on cpu (the
    server's, where bench/run pins it: "0" or "0-1"), a few hundred milliseconds; None where it is
    not built or fails (a build from before it)."""
    exe = os.path.join(build, "bench", "syscallcost", "syscallcost")
    if not os.access(exe, os.X_OK):
        return None
    pin = ["taskset", "-c", str(cpu)] if cpu and shutil.which("taskset") else []
    out = run(*pin, exe, "--calls", "100k", "--rounds", "9")
    try:
        return json.loads(out) if out else None
    except ValueError:
        return None


def build_options(build):
    out = run("meson", "introspect", build, "--buildoptions")
    opts = {}
    if out:
        for o in json.loads(out):
            if o["name"] in ("buildtype", "optimization", "debug", "b_sanitize", "c_std", "c_args", "b_lto"):
                opts[o["name"]] = o["value"]
    return opts


def source_commit(build):
    """The commit of the git checkout a meson build directory was configured from, else None."""
    try:
        with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
            source = json.load(f)["directories"]["source"]
    except (OSError, ValueError, LookupError, TypeError):
        return None
    return run("git", "-C", source, "rev-parse", "HEAD") or None  # "" when git ran and refused


def main():
    if len(sys.argv) != 7:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    write(*sys.argv[1:])


def write(out, build, placement, scpu, lcpu, method, base=None):
    """OUT_DIR/meta.json (bench/run calls this in-process; main is the same from the command line).
    base: bench/run --base-build's directory, recorded as base_build with its checkout's commit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    commit = run("git", "rev-parse", "HEAD")
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    lo, hi = (read("/proc/sys/net/ipv4/ip_local_port_range", "0 0") or "0 0").split()
    meta = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hostname": platform.node(),
        "kernel": platform.release(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "rlimit_nofile": {"soft": soft, "hard": hard},
        "somaxconn": int(read("/proc/sys/net/core/somaxconn", "0")),
        "ip_local_port_range": [int(lo), int(hi)],
        "git_commit": commit,
        "git_dirty": bool(dirty),
        "compiler": (run("cc", "--version") or "").splitlines()[0] if run("cc", "--version") else None,
        "build_dir": build,
        "build_options": build_options(build),
        "placement": placement,
        "server_cpu": scpu,
        "loadgen_cpu": lcpu,
        "count_method": method,
        "perf_version": run("perf", "--version"),
        "clocksource": read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "cpuidle": read("/sys/devices/system/cpu/cpuidle/current_driver"),
        "mitigations": mitigations(),
        "syscall_cost": syscall_cost(build, scpu),
    }
    if base:
        meta["base_build"] = {"dir": os.path.abspath(base), "commit": source_commit(base)}
    path = os.path.join(out, "meta.json")
    with open(path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
