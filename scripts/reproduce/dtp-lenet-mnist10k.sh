#!/usr/bin/env bash
# DTP vs global magnitude unstructured pruning of LeNet-5 on MNIST-10k (issue #22,
# docs/results/dtp.md; specs/dtp.md §10: "unstructured pruning beats magnitude pruning",
# MNIST-10k, LeNet-5, 50 / 20 / 10 / 5 % kept, 3 seeds). One dense LeNet-5
# (configs/lenet5-fashion.yaml with data.name=mnist-10k, validation split on, DENSE_EPOCHS
# epochs, default 3, seed 42), then one `neurocore sweep --command prune` over METHODS (default
# dtp,magnitude) x params budgets BUDGETS (default 0.5,0.2,0.1,0.05), weight granularity, SEEDS
# fine-tuning seeds (default 3), EPOCHS epochs each (default 3: DTP soft for ceil(0.6 x 3) = 2,
# then one with the hard mask; magnitude one-shot at epoch 0, then 3 epochs of fine-tuning),
# every method on its defaults (no hyper-parameter chosen, so none on the test split), and a
# table from the sweep's sweep.json.
#
#   scripts/reproduce/dtp-lenet-mnist10k.sh OUT      # e.g. /tmp/dtp-lenet-mnist; table: OUT/table.md
#
# One thread, niced. A second call reuses the trained run and the finished prune runs.
set -euo pipefail
OUT=${1:?output folder}
NC=${NC:-build/neurocore}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-3}
DENSE_EPOCHS=${DENSE_EPOCHS:-3}
BUDGETS=${BUDGETS:-0.5,0.2,0.1,0.05}
METHODS=${METHODS:-dtp,magnitude}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
SRC="$OUT/lenet5-mnist10k"
if [ ! -d "$SRC/checkpoints" ] || [ -z "$(ls -A "$SRC/checkpoints")" ]; then
  rm -rf "$SRC"
  nice -n 10 "$NC" train configs/lenet5-fashion.yaml --set threads=1 --set data.name=mnist-10k \
    --set data.validation=true --set train.epochs="$DENSE_EPOCHS" --set runs_dir="$OUT" --set name=lenet5-mnist10k
fi
nice -n 10 "$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep" \
  --arg=--granularity=weight --arg=--budget-kind=params --arg=--epochs="$EPOCHS" \
  --set threads=1 --grid=--budget="$BUDGETS" --grid=--method="$METHODS"
python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep" | tee "$OUT/table.md"
