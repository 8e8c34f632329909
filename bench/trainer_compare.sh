#!/usr/bin/env bash
# Our LibTorch trainer (hpo-task-train, through hpo-task) against the same model and loop in
# PyTorch eager (bench/fmnist_pytorch.py), one after the other on this host: training samples/s
# of the 2nd epoch (the 1st includes a CUDA graph's capture) and a trial's start (a whole process
# that trains one batch and validates on 128 images, best of 3).
#
#   bench/trainer_compare.sh [BIN_DIR] [PYTHON] [SAMPLES]
#     BIN_DIR  where hpo-task and hpo-task-train are (default build/bin)
#     PYTHON   a python3 with torch (default /usr/bin/python3: Debian's python3-torch on a CPU
#              host, from `deploy/install-deps.sh --bench`; the wheel's python on a GPU host)
#     SAMPLES  training images per epoch (default 10000; 0 = all 50,000)
# Both use the GPU when they see one. Prints one line per model and a ratio. OURS_FLAGS adds
# flags to ours (e.g. --cuda-graph=0, --bf16=1); HPO_LIB_PATH, when set, is the
# LD_LIBRARY_PATH of ours alone (deploy/gpu-check.sh: the kit's libraries).
set -euo pipefail
BIN=${1:-build/bin}
PY=${2:-/usr/bin/python3}
SAMPLES=${3:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
COMMON_OURS="--lr=0.001 --batch_size=128 --width=256 --dropout=0 --weight_decay=0.000001 --optimizer=adam"
COMMON_PT="--lr 0.001 --batch-size 128 --width 256 --dropout 0 --weight-decay 0.000001 --optimizer adam"

ours() { env ${HPO_LIB_PATH:+LD_LIBRARY_PATH="$HPO_LIB_PATH"} "$BIN/hpo-task" "$@" ${OURS_FLAGS:-}; }
epoch2() { grep -o '"samples_per_s": [0-9.e+]*' | sed -n 2p | awk '{print $2}'; }
pt_epoch2() { sed -n 2p | sed 's/.*"samples_per_s": \([0-9.e+]*\).*/\1/'; }
best_of_3() {
  local best=1000000
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N)
    best=$(awk -v s="$s" -v e="$e" -v b="$best" 'BEGIN { t = e - s; print (t < b ? t : b) }')
  done
  printf '%.2f' "$best"
}

for model in mlp cnn; do
  extra_ours="" extra_pt=""
  if [ "$model" = mlp ]; then extra_ours="--depth=2"; extra_pt="--depth 2"; fi
  ours_rate=$(ours "fmnist-$model" $COMMON_OURS $extra_ours --epochs=2 \
           --max-train-samples="$SAMPLES" | epoch2)
  theirs=$("$PY" "$HERE/fmnist_pytorch.py" --model "$model" $COMMON_PT $extra_pt --epochs 2 \
             --max-train-samples "$SAMPLES" | pt_epoch2)
  start_ours=$(best_of_3 ours "fmnist-$model" $COMMON_OURS $extra_ours --epochs=1 \
                 --max-train-samples=128)
  start_pt=$(best_of_3 "$PY" "$HERE/fmnist_pytorch.py" --model "$model" $COMMON_PT $extra_pt \
               --epochs 1 --max-train-samples 128)
  printf 'fmnist-%s: ours %.0f samples/s, PyTorch eager %.0f (%.2fx); trial start ours %s s, PyTorch %s s\n' \
    "$model" "$ours_rate" "$theirs" "$(awk -v a="$ours_rate" -v b="$theirs" 'BEGIN { print a / b }')" \
    "$start_ours" "$start_pt"
done
