#!/usr/bin/env bash
# Installs the Debian 12 packages that hpo's build and tests need. Idempotent: packages already
# present are skipped, and apt is not touched at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev sqlite3
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libeigen3-dev libnlopt-cxx-dev libtorch-dev libsvm-dev libcpp-httplib-dev
  python3 python3-grpcio python3-protobuf  # the hpo Python package (python/)
  openssl  # the security tests make a throwaway CA with it
  clang    # make thread-safety: clang checks the lock annotations
  libfuzzer-14-dev  # make fuzz-smoke: the libFuzzer targets
  libjs-chart.js    # the dashboard's plots, served from /usr/share/javascript/chart.js
  chromium python3-websocket  # the dashboard's test in a real browser (DevTools protocol)
  dataset-fashion-mnist zlib1g-dev  # the fmnist-* trainers: IDX files (gzip) and their reader
)

# Only what `make demo` builds (hpo, hpo-coordinator, hpo-worker, hpo-task: no LibTorch, no
# tests, no benchmarks, no Python package): `install-deps.sh --demo`.
if [ "${1:-}" = "--demo" ]; then
  PACKAGES=(
    build-essential cmake pkg-config ccache
    libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
    libabsl-dev libsqlite3-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
    libeigen3-dev libnlopt-cxx-dev libsvm-dev libcpp-httplib-dev
  )
fi

# Peers for the benchmarks (not needed to build or test): `install-deps.sh --bench`.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(python3-optuna python3-torch)  # python3-torch: bench/trainer_compare.sh on a CPU host
fi

# Only what the installed binaries load (hpo, hpo-coordinator, hpo-worker, hpo-task), for a
# runtime image or a host that runs what was built elsewhere: `install-deps.sh --runtime`.
# (hpo-task-lcbench also needs libtorch2.0.)
if [ "${1:-}" = "--runtime" ]; then
  PACKAGES=(
    libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libre2-9 libc-ares2 libssl3
    libsqlite3-0 libyaml-cpp0.7 libcpp-httplib0.11 libbrotli1 zlib1g libsvm3 libnlopt0
    libjs-chart.js
  )
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
