#!/usr/bin/env bash
# run.sh - `make fuzz`: build each fuzz target with clang + libFuzzer + ASan + UBSan in build-fuzz/
# and fuzz it for FUZZ_TIME seconds (default 60), one target after another (the machine has two
# cores; the targets are single-threaded). Not part of CI: it takes minutes and finds things.
#
# The committed seeds (tests/fuzz/corpus/<target>/) are read, never written: libFuzzer puts what
# it finds into build-fuzz/corpus/<target>/ (scratch, kept between runs so coverage accumulates)
# and crashes into build-fuzz/crashes/<target>/. Reproduce one with build-fuzz/fuzz_<target> FILE.
# Ends with one line per target; the exit status is 1 when any target failed.
set -euo pipefail

cd "$(dirname "$0")/../.."
: "${FUZZ_TIME:=60}"
: "${FUZZ_CC:=clang}"
: "${FUZZ_BUILD:=build-fuzz}"
case $FUZZ_TIME in '' | *[!0-9]*) echo "run.sh: FUZZ_TIME must be whole seconds, got '$FUZZ_TIME'" >&2; exit 2 ;; esac
command -v "$FUZZ_CC" >/dev/null || { echo "run.sh: no $FUZZ_CC (apt-get install clang)" >&2; exit 2; }

# target -> its sources besides tests/fuzz/fuzz_<target>.c
declare -A sources=(
	[options]="servers/core/options.c lib/opts.c lib/units.c"
	[opts]="lib/opts.c lib/units.c"
	[units]="lib/units.c"
	[hist]="loadgen/hist.c"
)
targets=(options opts units hist)
cflags=(-std=c17 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror "-fsanitize=fuzzer,address,undefined"
	-fno-sanitize-recover=undefined -Ilib -Iservers/core -Iloadgen -Itests/fuzz)

mkdir -p "$FUZZ_BUILD"
summary=()
status=0
for t in "${targets[@]}"; do
	exe=$FUZZ_BUILD/fuzz_$t
	# shellcheck disable=SC2086 # the source list is meant to split into words
	"$FUZZ_CC" "${cflags[@]}" "tests/fuzz/fuzz_$t.c" ${sources[$t]} -o "$exe"
	mkdir -p "$FUZZ_BUILD/corpus/$t" "$FUZZ_BUILD/crashes/$t"
	log=$FUZZ_BUILD/fuzz_$t.log
	echo "== fuzz $t: ${FUZZ_TIME}s (log: $log)"
	rc=0
	# -timeout: any single input slower than 10 s is a hang; -rss_limit_mb: and 2 GB is a leak.
	"$exe" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_BUILD/crashes/$t/" \
		"$FUZZ_BUILD/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
	found=$(find "$FUZZ_BUILD/crashes/$t" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		summary+=("fuzz $t: ok, ${runs:-?} runs in ${FUZZ_TIME}s, ${cov:-cov: ?} edges, corpus $(find "$FUZZ_BUILD/corpus/$t" -type f | wc -l) inputs")
	else
		status=1
		summary+=("fuzz $t: FAILED (exit $rc) after ${runs:-?} runs: $found input(s) in $FUZZ_BUILD/crashes/$t/, see $log")
	fi
done
printf '%s\n' "${summary[@]}"
exit "$status"
