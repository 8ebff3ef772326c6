#!/usr/bin/env bash
# Digits smoke test of docs/results/asr.md ("Digits"), reduced to fit a shared 2-core machine:
#  1. feature normalisation (global | utterance) chosen on the validation split, per unit
#     (LSTM and sSNU-AA), 1 seed, 6 epochs;
#  2. the chosen setting, 3 seeds, 10 epochs (configs/asr-digits-lstm.yaml, unit overridden);
#  3. the decoder (greedy | modified beam search, beam 4) chosen on the validation split of
#     each finished run (`neurocore transcribe RUN --split valid|test`), no retraining;
#  4. the tables: scripts/reproduce/asr_digits_table.py OUT;
#  5. exploratory: sSNU-AA at two higher learning rates, validation split only.
# One thread per run, two runs at a time, nice 10. Resumable (neurocore sweep resumes).
# Usage: scripts/reproduce/asr-digits.sh [OUT] [BUILD_DIR]
set -euo pipefail
OUT=${1:-sweeps/asr-digits}
BUILD=${2:-build}
N="$BUILD/neurocore"
export OMP_NUM_THREADS=1
common=(--jobs 2 --set threads=1 --select valid_cer --select-mode min --test-metric test_cer)
nice -n 10 "$N" sweep configs/asr-digits-lstm.yaml --seeds 1 --out "$OUT/valid-sweep" "${common[@]}" \
  --set train.epochs=6 --grid model.unit=lstm,ssnu_aa --grid data.normalization=global,utterance
# The normalisation with the lowest validation CER, per unit; one final sweep when they agree.
pick() {
  python3 - "$OUT/valid-sweep/sweep.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
cands = [x for x in s["settings"] if x["overrides"]["model.unit"] == sys.argv[2]]
print(min(cands, key=lambda x: x["metrics"]["valid_cer"]["mean"])["overrides"]["data.normalization"])
PY
}
norm_lstm=$(pick lstm)
norm_aa=$(pick ssnu_aa)
if [ "$norm_lstm" = "$norm_aa" ]; then
  nice -n 10 "$N" sweep configs/asr-digits-lstm.yaml --seeds 3 --out "$OUT/final" "${common[@]}" \
    --set data.normalization="$norm_lstm" --grid model.unit=lstm,ssnu_aa
else
  for unit in lstm ssnu_aa; do
    norm=$norm_lstm
    [ "$unit" = ssnu_aa ] && norm=$norm_aa
    nice -n 10 "$N" sweep configs/asr-digits-lstm.yaml --seeds 3 --out "$OUT/final-$unit" "${common[@]}" \
      --set data.normalization="$norm" --grid model.unit="$unit"
  done
fi
for sweep in "$OUT"/final*/; do
  out="$sweep/decode.jsonl"
  [ -s "$out" ] && continue
  rm -f "$out.tmp"
  for run in "$sweep"/runs/*/; do
    for split in valid test; do
      for beam in 0 4; do
        line=$(nice -n 10 "$N" transcribe "$run" --split "$split" --beam "$beam")
        echo "{\"run\": \"$(basename "$run")\", \"result\": $line}" >> "$out.tmp"
      done
    done
  done
  mv "$out.tmp" "$out"
done
# 5. Exploratory (validation only, 1 seed): sSNU-AA underfits at lr 0.002; does a higher one help?
nice -n 10 "$N" sweep configs/asr-digits-lstm.yaml --seeds 1 --out "$OUT/ssnu-lr" "${common[@]}" \
  --set data.normalization=utterance --set model.unit=ssnu_aa --grid train.learning_rate=0.005,0.01
python3 scripts/reproduce/asr_digits_table.py "$OUT"
