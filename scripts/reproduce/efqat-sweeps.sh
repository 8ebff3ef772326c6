#!/usr/bin/env bash
# EfQAT against PTQ and full QAT with a tuned QAT learning rate, 3 seeds (issue #21,
# docs/results/efqat.md): the MLP 784-256-256-10 on Fashion-MNIST (configs/mlp-fashion.yaml,
# 3 epochs, trained once with the validation split held out), then per bit-width three sweeps
# of `neurocore quantize` on it: PTQ; EfQAT CWPN at rho 0, 1, 10, 100 %; QAT over a grid of
# learning rates. Every setting is chosen on the validation split. The seed varies the
# fine-tuning's batch order (the FP32 model is the same).
#
#   scripts/reproduce/efqat-sweeps.sh OUT [JOBS] [BITS...]      default BITS: W4A4 W2A2
# then: python3 scripts/reproduce/sweep_table.py OUT/<bits>-*
set -euo pipefail
OUT=${1:?output folder}
JOBS=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
BITS=${*:-"W4A4 W2A2"}
NC=${NC:-build/neurocore}
SRC="$OUT/runs/mlp-fashion-valid"
if [ ! -f "$SRC/report.md" ]; then
  rm -rf "$SRC"
  "$NC" --log-level warn train configs/mlp-fashion.yaml --set data.validation=true --set threads=1 \
    --set runs_dir="$OUT/runs" --set name=mlp-fashion-valid
fi
common=(--command quantize --seeds 3 --jobs "$JOBS" --set data.validation=true --set threads=1)
for b in $BITS; do
  "$NC" --log-level warn sweep "$SRC" "${common[@]}" --arg=--method=ptq --arg=--bits="$b" \
    --out "$OUT/$b-ptq"
  "$NC" --log-level warn sweep "$SRC" "${common[@]}" --arg=--method=efqat --arg=--bits="$b" \
    --arg=--mode=cwpn --grid=--fraction=0,0.01,0.1,1 --out "$OUT/$b-efqat"
  "$NC" --log-level warn sweep "$SRC" "${common[@]}" --arg=--method=qat --arg=--bits="$b" \
    --grid=--lr=0.001,0.003,0.01,0.03 --out "$OUT/$b-qat"
done
