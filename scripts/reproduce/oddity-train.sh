#!/usr/bin/env bash
# OReN against the SNU saccade network (spec size and OReN-matched size) on the combined oddity
# set at 50 x 50 (issue #26, docs/results/oddity.md): SEEDS seeds, EPOCHS epochs, TRAIN training /
# VALID / TEST samples over RIDDLES (a YAML list; [] = all 45). The spec's CPU plan is all 45
# riddles, 18,000 samples and 30 epochs; this session ran a reduced budget. One thread per run,
# runs one after another. Settings are the configs' (Adam 1e-3, batch 32), chosen before any
# run; nothing is selected on the test split.
#
#   scripts/reproduce/oddity-train.sh OUT [SEEDS] [EPOCHS] [TRAIN] [VALID] [TEST] [RIDDLES]
#   e.g. scripts/reproduce/oddity-train.sh /tmp/oddity "1 2 3" 6 2500 500 1000 "[0, 1, 10, 17, 44]"
#   or all 45 riddles: scripts/reproduce/oddity-train.sh /tmp/oddity45 "1 2 3" 6 2700 450 1800 "[]"
# then: python3 scripts/reproduce/oddity_summary.py OUT > docs/results/oddity-table.md
set -euo pipefail
OUT=${1:?output folder}
SEEDS=${2:-"1 2 3"}
EPOCHS=${3:-8}
TRAIN=${4:-9000}
VALID=${5:-1000}
TEST=${6:-4500}
RIDDLES=${7:-[]}
NC=${NC:-build/neurocore}
mkdir -p "$OUT/runs"
git rev-parse --short HEAD > "$OUT/commit.txt"
echo "riddles $RIDDLES, epochs $EPOCHS, train $TRAIN, valid $VALID, test $TEST, seeds $SEEDS" > "$OUT/budget.txt"
for S in $SEEDS; do
  for M in oren snu-saccade snu-saccade-matched; do
    name="$M-s$S"
    if [ -f "$OUT/runs/$name/metrics.jsonl" ] && grep -q "\"epoch\":$EPOCHS[,}]" "$OUT/runs/$name/metrics.jsonl"; then continue; fi
    rm -rf "$OUT/runs/$name"
    OMP_NUM_THREADS=1 nice -n 10 "$NC" --log-level warn train "configs/oddity-$M.yaml" \
      --set runs_dir="$OUT/runs" --set name="$name" --set seed="$S" --set train.epochs="$EPOCHS" \
      --set data.limit_train="$TRAIN" --set data.limit_valid="$VALID" --set data.limit_test="$TEST" \
      --set "data.oddity.riddles=$RIDDLES" --set threads=1 \
      > "$OUT/$name.log" 2>&1 || echo "run $name failed: $(tail -n 1 "$OUT/$name.log")"
    echo "done $name $(date -u +%H:%M:%S)"
  done
done
