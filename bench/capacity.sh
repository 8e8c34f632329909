#!/usr/bin/env bash
# The coordinator's capacity and Optuna's, in one run on this machine, so they can be compared.
#   bash bench/capacity.sh [BUILD_DIR]
set -euo pipefail
build="${1:-build}"
db="$(mktemp -d)/capacity.db"
"$build/bin/coordinator_capacity_bench" --db "$db" --trials 5000 --workers 1,8,32
"$build/bin/coordinator_capacity_bench" --db "$db.full" --trials 2000 --workers 1,8,32 --sync-full
if /usr/bin/python3 -c 'import optuna' 2>/dev/null; then
  /usr/bin/python3 "$(dirname "$0")/optuna_capacity.py" --trials 500
else
  echo "optuna: not installed (apt-get install python3-optuna), peer skipped"
fi
rm -rf "$(dirname "$db")"
