#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS from its seed corpus (tests/fuzz/corpus/TARGET, and
# examples/ for the study-file reader) and prints executions and findings. Exits non-zero when a
# target finds a crash; its reproducer is left in OUT (default a temp dir) and named.
#   bench/fuzz.sh SECONDS [FUZZ_BUILD_DIR]    (make fuzz-smoke builds FUZZ_BUILD_DIR=build-fuzz)
set -euo pipefail
seconds="${1:?usage: bench/fuzz.sh SECONDS [FUZZ_BUILD_DIR]}"
build="$(cd "${2:-build-fuzz}" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_OUT:-$(mktemp -d /tmp/hpo-fuzz-XXXXXX)}"
status=0
for target in study_file metric_line coordinator; do
  corpus="$out/$target"
  mkdir -p "$corpus"
  seeds=("$root/tests/fuzz/corpus/$target")
  if [ "$target" = study_file ]; then seeds+=("$root/examples"); fi
  log="$out/$target.log"
  if (cd "$out" && "$build/bin/${target}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
        -rss_limit_mb=4096 -artifact_prefix="$out/$target-" "$corpus" "${seeds[@]}") >"$log" 2>&1; then
    verdict="no findings"
  else
    verdict="FINDING: $(ls "$out/$target-"* 2>/dev/null | head -1) (log $log)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  printf '%-12s %10s executions in %ss, coverage %s edges, corpus %s inputs: %s\n' \
    "$target" "${runs:-?}" "$seconds" "${cov:-?}" "$(ls "$corpus" | wc -l)" "$verdict"
done
exit $status
