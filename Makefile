# Makefile - the front door. The build is meson's; this only names the jobs.
#   make          build everything (installs missing Debian packages first when run as root)
#   make test     the unit and integration suites, in a normal and an ASan+UBSan build
#   make bench    the main job: the measured sweep (its rate from echo-epoll's capacity), every server's
#                 capacity (bench/capacities), sizes and pipelining (bench/shapes), the variants
#                 beside their bases (bench/variants), hyperfine,
#                 bench/scaling, bench/manyconns, charts and report (26-32 min by the VM's speed; QUICK=1, a glance: < 3 min;
#                 SERVERS="epoll poll" CONNS="1000 10000" RATE=50k REPS=5 SIZES="64 1KiB" override)
#   make plots    the charts and REPORT.md again, for RUN=results/runs/<stamp> (default: latest)
#   make bench-hyperfine   fixed work timed by hyperfine, into RUN
#   make bench-scaling     echo-epoll with 1 and 2 threads (bench/scaling), into RUN
#   make bench-manyconns   10,000 to 100,000 connections (bench/manyconns), into RUN
#   make bench-variants    every layout or newer interface beside its base at N = 10,000 (bench/variants), into RUN
#   make bench-shapes      sizes 64 B, 1 KiB, 16 KiB and pipeline 1, 16 at N = 10,000 (bench/shapes), into RUN
#   make bench-capacity    every server's capacity under SLO (default p99=5ms) at CONNS (default
#                 1,000 and 10,000: bench/capacities), into RUN, then its charts and report again
#   make waitcost the wait-cost microbenchmark (bench/waitcost/): select, poll, epoll_wait, io_uring
#                 and a busy pass over N fds, TCP and unix, into results/runs/<stamp>/waitcost.csv
#                 (linked as results/latest-waitcost.csv), waitcost.md and two charts (~20 s)
#   make waitcost-report   waitcost.md and the charts again, for WAITCOST_RUN (default: the latest)
#   make claims   CLAIMS.md: the source articles' claims, tested (after make waitcost)
#   make tax      what counting costs (bench/tax): echo-epoll at N=10,000 bare, then under bench/run's
#                 own, perf stat and perf record repetitions, closed loop and at 20k req/s, 3 pairs
#                 (a few minutes), into results/runs/tax-<stamp>/tax.json
#   make regress  the CI performance gate: this build against the base commit named in
#                 results/baseline.csv (BASE=<rev> another), built beside it and measured in the same
#                 job: instructions per request (valgrind), CPU and syscalls per request in A/B pairs
#   make regress-update    HEAD against itself (must pass), then make HEAD the base
#   make fuzz     fuzz the option parsers, parse_units and hist_merge with clang's libFuzzer
#                 (tests/fuzz/run.sh; build-fuzz/), FUZZ_TIME seconds each (default 60); not in CI
#   make torture  the fault cases (tests/torture/) against every server: a case x server table in
#                 results/runs/<stamp>/TORTURE.md, ending 'torture: N passed, N failed'
#   make clean    remove the build directories (the gate's base builds too)

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_TEST ?= meson test --print-errorlogs --num-processes 2

RUN        ?= results/latest
export SERVERS EXTRA CONNS RATE REPS SIZES PIPELINE SHAPE_SIZES SHAPE_PIPELINE SHAPE_CONNS REPS_CAP REPS_WITHIN QUICK DURATION WARMUP BUILD TICK CASES BASE CLIENTS SERVER_ADDR SSH_CONFIG REMOTE_LOADGEN ANY_NETWORK SLO CAP_REPS CAP_DURATION CAP_START

.PHONY: all test bench bench-deps bench-sweep bench-hyperfine bench-scaling bench-manyconns bench-capacity bench-shapes bench-variants plots regress regress-update clean deps \
	waitcost waitcost-report claims fuzz torture tax

# regress: this build against its base commit (results/baseline.csv's, or BASE=<rev>), both measured
# here: valgrind's instructions per request, and A/B pairs of runs for CPU and syscalls (bench/regress).

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	bench/deps.sh build

$(BUILD)/build.ninja:
	bench/deps.sh build
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	bench/deps.sh build
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

# Both builds run even when the first fails, so one run shows every failure; the exit status
# says whether anything failed.
test: all $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	@status=0; \
	echo "== tests: $(BUILD) =="; $(MESON_TEST) -C $(BUILD) || status=1; \
	echo "== tests: $(ASAN_BUILD) (AddressSanitizer + UndefinedBehaviorSanitizer) =="; \
	$(MESON_TEST) -C $(ASAN_BUILD) || status=1; \
	exit $$status

bench-deps:
	bench/deps.sh bench

# The sweep makes a new results/runs/<stamp> and points results/latest at it; the rest of the
# job reads that.
bench: bench-deps all
	bench/sweep
	bench/capacities $(RUN)
	bench/shapes $(RUN)
	bench/variants $(RUN)
	bench/hyperfine $(RUN)
	bench/scaling $(RUN)
	bench/manyconns $(RUN)
	$(MAKE) --no-print-directory plots RUN=$(RUN)
	@echo "make bench: $$(readlink -f $(RUN))/REPORT.md"

tax: bench-deps all
	bench/tax

bench-hyperfine: bench-deps all
	bench/hyperfine $(RUN)

bench-scaling: bench-deps all
	bench/scaling $(RUN)

bench-manyconns: bench-deps all
	bench/manyconns $(RUN)

bench-variants: bench-deps all
	bench/variants $(RUN)
	$(MAKE) --no-print-directory plots RUN=$(RUN)

bench-shapes: bench-deps all
	bench/shapes $(RUN)
	$(MAKE) --no-print-directory plots RUN=$(RUN)

bench-capacity: bench-deps all
	bench/capacities $(RUN)
	$(MAKE) --no-print-directory plots RUN=$(RUN)

plots:
	python3 bench/lib/plotdata.py $(RUN)
	@if [ -f $(RUN)/plots/hyperfine.dat ]; then :; else rm -f $(RUN)/plots/hyperfine.png $(RUN)/plots/hyperfine.svg; fi
	for g in plots/*.gp; do \
	  case $$g in */common.gp) continue ;; */hyperfine.gp) [ -f $(RUN)/plots/hyperfine.dat ] || continue ;; \
	    */scaling.gp) [ -f $(RUN)/plots/scaling.dat ] || continue ;; \
	    */cdf.gp) [ -s $(RUN)/plots/cdf.dat ] || continue ;; \
	    */checks.gp|*/waitshare.gp|*/shares.gp|*/capacity.gp|*/balance.gp|*/shapes-cpu.gp|*/shapes-syscalls.gp) [ -s $(RUN)/plots/$$(basename $$g .gp).dat ] || continue ;; esac; \
	  gnuplot -e "dir='$(RUN)/plots'" -e "load 'plots/common.gp'" $$g || exit 1; \
	done
	python3 bench/lib/report.py $(RUN)

# waitcost: the default matrix (N = 10 to 19,000, K = 1 and 100, every mechanism, epoll_ctl at
# 1,000 and 10,000) with TCP sets, then unix ones; WAITCOST_ARGS adds or overrides options.
# The charts' scripts live in plots/waitcost/, out of `make plots`' reach (they need this data).
WAITCOST_ARGS ?=
WAITCOST_RUN  ?= $(patsubst %/,%,$(dir $(realpath results/latest-waitcost.csv)))

waitcost: bench-deps all
	@stamp=$$(date +%Y%m%d-%H%M%S); out=results/runs/$$stamp; mkdir -p $$out && \
	$(BUILD)/bench/waitcost/waitcost --sockets tcp,unix $(WAITCOST_ARGS) --csv $$out/waitcost.csv && \
	ln -sfn runs/$$stamp/waitcost.csv results/latest-waitcost.csv && \
	$(MAKE) --no-print-directory waitcost-report WAITCOST_RUN=$$out

waitcost-report:
	@test -n "$(WAITCOST_RUN)" || { echo "make waitcost-report: no run (make waitcost first, or WAITCOST_RUN=DIR)" >&2; exit 2; }
	python3 bench/lib/waitcost_report.py $(WAITCOST_RUN) $(BUILD)
	for g in plots/waitcost/waitcost.gp plots/waitcost/waitcost-ready.gp; do \
	  gnuplot -e "dir='$(WAITCOST_RUN)'" -e "load 'plots/waitcost/common.gp'" $$g || exit 1; \
	done
	@echo "make waitcost: $(WAITCOST_RUN)/waitcost.md, waitcost.png, waitcost-ready.png"

regress: bench-deps all
	bench/regress

# The baseline is a commit: the A/A gate of HEAD against itself (which must pass), then
# results/baseline.csv names HEAD as the base of every later gate, with its figures for the record.
regress-update: bench-deps all
	@out=results/runs/regress-update-$$(date +%Y%m%d-%H%M%S); \
	bench/regress --base HEAD --out $$out && \
	python3 bench/lib/regress.py baseline $$out > results/baseline.csv.tmp && mv results/baseline.csv.tmp results/baseline.csv && \
	echo "regress-update: results/baseline.csv names $$(git rev-parse --short HEAD) (from $$out)"

# CLAIMS.md: the source articles' claims, each with its experiment and a verdict computed from it
# (bench/claims/run, ~30 s); uses the latest make waitcost, running it first if there is none.
claims: bench-deps all
	@[ -e results/latest-waitcost.csv ] || $(MAKE) --no-print-directory waitcost
	bench/claims/run results/latest-waitcost.csv results/runs/claims-$$(date +%Y%m%d-%H%M%S)

# fuzz: its own build directory and compiler (clang), so the gcc builds and make test never see
# it; new corpus entries and crashes stay in build-fuzz/, the committed seeds are only read.
FUZZ_TIME ?= 60
fuzz:
	@command -v clang >/dev/null || bench/deps.sh fuzz
	FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run.sh

# torture: every case alone, one after the other (they load both cores and measure CPU);
# CASES="never_read emfile" SERVERS="epoll poll" run a subset.
torture: all
	tests/torture/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz build-regress
	git worktree prune   # the gate's base worktrees were under build-regress/
