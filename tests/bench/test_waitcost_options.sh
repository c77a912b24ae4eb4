#!/usr/bin/env bash
# test_waitcost_options.sh - a mistyped waitcost command fails fast and plainly: exit 2, exactly
# one line on stderr, nothing on stdout (no CSV header a script could mistake for a run);
# --help exits 0.
#
# usage: test_waitcost_options.sh WAITCOST     (exit 0 pass, 1 fail)
set -euo pipefail
exe=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
# Private files (mktemp: unpredictable names, mode 0600), removed however the script ends: a
# name made from the pid could be a link someone else planted, or collide with another run.
out_file=$(mktemp "${TMPDIR:-/tmp}/wc-out.XXXXXX")
err_file=$(mktemp "${TMPDIR:-/tmp}/wc-err.XXXXXX")
trap 'rm -f "$out_file" "$err_file"' EXIT

bad=(
  "--fds"
  "--fds abc"
  "--fds 0"
  "--fds 10,,x"
  "--fds 30000"
  "--ready 1,-3"
  "--mechanisms kqueue"
  "--mechanisms ,"
  "--reps 0"
  "--reps 5000"
  "--rep-time 1ns"
  "--csv="
  "--bogus"
  "--unix extra"
  "--sockets udp"
  "-x"
)
for args in "${bad[@]}"; do
  status=0
  # shellcheck disable=SC2086 # each entry is a whole command line, split on purpose
  "$exe" $args >"$out_file" 2>"$err_file" || status=$?
  out=$(cat "$out_file") err=$(cat "$err_file")
  [[ $status -eq 2 ]] || fail "'$args' exited $status, expected 2"
  [[ -z $out ]] || fail "'$args' wrote to stdout: $out"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && $err == waitcost:* ]] || fail "'$args' stderr is not one 'waitcost:' line: $err"
done
"$exe" --help | grep -q -- '--self-test' || fail "--help does not list --self-test"
echo "waitcost options: ok (${#bad[@]} bad command lines refused)"
