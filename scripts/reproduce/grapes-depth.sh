#!/usr/bin/env bash
# GRAPES depth sweep (issue #4, docs/results/grapes.md): MLPs 784-[256 x D]-10, plain SGD,
# with and without GRAPES, per-method learning rate tuned on a short run, then SEEDS seeds.
#
#   scripts/reproduce/grapes-depth.sh DATASET OUT [DEPTHS] [SEEDS] [EPOCHS] [LRS] [TUNE_EPOCHS]
#   e.g. scripts/reproduce/grapes-depth.sh mnist-10k /tmp/grapes-mnist10k "1 2 3 5 8" "1 2 3" 10
#
# Tuning: for each depth and method, every learning rate in LRS is trained TUNE_EPOCHS epochs
# (seed 1) and the one with the lowest final *training* loss is kept (no test data is used to
# choose). The summary (tables + plots) is written by scripts/reproduce/grapes_summary.py.
set -euo pipefail
DATASET=${1:?dataset (mnist-10k or fashion-mnist)}
OUT=${2:?output folder}
DEPTHS=${3:-"1 2 3 5 8"}
SEEDS=${4:-"1 2 3"}
EPOCHS=${5:-10}
LRS=${6:-"0.003 0.01 0.03 0.1"}
TUNE_EPOCHS=${7:-3}
NC=${NC:-build/neurocore}  # THREADS (default 1): threads per run
CONFIG=${CONFIG:-configs/grapes-mlp-mnist10k.yaml}
mkdir -p "$OUT"

hidden() { local h="" i; for ((i = 0; i < $1; i++)); do h="$h${h:+,}256"; done; echo "[$h]"; }
train() {  # name depth modulation lr seed epochs
  [ -f "$OUT/runs/$1/report.md" ] && grep -q "\"epoch\":$6[,}]" "$OUT/runs/$1/metrics.jsonl" && return 0
  rm -rf "$OUT/runs/$1"
  "$NC" --log-level warn train "$CONFIG" --set runs_dir="$OUT/runs" --set name="$1" \
    --set data.name="$DATASET" --set model.hidden="$(hidden "$2")" \
    --set learn.modulation="$3" --set train.learning_rate="$4" --set seed="$5" \
    --set train.epochs="$6" --set threads="${THREADS:-1}" > "$OUT/runs-$1.log" 2>&1 || echo "run $1 failed: $(tail -n 1 "$OUT/runs-$1.log")"
}
# The last epoch's training loss; 1e9 when the run diverged (the trainer stops on NaN/Inf).
final_train_loss() {
  local m="$OUT/runs/$1/metrics.jsonl"
  if [ -f "$m" ] && grep -q "\"epoch\":$2[,}]" "$m"; then
    tail -n 1 "$m" | sed 's/.*"train_loss":\([^,}]*\).*/\1/'
  else
    echo 1e9
  fi
}

: > "$OUT/lr.txt"
for D in $DEPTHS; do
  for MOD in none grapes; do
    best=""; best_loss=""
    for LR in $LRS; do
      name="tune-d$D-$MOD-lr$LR"
      train "$name" "$D" "$MOD" "$LR" 1 "$TUNE_EPOCHS"
      loss=$(final_train_loss "$name" "$TUNE_EPOCHS")
      echo "tune D=$D $MOD lr=$LR: train loss $loss"
      if [ -z "$best" ] || awk "BEGIN{exit !($loss < $best_loss)}"; then best=$LR; best_loss=$loss; fi
    done
    echo "$D $MOD $best" >> "$OUT/lr.txt"
    for S in $SEEDS; do
      name="d$D-$MOD-s$S"
      train "$name" "$D" "$MOD" "$best" "$S" "$EPOCHS"
      echo "done D=$D $MOD lr=$best seed=$S"
    done
  done
done
python3 "$(dirname "$0")/grapes_summary.py" "$OUT" "$DATASET"
