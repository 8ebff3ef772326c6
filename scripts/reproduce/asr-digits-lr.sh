#!/usr/bin/env bash
# Digits, learning rate chosen on the validation split for both units (docs/results/asr.md,
# "Learning rate on the validation split"): the fair LSTM vs sSNU-AA comparison the digits smoke
# test lacked (it ran both at lr 0.002, where sSNU-AA underfits).
#  1. unit (lstm, ssnu_aa) x learning rate (LRS), seed 1, 10 epochs, utterance normalisation
#     (chosen on the validation split by asr-digits.sh), greedy decoding;
#  2. per unit, the rate with the lowest validation CER, seeds 2 and 3 (seed 1 is the selection
#     run itself: a run is deterministic given its seed and one thread, so rerunning it would
#     only repeat it);
#  3. the tables: python3 scripts/reproduce/asr_digits_lr_table.py OUT.
# One thread per run, JOBS runs at a time (2). Resumable (neurocore sweep resumes).
# Usage: scripts/reproduce/asr-digits-lr.sh [OUT] [BUILD_DIR]
# Environment: LRS ("0.002,0.005,0.01,0.02"), JOBS (2), NICE (0).
set -euo pipefail
OUT=${1:-sweeps/asr-digits-lr}
BUILD=${2:-build}
N="$BUILD/neurocore"
LRS=${LRS:-0.002,0.005,0.01,0.02}
JOBS=${JOBS:-2}
NICE=${NICE:-0}
export OMP_NUM_THREADS=1
common=(--jobs "$JOBS" --set threads=1 --set data.normalization=utterance --set train.epochs=10
        --select valid_cer --select-mode min --test-metric test_cer)
nice -n "$NICE" "$N" sweep configs/asr-digits-lstm.yaml --seeds 1 --out "$OUT/lr-sweep" "${common[@]}" \
  --grid model.unit=lstm,ssnu_aa --grid train.learning_rate="$LRS"
for unit in lstm ssnu_aa; do
  lr=$(python3 scripts/reproduce/asr_digits_lr_table.py "$OUT" --best "$unit")
  nice -n "$NICE" "$N" sweep configs/asr-digits-lstm.yaml --seeds 2 --first-seed 2 --out "$OUT/final-$unit" \
    "${common[@]}" --set model.unit="$unit" --set train.learning_rate="$lr"
done
python3 scripts/reproduce/asr_digits_lr_table.py "$OUT"
