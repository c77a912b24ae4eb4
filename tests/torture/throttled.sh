#!/usr/bin/env bash
# throttled.sh [CPUS] [BUILD_DIR] - make torture as on a machine several times slower: the whole
# run (driver, loadgen, servers) in a cgroup whose CPU quota is CPUS cores (default 0.4, a fifth of
# this 2-core machine), in 20 ms periods so the quota throttles often and briefly, as a slower
# core would, rather than in 100 ms stalls. Shows that no case's load or bound is absolute: the
# cases that need load measure the machine first (echo_capacity()). Needs root and the cpu
# controller (cgroup v2, or v1 at /sys/fs/cgroup/cpu). CASES and SERVERS pass through.
set -euo pipefail
cpus=${1:-0.4} build=${2:-build}
cd "$(dirname "$0")/../.."
period=20000
quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN { q = int(c * p); if (q < 1000) exit 1; print q }') ||
  { echo "throttled.sh: CPUS '$cpus': must be a number, at least 0.05" >&2; exit 2; }
if [[ -f /sys/fs/cgroup/cgroup.controllers ]] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  cg=/sys/fs/cgroup/muxbench-throttled-$$
  mkdir "$cg"
  echo "$quota $period" >"$cg/cpu.max"
elif [[ -d /sys/fs/cgroup/cpu ]]; then
  cg=/sys/fs/cgroup/cpu/muxbench-throttled-$$
  mkdir "$cg"
  echo "$period" >"$cg/cpu.cfs_period_us"
  echo "$quota" >"$cg/cpu.cfs_quota_us"
else
  echo "throttled.sh: no cgroup cpu controller" >&2
  exit 77
fi
cleanup() { rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT
echo "throttled.sh: make torture with $cpus CPUs ($quota us every $period us), cgroup $cg"
# The child shell moves itself in first, so everything it starts is throttled from birth.
bash -c 'echo $$ >"$1/cgroup.procs" && exec tests/torture/run "$2"' bash "$cg" "$build"
