"""verdict.py - how a tests/bench script ends: FAIL (exit 1) or SKIP (exit 77, meson: skipped), and
what several of them share."""
import json
import os
import shutil
import subprocess
import sys


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


# Steal: the time the hypervisor ran something else on this VM's vCPUs (/proc/stat's 8th figure).
# A test whose premise is "this process has its core" cannot judge a run during which the host took
# a share of it: past STEAL_MAX of all CPU time, that premise did not hold, a reason outside the code.
STEAL_MAX = 0.05


def cpu_times():
    """(steal, total) jiffies over every CPU, from /proc/stat's first line; None where unreadable."""
    try:
        with open("/proc/stat") as f:
            w = f.readline().split()
        v = [int(x) for x in w[1:9]]
        return v[7], sum(v)
    except (OSError, ValueError, IndexError):
        return None


def steal_share(before, after):
    """The share of CPU time stolen between two cpu_times() readings (0 where unknown)."""
    if not before or not after or after[1] <= before[1]:
        return 0.0
    return (after[0] - before[0]) / (after[1] - before[1])


def need_bench_run():
    """Skip unless bench/run can run here: a way to count syscalls, and two CPUs to pin its sides."""
    if not (shutil.which("perf") or shutil.which("strace")):
        skip("neither perf nor strace")
    if len(os.sched_getaffinity(0)) < 2:  # what nproc counts, and bench/run's placement
        skip("bench/run pins the server and the loadgen to two CPUs")


HOST_NAMES = ("muxbench-h1", "muxbench-h2", "mbh1", "mbh2")


def need_test_hosts():
    """Skip unless bench/hosts can make two hosts here: root, OpenSSH's server and client, ip, a
    kernel that allows network namespaces, and none of the names it would make taken already."""
    if os.geteuid() != 0:
        skip("network namespaces need root")
    if not any(os.access(os.path.join(p, "sshd"), os.X_OK) for p in ("/usr/sbin", "/usr/local/sbin", "/sbin")):
        skip("no OpenSSH server (bench/deps.sh bench installs openssh-server)")
    if not shutil.which("ip") or not shutil.which("ssh"):
        skip("no ip or ssh")
    probe = subprocess.run(["ip", "netns", "add", "muxbench-probe"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        skip(f"network namespaces are not allowed here: {probe.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", "muxbench-probe"], capture_output=True, timeout=30)
    taken = [n for n in HOST_NAMES if os.path.exists(f"/run/netns/{n}") or os.path.exists(f"/sys/class/net/{n}")]
    if taken:
        skip(f"names bench/hosts would make exist already (another run?): {taken}")


def report_beside_sample(src, run_dir, meta=None):
    """plotdata.py and report.py on run_dir, with the committed sample's main rows and meta (or the
    meta given) copied in (a section's own subdirectory, scaling/ or shapes/, needs a main run
    beside it); returns REPORT.md's text."""
    shutil.copy(os.path.join(src, "results", "sample", "rows.json"), run_dir)
    if meta is None:
        shutil.copy(os.path.join(src, "results", "sample", "meta.json"), run_dir)
    else:
        with open(os.path.join(run_dir, "meta.json"), "w") as f:
            json.dump(meta, f)
    for script in ("plotdata.py", "report.py"):
        q = subprocess.run([sys.executable, os.path.join(src, "bench", "lib", script), run_dir],
                           capture_output=True, text=True, timeout=60)
        if q.returncode != 0:
            fail(f"{script}: exit {q.returncode}: {q.stderr.strip()[-500:]}")
    with open(os.path.join(run_dir, "REPORT.md")) as f:
        return f.read()
