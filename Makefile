# hpo — `make demo` runs a study end to end; `make test` runs every test. Both install missing
# Debian packages first, then configure and build.
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo install bench clean

all: build

deps:
	bash deploy/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j$(JOBS)

# 60 Branin trials, 4 in parallel, on 4 local workers; the history stays in $(BUILD)/demo.db.
demo: build
	rm -f $(BUILD)/demo.db $(BUILD)/demo.db-wal $(BUILD)/demo.db-shm
	$(BUILD)/bin/hpo run examples/branin.yaml --workers 4 --db $(BUILD)/demo.db

install: build
	cmake --install $(BUILD)

# Capacity benchmark of the coordinator (not part of `make test`).
bench: build
	bash deploy/install-deps.sh --bench
	bash bench/capacity.sh $(BUILD)

clean:
	rm -rf $(BUILD)
