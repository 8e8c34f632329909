# hpo — `make demo` runs a study end to end; `make test` runs every test. Both install missing
# Debian packages first, then configure and build.
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all deps configure build test thread-safety fuzz-smoke demo install bench clean

all: build

deps:
	bash deploy/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build thread-safety fuzz-smoke
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j$(JOBS)

# The non-LibTorch code built by clang with -Werror=thread-safety: every lock annotation checked.
# (Built, not run: the tests run from $(BUILD).)
thread-safety: deps
	cmake -S . -B $(BUILD)-clang -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DHPO_THREAD_SAFETY=ON
	cmake --build $(BUILD)-clang -j$(JOBS) --target hpo hpo-coordinator hpo-worker hpo-task \
	  worker_daemon_test server_test

# 60 Branin trials, 4 in parallel, on 4 local workers; the history stays in $(BUILD)-demo/demo.db.
# Installs and builds only what that needs: the four binaries, without LibTorch or the tests, at
# -O1 without debug info (3m33s to build on a fresh 2-core machine, 4m31s at -O3; docs/bench.md).
# `make` and `make install` build the optimized ones.
demo:
	bash deploy/install-deps.sh --demo
	cmake -S . -B $(BUILD)-demo -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" \
	  -DHPO_BUILD_TESTS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON
	cmake --build $(BUILD)-demo -j$(JOBS) --target hpo hpo-coordinator hpo-worker hpo-task
	rm -f $(BUILD)-demo/demo.db $(BUILD)-demo/demo.db-wal $(BUILD)-demo/demo.db-shm
	$(BUILD)-demo/bin/hpo run examples/branin.yaml --workers 4 --db $(BUILD)-demo/demo.db

install: build
	cmake --install $(BUILD)

# Capacity benchmark of the coordinator (not part of `make test`).
bench: build
	bash deploy/install-deps.sh --bench
	bash bench/capacity.sh $(BUILD)

# The libFuzzer targets (tests/fuzz), built with clang and ASan, each run briefly from its seeds;
# bench/fuzz.sh SECONDS runs them longer.
FUZZ_SECONDS ?= 15
fuzz-smoke: deps
	cmake -S . -B $(BUILD)-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DHPO_FUZZ=ON
	cmake --build $(BUILD)-fuzz -j$(JOBS) --target study_file_fuzzer metric_line_fuzzer \
	  coordinator_fuzzer
	bash bench/fuzz.sh $(FUZZ_SECONDS) $(BUILD)-fuzz

clean:
	rm -rf $(BUILD) $(BUILD)-clang $(BUILD)-fuzz
