#!/usr/bin/env bash
# The long chaos run: thousands of short trials in several studies on 16 hpo-worker processes,
# with random SIGKILLs of workers and SIGKILL + restart of the coordinator every few seconds.
# It prints the counts (kills survived, completed vs budget, lost attempts retried, integrity).
#   bench/chaos.sh [BUILD_DIR]     (after `make test`; HPO_CHAOS_* override the defaults below)
set -euo pipefail
build="${1:-build}"
export HPO_CHAOS_STUDIES="${HPO_CHAOS_STUDIES:-4}"
export HPO_CHAOS_TRIALS="${HPO_CHAOS_TRIALS:-1000}"
export HPO_CHAOS_WORKERS="${HPO_CHAOS_WORKERS:-16}"
export HPO_CHAOS_KILL_EVERY_MS="${HPO_CHAOS_KILL_EVERY_MS:-1500}"
export HPO_CHAOS_RESTARTS="${HPO_CHAOS_RESTARTS:-20}"
export HPO_CHAOS_TIMEOUT_S="${HPO_CHAOS_TIMEOUT_S:-1800}"
export HPO_CHAOS_SEED="${HPO_CHAOS_SEED:-$RANDOM}"
echo "chaos.sh: seed $HPO_CHAOS_SEED"
exec "$build/bin/chaos_test" --gtest_brief=1
