#!/usr/bin/env bash
# GPU smoke test for a worker host: a coordinator and `hpo-worker --gpus auto` on this machine run
# a study whose trials are PyTorch programs; each trial reports how many GPUs it sees and which
# one CUDA_VISIBLE_DEVICES gave it, after a matmul on that GPU. Passes when every trial completed
# on exactly one visible GPU and the worker's GPU list matches nvidia-smi.
#   bash deploy/gpu-smoke.sh BIN_DIR [OUT_DIR]
set -euo pipefail
bin="$1"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

nvidia-smi -L | tee "$out/nvidia-smi.txt"
ngpu=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
slots=$((ngpu * 2))

"$bin/hpo-coordinator" --listen 127.0.0.1:0 --db "$work/hpo.db" >"$work/port.txt" 2>"$out/coordinator.log" &
for _ in $(seq 100); do grep -q "listening on port" "$work/port.txt" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/listening on port //p' "$work/port.txt")
export HPO_COORDINATOR="127.0.0.1:$port"

cat >"$work/gpu_trial.py" <<'PY'
import json, os, sys
import torch
n = torch.cuda.device_count()
a = torch.randn(4096, 4096, device="cuda")
s = float((a @ a).abs().mean())
print("hpo-metric " + json.dumps({"step": 1, "value": float(sys.argv[1]) ** 2,
      "visible_gpus": n, "gpu": int(os.environ["CUDA_VISIBLE_DEVICES"]), "check": s}), flush=True)
PY
cat >"$work/study.yaml" <<YAML
name: gpu-smoke
objective: {metric: value, direction: minimize}
budget: {max_trials: $((slots * 2)), max_parallel: $slots}
space:
  x: {type: float, low: -1, high: 1}
task: {command: ["python3", "$work/gpu_trial.py", "{x}"]}
YAML
"$bin/hpo-worker" --slots "$slots" --gpus auto --allow-command "$(command -v python3)" --log-dir "$out/trials" 2>"$out/worker.log" &
"$bin/hpo" study create -f "$work/study.yaml"
timeout 300 "$bin/hpo" watch gpu-smoke | tail -2
"$bin/hpo" trials gpu-smoke --format json >"$out/trials.json"
"$bin/hpo" trials gpu-smoke

python3 - "$out/trials.json" "$ngpu" <<'PY'
import json, sys
trials = json.load(open(sys.argv[1]))
ngpu = int(sys.argv[2])
bad = [t for t in trials if t["state"] != "COMPLETED" or t["metrics"].get("visible_gpus") != 1]
gpus = sorted({int(t["metrics"]["gpu"]) for t in trials if t["state"] == "COMPLETED"})
print(f"{len(trials)} trials, {len(bad)} bad, GPUs used {gpus} of {ngpu}")
sys.exit(1 if bad or gpus != list(range(ngpu)) else 0)
PY
echo "gpu smoke: PASS"
