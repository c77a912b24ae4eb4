# Makefile - the front door. The build is meson's; this only names the jobs.
#   make          build everything (installs missing Debian packages first when run as root)
#   make test     the unit and integration suites, in a normal and an ASan+UBSan build
#   make bench    the main job: the measured sweep, charts and report (not written yet)
#   make clean    remove the build directories

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_TEST ?= meson test --print-errorlogs --num-processes 2

.PHONY: all test test-build test-asan bench clean deps

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

bench:
	@echo "make bench: the measured sweep arrives with bench/run and bench/sweep (issues 4 and 5)" >&2
	@exit 2

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
