#!/usr/bin/env bash
# OReN against the SNU saccade network (spec size and OReN-matched size) on the combined oddity
# set at 50 x 50 (issue #26, docs/results/oddity.md): SEEDS seeds, EPOCHS epochs, TRAIN training /
# VALID / TEST samples over RIDDLES (a YAML list; [] = all 45). The spec's CPU plan is all 45
# riddles, 18,000 samples and 30 epochs. One thread per run, runs one after another; MODELS
# ("oren snu-saccade snu-saccade-matched") picks models, so that several invocations with the
# same OUT can run side by side; NICE (0) is the runs' niceness. Settings are the configs' (Adam 1e-3, batch 32), chosen before any
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
MODELS=${MODELS:-"oren snu-saccade snu-saccade-matched"}
NICE=${NICE:-0}
mkdir -p "$OUT/runs"
# The binary's own build commit (neurocore --version), not the checkout's HEAD.
"$NC" --version | sed -n 's/.*(commit \([0-9a-f]\{7\}\).*/\1/p' > "$OUT/commit.txt"
echo "riddles $RIDDLES, epochs $EPOCHS, train $TRAIN, valid $VALID, test $TEST, seeds $SEEDS" > "$OUT/budget.txt"
for S in $SEEDS; do
  for M in $MODELS; do
    name="$M-s$S"
    if [ -f "$OUT/runs/$name/metrics.jsonl" ] && grep -q "\"epoch\":$EPOCHS[,}]" "$OUT/runs/$name/metrics.jsonl"; then continue; fi
    rm -rf "$OUT/runs/$name"
    OMP_NUM_THREADS=1 nice -n "$NICE" "$NC" --log-level warn train "configs/oddity-$M.yaml" \
      --set runs_dir="$OUT/runs" --set name="$name" --set seed="$S" --set train.epochs="$EPOCHS" \
      --set data.limit_train="$TRAIN" --set data.limit_valid="$VALID" --set data.limit_test="$TEST" \
      --set "data.oddity.riddles=$RIDDLES" --set threads=1 \
      > "$OUT/$name.log" 2>&1 || echo "run $name failed: $(tail -n 1 "$OUT/$name.log")"
    echo "done $name $(date -u +%H:%M:%S)"
  done
done
