#!/usr/bin/env bash
# DTP vs L1-norm and magnitude channel pruning on LeNet-5 / Fashion-MNIST (issue #22,
# docs/results/dtp.md), a reduced form of the spec's channel protocol (specs/dtp.md §10: channel
# budgets 30 / 50 / 70 % kept, a FLOPs budget): one dense LeNet-5 (configs/lenet5-fashion.yaml on
# the first LIMIT training images, default 20000, validation split on, DENSE_EPOCHS epochs,
# default 3), then `neurocore sweep --command prune` over methods METHODS (default dtp, l1,
# magnitude), channel granularity, budget kind KIND (default params; flops for MACs budgets),
# budgets BUDGETS (default 0.3,0.5), SEEDS fine-tuning seeds (default 3), EPOCHS epochs each
# (default 2; DTP soft for the first ceil(0.6 N)), and a table from the sweep's sweep.json.
# GREEDY=1 adds a sweep of DTP with `--rounding greedy` (the spec's final selection, the
# default before the nearest rounding) at the same budgets and seeds; LAYER_INIT=1 a sweep of
# DTP with `--score-init layer` (initial scores normalised per layer); PROX=1 a sweep of DTP's
# one-sweep prox variant with `--rounding plan` (its own last soft masks), `nearest` (the exact
# solver's masks at --eps-min) and `greedy` (by score).
#
#   scripts/reproduce/dtp-lenet-channels.sh OUT          # e.g. /tmp/dtp-lenet; table: OUT/table.md
#   KIND=flops BUDGETS=0.2,0.1 EPOCHS=3 GREEDY=1 LAYER_INIT=1 scripts/reproduce/dtp-lenet-channels.sh OUT
#                                                        # table: OUT/table-flops.md
#
# One thread, not niced (on the shared machine nice starves the run). A second call reuses the trained run and the finished prune runs.
set -euo pipefail
OUT=${1:?output folder}
BUDGETS=${BUDGETS:-0.3,0.5}
METHODS=${METHODS:-dtp,l1,magnitude}
KIND=${KIND:-params}
GREEDY=${GREEDY:-0}
LAYER_INIT=${LAYER_INIT:-0}
PROX=${PROX:-0}
. "$(dirname "$0")/dtp-lenet-source.sh"
# The params sweep keeps the folder names of the first tables (OUT/sweep, OUT/table.md).
suffix=""; [ "$KIND" = params ] || suffix="-$KIND"
"$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep$suffix" \
  --arg=--granularity=channel --arg=--budget-kind="$KIND" --arg=--epochs="$EPOCHS" \
  --set threads=1 --grid=--budget="$BUDGETS" --grid=--method="$METHODS"
python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep$suffix" | tee "$OUT/table$suffix.md"
if [ "$GREEDY" = 1 ]; then
  "$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep$suffix-greedy" \
    --arg=--granularity=channel --arg=--budget-kind="$KIND" --arg=--epochs="$EPOCHS" \
    --arg=--method=dtp --set threads=1 --grid=--budget="$BUDGETS" --grid=--rounding=greedy
  python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep$suffix-greedy" | tee -a "$OUT/table$suffix.md"
fi
if [ "$LAYER_INIT" = 1 ]; then
  "$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep$suffix-layer-init" \
    --arg=--granularity=channel --arg=--budget-kind="$KIND" --arg=--epochs="$EPOCHS" \
    --arg=--method=dtp --set threads=1 --grid=--budget="$BUDGETS" --grid=--score-init=layer
  python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep$suffix-layer-init" | tee -a "$OUT/table$suffix.md"
fi
if [ "$PROX" = 1 ]; then
  "$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep$suffix-prox" \
    --arg=--granularity=channel --arg=--budget-kind="$KIND" --arg=--epochs="$EPOCHS" \
    --arg=--method=dtp --arg=--variant=prox --set threads=1 --grid=--budget="$BUDGETS" \
    --grid=--rounding=plan,nearest,greedy
  python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep$suffix-prox" | tee -a "$OUT/table$suffix.md"
fi
