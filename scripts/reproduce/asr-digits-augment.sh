#!/usr/bin/env bash
# Digits: does SpecAugment help at each unit's chosen learning rate? (docs/results/asr.md,
# "Augmentation on the validation split"). Run after asr-digits-lr.sh, with the same OUT.
#  1. per unit, train.spec_augment=true at the unit's chosen rate, seeds 1, 2, 3;
#  2. per unit, with or without it chosen by the mean validation CER over the 3 seeds (seed 1
#     alone was too noisy a judge: the LSTM's validation CER spans 0.13-0.19 across seeds);
#  3. with MORE=1: seeds 4 and 5 of each unit's chosen setting (OUT/more-UNIT), to narrow the
#     comparison; they choose nothing;
#  4. the tables: python3 scripts/reproduce/asr_digits_lr_table.py OUT (its augmentation section).
# Noise and reverberation are not in this check: they recompute each training utterance's
# features every epoch, several times the cost of a run here.
# The two units run side by side (one thread each). Resumable (neurocore sweep resumes).
# Usage: scripts/reproduce/asr-digits-augment.sh OUT [BUILD_DIR]; environment NICE (0).
set -euo pipefail
OUT=${1:?the output folder of asr-digits-lr.sh}
BUILD=${2:-build}
N="$BUILD/neurocore"
NICE=${NICE:-0}
export OMP_NUM_THREADS=1
table=scripts/reproduce/asr_digits_lr_table.py
# sweep UNIT LR SPEC_AUGMENT SWEEP_ARGS...: one sweep of UNIT's runs at LR, SpecAugment on or off.
sweep() {
  local unit=$1 lr=$2 aug=$3
  shift 3
  nice -n "$NICE" "$N" sweep configs/asr-digits-lstm.yaml --jobs 1 --set threads=1 \
    --set data.normalization=utterance --set train.epochs=10 --set train.spec_augment="$aug" \
    --select valid_cer --select-mode min --test-metric test_cer \
    --set model.unit="$unit" --set train.learning_rate="$lr" "$@"
}
unit_runs() {
  local unit=$1 lr
  lr=$(python3 "$table" "$OUT" --best "$unit")
  sweep "$unit" "$lr" true --seeds 1 --out "$OUT/augment-$unit"
  sweep "$unit" "$lr" true --seeds 2 --first-seed 2 --out "$OUT/augment-final-$unit"
  [ "${MORE:-0}" = 1 ] || return 0
  sweep "$unit" "$lr" "$(python3 "$table" "$OUT" --augment-chosen "$unit")" --seeds 2 --first-seed 4 --out "$OUT/more-$unit"
}
unit_runs lstm > "$OUT/augment-lstm.log" 2>&1 &
p1=$!
unit_runs ssnu_aa > "$OUT/augment-ssnu_aa.log" 2>&1 &
p2=$!
wait "$p1"
wait "$p2"
python3 "$table" "$OUT"
