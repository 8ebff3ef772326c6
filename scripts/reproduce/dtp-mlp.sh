#!/usr/bin/env bash
# DTP vs magnitude pruning on the MNIST-10k MLP (issue #22, docs/results/dtp.md), a reduced form
# of the spec's protocol (specs/dtp.md, "unstructured pruning beats magnitude pruning"):
# one dense MLP 784-300-100-10 (configs/mlp-fashion.yaml on mnist-10k, validation split on),
# then `neurocore sweep --command prune` over methods METHODS (default dtp, magnitude (global)
# and uniform (layer-uniform magnitude)), weight granularity, params budgets BUDGETS (default
# 0.05,0.02), SEEDS seeds of fine-tuning (default 3), EPOCHS epochs each (default 2; DTP soft for
# the first ceil(0.6 N)), and a table from the sweep's sweep.json.
#
#   scripts/reproduce/dtp-mlp.sh OUT          # e.g. /tmp/dtp-mlp; table: OUT/table.md
#   BUDGETS=0.5,0.2,0.1,0.05 METHODS=dtp,magnitude scripts/reproduce/dtp-mlp.sh OUT  # the issue's budgets
#
# One thread (not niced: on the shared machine nice starves the run). A second call reuses the trained run and the finished prune runs.
set -euo pipefail
OUT=${1:?output folder}
NC=${NC:-build/neurocore}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-2}
BUDGETS=${BUDGETS:-0.05,0.02}
METHODS=${METHODS:-dtp,magnitude,uniform}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
SRC="$OUT/mlp-mnist10k"
if [ ! -d "$SRC/checkpoints" ] || [ -z "$(ls -A "$SRC/checkpoints")" ]; then
  rm -rf "$SRC"
  "$NC" train configs/mlp-fashion.yaml --set threads=1 \
    --set data.name=mnist-10k --set data.validation=true --set 'model.hidden=[300,100]' \
    --set runs_dir="$OUT" --set name=mlp-mnist10k
fi
"$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep" \
  --arg=--granularity=weight --arg=--budget-kind=params --arg=--epochs="$EPOCHS" \
  --set threads=1 --grid=--budget="$BUDGETS" --grid=--method="$METHODS"
python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep" | tee "$OUT/table.md"
