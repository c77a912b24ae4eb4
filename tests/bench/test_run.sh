#!/usr/bin/env bash
# test_run.sh - bench/run end to end, on small loads: a good run gives one `ok` row whose two
# syscall counts agree; select past FD_SETSIZE gives an `unsupported` row without running; a server
# killed mid-run gives a `failed:` row, and nothing is left behind (no process, no cgroup); an
# --out path with quotes, spaces and shell syntax in it is a path, never a command.
#
# No bound here is a time or a rate: the fixed rate is a tenth of what epoll did in closed loop in
# this run, the syscall bound is built from the server's own counts, and the kill waits for the
# window's first snapshot rather than for a number of seconds.
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

# 0. What this machine does: epoll's closed loop at the load of run 1. A tenth of it is a rate
# any machine meets with both cores mostly idle.
bench/run --server epoll --connections 200 --active 20 --duration 1s --warmup 0.3s --out "$out/cal" >/dev/null 2>&1 ||
  fail "bench/run exited $? (closed loop)"
[[ $(col "$out/cal/rows.csv" 0 status) == ok ]] || fail "closed loop: $(col "$out/cal/rows.csv" 0 status)"
closed=$(col "$out/cal/rows.csv" 0 achieved_rps)
rate=$(python3 -c 'import sys; print(max(1, int(float(sys.argv[1]) / 10)))' "$closed")

# 1. A good run.
bench/run --server epoll --connections 200 --active 20 --rate "$rate" --duration 1s --warmup 0.3s --out "$out/a" >/dev/null 2>&1 ||
  fail "bench/run exited $?"
header=$(head -n 1 "$out/a/rows.csv")
want="server,variant,connections,active,mode,offered_rps,size,rep,achieved_rps,p50_us,p90_us,p99_us,p999_us,max_us,syscalls_per_req,perf_syscalls_per_req,eagain_reads_per_read,cpu_us_per_req,user_us_per_req,sys_us_per_req,ctxsw_per_req,rss_kb,threads,errors,loadgen_cpu_us_per_req,bound,count_method,placement,status"
[[ $header == "$want" ]] || fail "rows.csv header: $header"
[[ $(wc -l <"$out/a/rows.csv") -eq 2 ]] || fail "expected one row"
[[ $(col "$out/a/rows.csv" 0 status) == ok ]] || fail "status $(col "$out/a/rows.csv" 0 status): $(cat "$out"/a/logs/*.loadgen.err)"
python3 - "$out/a/rows.json" "$rate" "$closed" <<'PY' || fail "figures out of range"
import json, sys
r = json.load(open(sys.argv[1]))[0]
rate, closed = int(sys.argv[2]), float(sys.argv[3])
s, p, rps = r["syscalls_per_req"], r["perf_syscalls_per_req"], r["achieved_rps"]
assert 0.95 < rps / rate < 1.05, f"achieved {rps} req/s of {rate} (a tenth of the {closed:.0f} of closed loop)"
# At a tenth of its closed loop neither side is saturated and the rate is met: nothing bounded the run.
assert r["bound"] == "", f"bound {r['bound']!r}: server busy {r['server_busy']}, loadgen busy {r['loadgen_busy']}"
assert abs(s - p) / p < 0.05, f"counts disagree: {s} in-process, {p} kernel"
# One read and one write per request, plus the waits and the empty reads this run made (how many
# requests a wake-up finds depends on the machine's speed): nothing else, epoll_ctl included, may
# cost a syscall per request. 0.05 per request leaves room for the window's odd signal or accept.
w = r["server_window"]
req, sc = w["requests"], w["syscalls"]
waits = sc["epoll_wait"] + sc.get("epoll_pwait", 0)
assert 2.0 <= s <= 2 + (waits + w["read_eagain"]) / req + 0.05, \
    f"epoll made {s} syscalls per request with {waits / req:.3f} waits and {w['read_eagain'] / req:.3f} empty reads: {sc}"
# ...and the waits are bounded by the work too: level-triggered echo-epoll blocks in epoll_wait
# (timeout -1), so every wait returns at least one event.
assert waits <= w["events"], f"{waits} waits delivered {w['events']} events: a wait that found nothing"
assert r["cpu_us_per_req"] > 0 and r["errors"] == 0
PY
for f in meta.json rows.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out/a/$f" || fail "$f"; done
ls "$out"/a/hist/*.hist >/dev/null || fail "no histogram"

# 2. select cannot hold 2,000 connections: a row that says so, and no run.
bench/run --server select --connections 2000 --active 20 --duration 1s --warmup 0.2s --out "$out/b" >/dev/null 2>&1 ||
  fail "bench/run exited $? for select"
[[ $(col "$out/b/rows.csv" 0 status) == unsupported:fd_setsize ]] || fail "select: $(col "$out/b/rows.csv" 0 status)"

# 3. A server killed mid-run: a failed row, the script goes on, nothing left behind.
bench/run --server epoll --connections 100 --active 10 --rate "$rate" --duration 3s --warmup 0.3s --reps 2 --out "$out/c" >/dev/null 2>&1 &
run=$!
# Mid-run, in the window: its first snapshot is in the server's stats file (bench/run's own
# deadlines end the wait if it never comes).
snaps() {
  python3 -c 'import glob, json, sys
n = 0
for p in glob.glob(sys.argv[1]):
    for line in open(p):
        try:
            n += json.loads(line).get("type") == "snapshot"
        except ValueError:
            pass  # a line the server is still writing
print(n)' "$out/c/logs/*-r1.stats.jsonl"
}
while (($(snaps) < 1)); do kill -0 "$run" 2>/dev/null || fail "bench/run ended before the window opened"; sleep 0.02; done
pkill -KILL -f "echo-epoll --port 0 --stats $out/c" || fail "no server to kill"
wait "$run" || fail "bench/run exited $? after a crash"
(($(snaps) == 1)) || fail "the server was killed after the window, not in it ($(snaps) snapshots)"
[[ $(col "$out/c/rows.csv" 0 status) == failed:server_crashed ]] || fail "crash row: $(col "$out/c/rows.csv" 0 status)"
[[ $(col "$out/c/rows.csv" 1 status) == ok ]] || fail "the next repetition: $(col "$out/c/rows.csv" 1 status)"
if pgrep -f "stats $out/" >/dev/null || pgrep -f "loadgen.*json $out/" >/dev/null || pgrep -f "sample --out $out/" >/dev/null; then
  fail "processes left behind"
fi
cg_root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
if [[ -n $cg_root ]] && compgen -G "$cg_root/muxbench-*" >/dev/null; then fail "cgroups left behind"; fi

# 4. --out with a quote, spaces and shell syntax: the path of a directory, not a command to run.
q="$out/it's; touch $out/injected #a dir"
bench/run --server epoll --connections 100 --active 10 --rate "$rate" --duration 1s --warmup 0.3s --out "$q" >/dev/null 2>&1 ||
  fail "bench/run exited $? with --out \"$q\""
[[ ! -e $out/injected ]] || fail "--out \"$q\" ran the command in it"
[[ $(wc -l <"$q/rows.csv") -eq 2 && $(col "$q/rows.csv" 0 status) == ok ]] || fail "--out \"$q\": $(cat "$q/rows.csv")"
echo "bench/run: ok"
