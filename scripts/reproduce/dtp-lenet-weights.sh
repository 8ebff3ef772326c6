#!/usr/bin/env bash
# DTP vs magnitude (global), uniform (layer-uniform magnitude), gmp (gradual magnitude) and ste
# (straight-through hard top-k) unstructured pruning of LeNet-5 / Fashion-MNIST (issue #22,
# docs/results/dtp.md), a reduced form of the spec's weight protocol (specs/dtp.md §10: budgets
# 50 / 20 / 10 / 5 % kept, 3 seeds). One dense LeNet-5 (configs/lenet5-fashion.yaml on the first
# LIMIT training images, default 20000, validation split on, DENSE_EPOCHS epochs, default 3),
# then for each params budget in BUDGETS (default 0.05,0.1,0.2,0.5, in this order: the highest
# sparsity first) one `neurocore sweep --command prune` (OUT/sweep-<budget>) over METHODS
# (default dtp,magnitude,uniform,gmp,ste), weight granularity, SEEDS fine-tuning seeds
# (default 3), EPOCHS epochs each (default 2; dtp / gmp / ste prune in the first ceil(0.6 N)),
# every method with its defaults (no hyper-parameter chosen); and, unless PROX=0, DTP's one-sweep
# prox variant (--variant prox) as a second sweep (OUT/sweep-prox-<budget>). Tables from the
# sweeps' sweep.json, for the budgets finished.
#
#   scripts/reproduce/dtp-lenet-weights.sh OUT           # e.g. /tmp/dtp-lenet-w; table: OUT/table.md
#
# One thread, niced. A second call reuses the trained run and the finished prune runs.
set -euo pipefail
OUT=${1:?output folder}
BUDGETS=${BUDGETS:-0.05,0.1,0.2,0.5}
METHODS=${METHODS:-dtp,magnitude,uniform,gmp,ste}
PROX=${PROX:-1}
. "$(dirname "$0")/dtp-lenet-source.sh"
common=(--command prune --seeds "$SEEDS" --arg=--granularity=weight --arg=--budget-kind=params
        --arg=--epochs="$EPOCHS" --set threads=1)
sweeps=()
IFS=, read -r -a budgets <<< "$BUDGETS"
for b in "${budgets[@]}"; do
  nice -n 10 "$NC" sweep "$SRC" "${common[@]}" --out "$OUT/sweep-$b" --arg=--budget="$b" --grid=--method="$METHODS"
  sweeps+=("$OUT/sweep-$b")
  if [ "$PROX" != 0 ]; then
    nice -n 10 "$NC" sweep "$SRC" "${common[@]}" --out "$OUT/sweep-prox-$b" --arg=--budget="$b" \
      --arg=--method=dtp --grid=--variant=prox
    sweeps+=("$OUT/sweep-prox-$b")
  fi
  python3 scripts/reproduce/sweep_table.py --compare "${sweeps[@]}" > "$OUT/table.md"
done
cat "$OUT/table.md"
