#!/usr/bin/env bash
# The coordinator's capacity and Optuna's, in one run on this machine, so they can be compared.
#   bash bench/capacity.sh [BUILD_DIR]
# Prints: for K = 16, 64, 256, what gRPC alone does (empty call pairs/s), then trials/s and
# AcquireTrial latency with K simulated workers calling as fast
# as they can (closed loop); the same with fsync on every commit; K = 256 workers whose trials
# last 150 ms on average (latency below saturation); a gp study of 500 trials beside four
# null-trial studies (their acquire latency); Optuna 3.1's trials/s on SQLite and in memory;
# and the ratios at K = 64.
set -euo pipefail
build="${1:-build}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
bench="$build/bin/coordinator_capacity_bench"
"$bench" --db "$dir/a.db" --trials 5000 --workers 16,64,256 --rpc-floor | tee "$dir/closed.txt"
echo
"$bench" --db "$dir/b.db" --trials 2000 --workers 64 --sync-full
echo
"$bench" --db "$dir/c.db" --trials 5000 --workers 256 --trial-ms 150
echo
"$bench" --db "$dir/d.db" --workers 64 --studies 4 --trial-ms 100 --gp-beside 500
echo
if /usr/bin/python3 -c 'import optuna' 2>/dev/null; then
  /usr/bin/python3 "$(dirname "$0")/optuna_capacity.py" --trials 500 | tee "$dir/optuna.txt"
  ours=$(awk '$1 == 64 && $3 != "(empty" {print $2}' "$dir/closed.txt")
  sqlite=$(awk '$1 == "sqlite" {print $2}' "$dir/optuna.txt")
  memory=$(awk '$1 == "memory" {print $2}' "$dir/optuna.txt")
  awk -v o="$ours" -v s="$sqlite" -v m="$memory" 'BEGIN {
    printf "hpo at K=64: %.0f trials/s = %.1fx Optuna on SQLite, %.2fx Optuna in memory\n",
           o, o / s, o / m }'
else
  echo "optuna: not installed (bash deploy/install-deps.sh --bench), peer skipped"
fi
