#!/usr/bin/env bash
# The headline protocol of asr.md §0 (docs/results/asr.md): KJV-short, 2-layer encoders,
# 12 epochs, one thread per run, two runs in parallel. Order: digits smoke test, LSTM vs
# sSNU-AA x 3 seeds, the other units at equal width and at equal encoder weights, a
# bidirectional LSTM. Then scripts/reproduce/asr_table.py RUNS_DIR writes the tables.
# Usage: scripts/reproduce/asr-headline.sh [RUNS_DIR] [BUILD_DIR]
set -euo pipefail
RUNS=${1:-runs/asr}
BUILD=${2:-build}
N="$BUILD/neurocore"
run() {  # name config sets...
  local name=$1 config=$2
  shift 2
  [ -f "$RUNS/$name/report.md" ] && return 0
  OMP_NUM_THREADS=1 nice -n 10 "$N" train "$config" --set runs_dir="$RUNS" --set name="$name" "$@" \
    > "$RUNS/$name.log" 2>&1
}
mkdir -p "$RUNS"
run digits-lstm configs/asr-digits-lstm.yaml
for seed in 1 2 3; do
  run "kjv-lstm-128-s$seed" configs/asr-kjv-lstm.yaml --set seed=$seed &
  run "kjv-ssnu_aa-128-s$seed" configs/asr-kjv-ssnu-aa.yaml --set seed=$seed
  wait
done
# Equal width (128) and equal encoder weights (LSTM 128 <-> sSNU-AA 188, sSNU-AA-x 226, SNU/sSNU 274).
pairs=("snu 128" "ssnu 128" "snu_aa 128" "ssnu_aa_x 128" "ssnu_aa 188" "ssnu_aa_x 226" "ssnu 274" "snu 274")
for i in "${!pairs[@]}"; do
  set -- ${pairs[$i]}
  run "kjv-$1-$2-s1" configs/asr-kjv-lstm.yaml --set model.unit="$1" --set model.hidden="$2" &
  if (( i % 2 == 1 )); then wait; fi
done
wait
run kjv-bilstm-128-s1 configs/asr-kjv-lstm.yaml --set model.bidirectional=true
