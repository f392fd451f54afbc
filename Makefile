# Top-level wrapper: `make test` and `make bench` install missing Debian packages (as root;
# otherwise they print the apt-get line and stop), configure, build, then test or run.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test test-unit test-check bench bench-quick bench-perf plots sanitize clean

all: build

deps:
	@scripts/deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

test-check: build
	cd $(BUILD) && ctest --output-on-failure -L check

# The head-to-head sweep (bench/configs/default.json) with figures and REPORT.md in
# results/bench-<UTC time>, then the claim checks at full size that the sweep does not judge
# itself (BENCH_CHECKS=all: every check; 0: none), then bfc_perf against PyTorch and
# scikit-learn (BENCH_PERF=0: not run; its flags: BENCH_PERF_ARGS) into the same report;
# bench-quick runs the sweep's small subset only; plots redraws the figures and report of
# RESULTS (default: the newest).
bench: build
	scripts/bench.sh $(BUILD)

bench-quick: build
	scripts/bench.sh $(BUILD) --quick

plots:
	scripts/report.sh $(BUILD) $(RESULTS)

# Side-by-side performance against PyTorch and scikit-learn (bench/README.md); extra flags
# through BENCH_PERF_ARGS, e.g. make bench-perf BENCH_PERF_ARGS=--quick
bench-perf: build
	$(BUILD)/bfc_perf $(BENCH_PERF_ARGS)

sanitize: deps
	cmake -S . -B $(BUILD)-san -DCMAKE_BUILD_TYPE=Debug -DBFC_SANITIZE=ON
	cmake --build $(BUILD)-san -j $(JOBS)
	cd $(BUILD)-san && ctest --output-on-failure -j $(JOBS) -L unit

# libFuzzer on every parser of outside input (fuzz/README.md): clang with ASan + UBSan, one
# target at a time for FUZZ_SECONDS each (default 60), final statistics per target.
.PHONY: fuzz
fuzz:
	$(MAKE) -C fuzz run

clean:
	rm -rf $(BUILD) $(BUILD)-san
