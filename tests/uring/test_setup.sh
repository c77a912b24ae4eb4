#!/usr/bin/env bash
# test_setup.sh ECHO_URING REFUSE_IO_URING - echo-uring's start-up failures, each classified:
# a kernel that refuses io_uring (ENOSYS, EPERM from io_uring_setup) is a skip, exit 77 with one
# line saying so; anything else (ENOMEM from io_uring_setup, EINVAL from a buffer ring with bad
# parameters) is a failure, exit 1 with the error, because a skip there would hide a bug behind
# every uring test, bench row and gate check. A bad --recv-limit is a usage error (exit 2); so is
# --bundle without the byte limit, and a kernel without --bundle's or --zc's feature a skip.
set -euo pipefail
uring=$1 refuse=$2
fails=0

# expect WANT_RC PATTERN CMD...: the exit status, and one line on stderr matching PATTERN
expect() {
  local want=$1 pattern=$2 rc=0 err
  shift 2
  err=$("$@" --port 0 2>&1 >/dev/null) || rc=$?
  if [[ $rc -ne $want || $(wc -l <<<"$err") -ne 1 || ! $err =~ $pattern ]]; then
    echo "FAIL: $*: exit $rc (want $want), stderr: $err"
    fails=$((fails + 1))
  else
    echo "ok: $*: exit $rc: $err"
  fi
}

expect 77 'io_uring_setup: Function not implemented.*skipped' "$refuse" 38 "$uring"  # ENOSYS
expect 77 'io_uring_setup: Operation not permitted.*skipped' "$refuse" 1 "$uring"    # EPERM
expect 1 'io_uring_setup: Cannot allocate memory$' "$refuse" 12 "$uring"             # ENOMEM
expect 1 'io_uring_register_buf_ring: Invalid argument \(a bug' \
  env MUXBENCH_TEST_URING_BAD_BUF_RING=1 "$uring"
expect 2 '--recv-limit: must be auto, off or fake-einval' "$uring" --recv-limit sometimes
# --bundle without the multishot byte limit would overrun a connection's room: a usage error when
# asked for, unsupported (a skip, naming the feature) where the kernel predates it; the same for
# --zc's usage report. The release is the test hook's, so these run on any kernel.
expect 2 '--bundle needs --recv-limit auto' "$uring" --bundle --recv-limit off
expect 2 '--bundle needs --recv-limit auto' "$uring" --bundle --recv-limit fake-einval
expect 77 '--bundle: this kernel has no multishot recv byte limit \(Linux 6.16\).*skipped' \
  env MUXBENCH_TEST_URING_RELEASE=6.15.0 "$uring" --bundle
expect 77 '--zc: this kernel has no IORING_SEND_ZC_REPORT_USAGE \(Linux 6.2\).*skipped' \
  env MUXBENCH_TEST_URING_RELEASE=6.1.0 "$uring" --zc
[[ $fails -eq 0 ]]
