#!/usr/bin/env bash
# test_run.sh - bench/run end to end, on small loads: a good run gives one `ok` row whose two
# syscall counts agree; select past FD_SETSIZE gives an `unsupported` row without running; a server
# killed mid-run gives a `failed:` row, and nothing is left behind (no process, no cgroup).
#
# usage: test_run.sh SOURCE_DIR BUILD_DIR     (exit 0 pass, 1 fail, 77 skip)
set -euo pipefail
src=$1 build=$2
cd "$src"
export BUILD=$build

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v perf >/dev/null || command -v strace >/dev/null || { echo "SKIP: neither perf nor strace"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
[[ $(nproc) -ge 2 ]] || { echo "SKIP: bench/run pins the server and the loadgen to two CPUs"; exit 77; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
col() { # FILE ROW COLUMN-NAME -> value
  python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(r[int(sys.argv[2])][sys.argv[3]])' "$@"
}

# 1. A good run.
bench/run --server epoll --connections 200 --active 20 --rate 2k --duration 1s --warmup 0.3s --out "$out/a" >/dev/null 2>&1 ||
  fail "bench/run exited $?"
header=$(head -n 1 "$out/a/rows.csv")
want="server,variant,connections,active,mode,offered_rps,size,rep,achieved_rps,p50_us,p90_us,p99_us,p999_us,max_us,syscalls_per_req,perf_syscalls_per_req,eagain_reads_per_read,cpu_us_per_req,user_us_per_req,sys_us_per_req,ctxsw_per_req,rss_kb,threads,errors,loadgen_cpu_us_per_req,loadgen_bound,count_method,placement,status"
[[ $header == "$want" ]] || fail "rows.csv header: $header"
[[ $(wc -l <"$out/a/rows.csv") -eq 2 ]] || fail "expected one row"
[[ $(col "$out/a/rows.csv" 0 status) == ok ]] || fail "status $(col "$out/a/rows.csv" 0 status): $(cat "$out"/a/logs/*.loadgen.err)"
python3 - "$out/a/rows.csv" <<'PY' || fail "figures out of range"
import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
s, p, rps = float(r["syscalls_per_req"]), float(r["perf_syscalls_per_req"]), float(r["achieved_rps"])
assert 1.9 < rps / 1000 < 2.1, f"achieved {rps} req/s of 2000"
assert abs(s - p) / p < 0.05, f"counts disagree: {s} in-process, {p} kernel"
assert 2.0 <= s < 3.5, f"epoll made {s} syscalls per request"
assert float(r["cpu_us_per_req"]) > 0 and r["errors"] == "0"
PY
for f in meta.json rows.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/a/$f" || fail "$f"; done
ls "$out"/a/hist/*.hist >/dev/null || fail "no histogram"

# 2. select cannot hold 2,000 connections: a row that says so, and no run.
bench/run --server select --connections 2000 --active 20 --duration 1s --warmup 0.2s --out "$out/b" >/dev/null 2>&1 ||
  fail "bench/run exited $? for select"
[[ $(col "$out/b/rows.csv" 0 status) == unsupported:fd_setsize ]] || fail "select: $(col "$out/b/rows.csv" 0 status)"

# 3. A server killed mid-run: a failed row, the script goes on, nothing left behind.
bench/run --server epoll --connections 100 --active 10 --rate 1k --duration 3s --warmup 0.3s --reps 2 --out "$out/c" >/dev/null 2>&1 &
run=$!
for _ in $(seq 100); do pgrep -f "loadgen.*json $out/c" >/dev/null && break; sleep 0.1; done # mid-run:
sleep 1                                                                                    # in the window
pkill -KILL -f "echo-epoll --port 0 --stats $out/c" || fail "no server to kill"
wait "$run" || fail "bench/run exited $? after a crash"
[[ $(col "$out/c/rows.csv" 0 status) == failed:server_crashed ]] || fail "crash row: $(col "$out/c/rows.csv" 0 status)"
[[ $(col "$out/c/rows.csv" 1 status) == ok ]] || fail "the next repetition: $(col "$out/c/rows.csv" 1 status)"
if pgrep -f "stats $out/" >/dev/null || pgrep -f "loadgen.*json $out/" >/dev/null; then fail "processes left behind"; fi
cg_root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
if [[ -n $cg_root ]] && compgen -G "$cg_root/muxbench-*" >/dev/null; then fail "cgroups left behind"; fi
echo "bench/run: ok"
