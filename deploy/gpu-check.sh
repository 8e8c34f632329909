#!/usr/bin/env bash
# The GPU check (a benchmark, not a test), for a CUDA host with PyTorch but without gRPC, Abseil or
# SQLite development files. Prepare on Debian after `make`: deploy/gpu-kit.sh (it packs gpu-kit/,
# see there). Then on the GPU host, from the repository root with gpu-kit/ beside it:
#   bash deploy/gpu-check.sh [KIT_DIR|KIT.tar.xz] [OUT_DIR]   (defaults: gpu-kit, $OUT or a temp dir)
# It
#   1. builds hpo-task-train against the wheel's LibTorch (deploy/gpu-check/CMakeLists.txt);
#   2. trains fmnist-mlp and fmnist-cnn with ours and with the same loop in PyTorch eager
#      (bench/trainer_compare.sh): samples/s and a trial's start, with the CUDA graph (default),
#      without it, and with bf16 autocast;
#   3. runs K = 1, 2, 4, 8 identical fmnist-cnn trials at once through a real coordinator and
#      `hpo-worker --slots-per-gpu K` on GPU 0, and sums the trials' steady samples/s (each
#      trial's median over its epochs 3..N-1);
#   4. runs a short fmnist-cnn study with ASHA (examples/fmnist_cnn.yaml on all 50,000 images,
#      16 trials, 4 per GPU) and prints how it ended.
# Everything it prints also lands in OUT_DIR/gpu-check.txt. For a dry run on a CPU host (no
# nvidia-smi needed), GPU_CHECK_SAMPLES=2000 GPU_CHECK_EPOCHS=4 GPU_CHECK_TRIALS=4 shrink it,
# and GPU_CHECK_COMPARE=0 skips step 2.
set -euo pipefail
root=$(pwd)
out=${2:-${OUT:-$(mktemp -d)}}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.txt") 2>&1
PY=${PYTHON:-python3}
kit_arg=${1:-gpu-kit}
if [ -f "$kit_arg" ]; then  # gpu-kit.tar.xz: unpacked beside the repository's copy
  unpacked=$(mktemp -d)
  tar -xJf "$kit_arg" -C "$unpacked"
  kit=$(realpath "$unpacked"/*)
else
  kit=$(realpath "$kit_arg")
fi
# The kit's images unless the host has its own.
if [ -z "${HPO_FMNIST_DIR:-}" ] && [ ! -e /usr/share/datasets/fashion-mnist ]; then
  export HPO_FMNIST_DIR="$kit/data/fashion-mnist"
fi
samples=${GPU_CHECK_SAMPLES:-0}  # training images per trial; 0 = all 50,000
epochs=${GPU_CHECK_EPOCHS:-12}   # epochs of each packed trial
asha_trials=${GPU_CHECK_TRIALS:-16}
work=$(mktemp -d)
start=$(date +%s)
coordinator=""
trap 'kill $coordinator 2>/dev/null || true' EXIT
say() { echo "[$(($(date +%s) - start)) s] $*"; }

say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
say "date: $(date -u +%Y-%m-%d), torch $($PY -c 'import torch; print(torch.__version__)')"

# 1. Build.
prefix=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S deploy/gpu-check -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DHPO_KIT="$kit" \
  -DHPO_SOURCE="$root" > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" >> "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
bin="$work/bin"
mkdir -p "$bin"
cp "$kit"/bin/* "$work/build/hpo-task-train" "$bin/"
say "built hpo-task-train ($(grep -c HPO_TORCH_CUDA "$work/build/CMakeFiles/hpo-task-train.dir/flags.make" || true) CUDA define)"
# Our binaries load the kit's libraries; Python keeps the host's.
export HPO_LIB_PATH="$kit/lib"
hpo() { LD_LIBRARY_PATH="$kit/lib" "$bin/hpo" "$@"; }

# 2. Ours against PyTorch eager, all 50,000 training images.
if [ "${GPU_CHECK_COMPARE:-1}" != 0 ]; then
  say "trainer vs PyTorch eager (CUDA graph on):"
  bench/trainer_compare.sh "$bin" "$PY" "$samples"
  say "trainer vs PyTorch eager, ours without the CUDA graph:"
  OURS_FLAGS="--cuda-graph=0" bench/trainer_compare.sh "$bin" "$PY" "$samples"
  say "trainer vs PyTorch eager, ours with bf16 autocast:"
  OURS_FLAGS="--bf16=1" bench/trainer_compare.sh "$bin" "$PY" "$samples"
fi

# A coordinator on a free loopback port, its db in $work.
start_coordinator() {
  LD_LIBRARY_PATH="$kit/lib" "$bin/hpo-coordinator" --listen 127.0.0.1:0 --db "$work/$1.db" \
    > "$work/$1.port" 2> "$out/$1-coordinator.log" &
  coordinator=$!
  for _ in $(seq 200); do grep -q "listening on port" "$work/$1.port" 2>/dev/null && break; sleep 0.1; done
  export HPO_COORDINATOR="127.0.0.1:$(sed -n 's/listening on port //p' "$work/$1.port")"
}

# Without nvidia-smi (a dry run on a CPU host) the worker must not poll it: it would drain.
poll=()
command -v nvidia-smi > /dev/null || poll=(--gpu-poll-interval 0)

# 3. K trials per GPU.
base=""
for k in 1 2 4 8; do
  start_coordinator "pack$k"
  cat > "$work/pack$k.yaml" <<YAML
name: pack-$k
objective: {metric: value, direction: minimize}
optimizer: {name: random, seed: 1}
budget: {max_trials: $k, max_parallel: $k, trial_timeout_s: 600}
space:
  lr: {type: categorical, choices: [0.001]}
  batch_size: {type: categorical, choices: [128]}
  width: {type: categorical, choices: [128]}
  dropout: {type: categorical, choices: [0]}
  weight_decay: {type: categorical, choices: [0.000001]}
  optimizer: {type: categorical, choices: [adam]}
task: {builtin: fmnist-cnn, args: {epochs: "$epochs", max-train-samples: "$samples"}}
YAML
  hpo study create -f "$work/pack$k.yaml" > /dev/null
  LD_LIBRARY_PATH="$kit/lib" "$bin/hpo-worker" --slots-per-gpu "$k" --gpus 0 --max-trials "$k" \
    "${poll[@]}" --log-dir "$work/pack$k-logs" 2> "$out/pack$k-worker.log" &
  worker=$!
  timeout 600 env LD_LIBRARY_PATH="$kit/lib" "$bin/hpo" watch "pack-$k" > /dev/null 2>&1 || true
  wait "$worker" || true
  for id in $(hpo trials "pack-$k" --format json | $PY -c 'import json,sys; print(" ".join(str(t["id"]) for t in json.load(sys.stdin)))'); do
    hpo trial show "$id" --format json
    echo
  done > "$work/pack$k.json"
  line=$($PY - "$work/pack$k.json" "$k" "$epochs" "${base:-0}" <<'PY'
import json, statistics, sys
text, k, epochs, base = open(sys.argv[1]).read(), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
decoder, trials, i = json.JSONDecoder(), [], 0
while i < len(text):
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    t, i = decoder.raw_decode(text, i); trials.append(t)
rates, states = [], [t["state"] for t in trials]
for t in trials:
    steady = [m["metrics"]["samples_per_s"] for m in t.get("measurements", []) if 3 <= m["step"] < epochs]
    if steady: rates.append(statistics.median(steady))
total = sum(rates)
ratio = f", {total / base:.2f}x K=1" if base > 0 else ""
print(f"{total:.0f} {k} trials {states.count('COMPLETED')}/{len(trials)} completed, aggregate {total:.0f} samples/s{ratio}")
PY
)
  [ "$k" = 1 ] && base=${line%% *}
  say "K=$k: ${line#* }"
  kill "$coordinator" 2>/dev/null || true
  wait "$coordinator" 2>/dev/null || true
done

# 4. A short study with early stopping.
start_coordinator asha
sed -e "s/max_trials: 24, max_parallel: 2/max_trials: $asha_trials, max_parallel: 4/" \
    -e "s/max-train-samples: \"5000\"/max-train-samples: \"$samples\"/" examples/fmnist_cnn.yaml \
    > "$work/fmnist_cnn.yaml"
grep -q "max_trials: $asha_trials, max_parallel: 4" "$work/fmnist_cnn.yaml"
hpo study create -f "$work/fmnist_cnn.yaml" > /dev/null
LD_LIBRARY_PATH="$kit/lib" "$bin/hpo-worker" --slots-per-gpu 4 --gpus 0 --max-trials "$asha_trials" \
  "${poll[@]}" --log-dir "$work/asha-logs" 2> "$out/asha-worker.log" &
timeout 900 env LD_LIBRARY_PATH="$kit/lib" "$bin/hpo" watch fmnist-cnn > /dev/null 2>&1 || true
hpo study show fmnist-cnn
hpo trials fmnist-cnn
hpo best fmnist-cnn
# One trial in full: its GPU use among the rest.
first=$(hpo trials fmnist-cnn --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
hpo trial show "$first"
say "done in $(($(date +%s) - start)) s"
