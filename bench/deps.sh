#!/usr/bin/env bash
# deps.sh - install (as root) or name (otherwise) the Debian packages muxbench needs.
#
#   bench/deps.sh [build|bench|fuzz] [--check]
#     build  what `make` and `make test` need: compiler, meson, ninja, pkg-config, libuv, liburing
#     bench  build's, plus what `make bench` and `make regress` need: perf, strace, hyperfine, gnuplot,
#            python3, valgrind, and OpenSSH (client and server: bench/hosts runs one sshd per test
#            host, each in its own network namespace; iproute2 makes the namespaces) (default)
#     fuzz   only what `make fuzz` needs: clang (Debian's clang ships libFuzzer)
#     --check  only say whether something is missing (exit 1 if so), install nothing
#
# Each package is checked by the command or pkg-config module it provides, so a machine that has
# the tool from elsewhere is not made to install it again.
set -euo pipefail

set_name=bench
check_only=false
for arg in "$@"; do
  case "$arg" in
    build|bench|fuzz) set_name=$arg ;;
    --check) check_only=true ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "deps.sh: unknown argument '$arg' (build, bench, fuzz, --check)" >&2; exit 2 ;;
  esac
done

# package:probe, where probe is cmd:NAME, pc:MODULE or file:PATH
build_deps=(gcc:cmd:gcc meson:cmd:meson ninja-build:cmd:ninja pkg-config:cmd:pkg-config
            libuv1-dev:pc:libuv liburing-dev:pc:liburing)
bench_deps=(linux-perf:cmd:perf strace:cmd:strace hyperfine:cmd:hyperfine gnuplot-nox:cmd:gnuplot
            python3:cmd:python3 netcat-openbsd:cmd:nc valgrind:cmd:valgrind
            openssh-client:cmd:ssh openssh-server:file:/usr/sbin/sshd iproute2:cmd:ip)
deps=("${build_deps[@]}")
[[ $set_name == bench ]] && deps+=("${bench_deps[@]}")
[[ $set_name == fuzz ]] && deps=(clang:cmd:clang)

present() {
  local kind=${1%%:*} name=${1#*:}
  case "$kind" in
    cmd) command -v "$name" >/dev/null 2>&1 ;;
    pc) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$name" ;;
    file) [[ -x $name ]] ;;
  esac
}

missing=()
for d in "${deps[@]}"; do
  present "${d#*:}" || missing+=("${d%%:*}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if $check_only; then
  echo "deps.sh: missing: ${missing[*]}" >&2
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing packages: ${missing[*]}" >&2
  echo "deps.sh: install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No package may start a service here: openssh-server's postinst would start an sshd on port 22 of
# every interface. policy-rc.d exit 101 tells invoke-rc.d "not now" (Debian policy 9.3.3); one that
# exists already is the machine's and stays.
policy=/usr/sbin/policy-rc.d made_policy=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=true
fi
install_rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || install_rc=$?
if $made_policy; then rm -f "$policy"; fi
((install_rc == 0)) || { echo "deps.sh: apt-get install failed (exit $install_rc)" >&2; exit 1; }
for d in "${deps[@]}"; do
  present "${d#*:}" || { echo "deps.sh: ${d%%:*} installed but ${d#*:} is still missing" >&2; exit 1; }
done
