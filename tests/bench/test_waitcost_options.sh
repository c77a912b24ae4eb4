#!/usr/bin/env bash
# test_waitcost_options.sh - a mistyped waitcost command fails fast and plainly: exit 2, exactly
# one line on stderr, nothing on stdout (no CSV header a script could mistake for a run);
# --help exits 0.
#
# usage: test_waitcost_options.sh WAITCOST     (exit 0 pass, 1 fail)
set -euo pipefail
exe=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

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
  "$exe" $args >"${TMPDIR:-/tmp}/wc-out.$$" 2>"${TMPDIR:-/tmp}/wc-err.$$" || status=$?
  out=$(cat "${TMPDIR:-/tmp}/wc-out.$$") err=$(cat "${TMPDIR:-/tmp}/wc-err.$$")
  rm -f "${TMPDIR:-/tmp}/wc-out.$$" "${TMPDIR:-/tmp}/wc-err.$$"
  [[ $status -eq 2 ]] || fail "'$args' exited $status, expected 2"
  [[ -z $out ]] || fail "'$args' wrote to stdout: $out"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && $err == waitcost:* ]] || fail "'$args' stderr is not one 'waitcost:' line: $err"
done
"$exe" --help | grep -q -- '--self-test' || fail "--help does not list --self-test"
echo "waitcost options: ok (${#bad[@]} bad command lines refused)"
