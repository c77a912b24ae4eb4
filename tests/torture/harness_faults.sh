#!/usr/bin/env bash
# harness_faults.sh - the torture case for the harness itself: can a sweep be fooled or stopped
# by a server that dies or freezes in the middle of a measured window?
#
# One small bench/sweep over three servers, one fixed-rate run each (N=100, 1k req/s, a 3 s
# window; COUNTED=0 PROFILE=0, so no kernel-counted or profiled repetition follows it and the
# next server's run is the next thing the sweep starts). While it runs, this script SIGKILLs the first server (echo-epoll) and SIGSTOPs the
# second (echo-epoll --edge), each about 1 s into its loadgen's run; the third (echo-poll) is left
# alone. Judged:
#   - the killed run's row says failed:server_crashed and the frozen run's failed:server_hang,
#     each written within bench/run's own bound for one run (its loadgen limit, warmup + window +
#     N/500 + 60 s, plus the 5 s grace of each of its four stop steps);
#   - the sweep goes on: the third server's row is ok, and the sweep exits 0;
#   - nothing is left behind: no process whose command line names the sweep's directory, no
#     socket still listening on any port a server announced, no muxbench cgroup.
# A stopped server is the nasty one: SIGTERM stays pending until SIGCONT, so only the KILL after
# bench/run's 5 s wait ends it.
#
# usage: harness_faults.sh [BUILD_DIR]   (run from anywhere; default build)
# Prints one line, "PASS harness/bench-sweep (S s): figures" or "FAIL ...: why"; exits 0, 1, or
# 77 (SKIP: the premise cannot hold here, e.g. fewer than 2 CPUs).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}

t_start=$(date +%s.%N)
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL harness/bench-sweep: $*"; exit 1; }
[[ $(nproc) -ge 2 ]] || skip "bench/run pins the server and the loadgen to two CPUs"
command -v perf >/dev/null || command -v strace >/dev/null || skip "neither perf nor strace"
for s in epoll poll; do [[ -x $build/servers/echo-$s ]] || fail "no $build/servers/echo-$s (make first)"; done

out=$(mktemp -d /tmp/muxbench-harness-XXXXXX)
sweep_pid=''
cleanup() {
  if [[ -n $sweep_pid ]]; then kill -- "$sweep_pid" 2>/dev/null || true; fi
  pkill -KILL -f "$out/" 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; } # seconds since $1
rows() { [[ -f $out/s/rows.csv ]] && echo $(($(wc -l <"$out/s/rows.csv") - 1)) || echo 0; }
# The pid of the server this sweep is running now (the one whose --stats path is in $out).
server_pid() { pgrep -f "echo-[a-z]* --port 0 --stats $out/s/logs/" | head -n 1 || true; }
# Waits until a server other than $1 runs and its loadgen has started; prints its pid.
next_server() {
  local not=$1 pid='' i
  for ((i = 0; i < 600; i++)); do
    pid=$(server_pid)
    if [[ -n $pid && $pid != "$not" ]] && pgrep -f "loadgen.*--json $out/s/logs/" >/dev/null; then
      echo "$pid"
      return 0
    fi
    sleep 0.05
  done
  return 1
}
# Waits until rows.csv has $1 rows, at most $bound s; prints the seconds since $2.
row_after() {
  local want=$1 t0=$2 i
  for ((i = 0; i < bound * 20; i++)); do
    if (($(rows) >= want)); then
      since "$t0"
      return 0
    fi
    kill -0 "$sweep_pid" 2>/dev/null || break
    sleep 0.05
  done
  return 1
}

# bench/run's perf cgroups (muxbench-PID-REP): only ones this sweep created count, since a
# bench/run that was itself SIGKILLed elsewhere cannot have removed its own.
cg_root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
muxbench_cgroups() { if [[ -n $cg_root ]]; then find "$cg_root" -maxdepth 1 -name 'muxbench-*' | sort; fi; }
cgroups_before=$(muxbench_cgroups)

duration=3 warmup=1 conns=100
# bench/run's bound for one run: the loadgen's limit, its kill grace, then perf, strace and the
# server's SIGTERM wait (5 s each).
bound=$((warmup + duration + conns / 500 + 60 + 5 + 5 + 5 + 5))

SERVERS="epoll epoll-edge poll" CONNS=$conns MODES=rate RATE=1k REPS=1 COUNTED=0 PROFILE=0 DURATION=${duration}s \
  WARMUP=${warmup}s OUT=$out/s BUILD=$build bench/sweep >"$out/sweep.out" 2>"$out/sweep.err" &
sweep_pid=$!

# 1. Kill -9 the first server mid-window.
pid1=$(next_server '') || fail "the first server's run never started: $(tail -n 3 "$out/sweep.err")"
sleep 1
kill -KILL "$pid1" || fail "could not kill the first server ($pid1)"
t_kill=$(now)
crash_s=$(row_after 1 "$t_kill") || fail "no row within ${bound} s after SIGKILL"

# 2. SIGSTOP the second mid-window.
pid2=$(next_server "$pid1") || fail "the sweep did not go on to the second server"
sleep 1
kill -STOP "$pid2" || fail "could not stop the second server ($pid2)"
t_stop=$(now)
hang_s=$(row_after 2 "$t_stop") || fail "no row within ${bound} s after SIGSTOP"

# 3. The third runs untouched; the sweep must finish on its own.
sweep_rc=0
wait "$sweep_pid" || sweep_rc=$?
sweep_pid=''
((sweep_rc == 0)) || fail "bench/sweep exited $sweep_rc: $(tail -n 3 "$out/sweep.err")"

status() { python3 -c 'import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[int(sys.argv[2])]["status"])' "$out/s/rows.csv" "$1"; }
(($(rows) == 3)) || fail "$(rows) rows in rows.csv, want 3"
s1=$(status 0) s2=$(status 1) s3=$(status 2)
[[ $s1 == failed:server_crashed ]] || fail "the killed server's row says $s1"
[[ $s2 == failed:server_hang ]] || fail "the stopped server's row says $s2"
[[ $s3 == ok ]] || fail "the untouched server's row says $s3"
awk -v c="$crash_s" -v h="$hang_s" -v b="$bound" 'BEGIN { exit !(c <= b && h <= b) }' ||
  fail "rows took ${crash_s} s and ${hang_s} s, bound ${bound} s"

# Nothing left behind.
left=$(pgrep -af "$out/" | grep -v "^$$ " || true)
[[ -z $left ]] || fail "processes left behind: $left"
ports=$(sed -n 's/^listening on .*:\([0-9][0-9]*\)$/\1/p' "$out"/s/logs/*.server.out | sort -u)
[[ $(wc -w <<<"$ports") -eq 3 ]] || fail "expected 3 announced ports, got: $ports"
for p in $ports; do
  [[ -z $(ss -Htln "sport = :$p") ]] || fail "port $p still listening"
done
cgroups_now=$(muxbench_cgroups)
[[ $cgroups_now == "$cgroups_before" ]] || fail "cgroups left behind: $(comm -13 <(echo "$cgroups_before") <(echo "$cgroups_now") | xargs)"
kill -0 "$pid1" 2>/dev/null && fail "the killed server $pid1 still exists"
kill -0 "$pid2" 2>/dev/null && fail "the stopped server $pid2 still exists"

secs=$(since "$t_start")
echo "PASS harness/bench-sweep ($secs s): kill -9 mid-window -> $s1 row ${crash_s} s later;" \
  "SIGSTOP mid-window -> $s2 row ${hang_s} s later (bound ${bound} s); the sweep went on: next" \
  "server's row $s3, exit 0; left behind: 0 processes, 0 of 3 ports listening, 0 cgroups"
