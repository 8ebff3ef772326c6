#!/usr/bin/env bash
# DTP vs L1-norm and magnitude channel pruning on LeNet-5 / Fashion-MNIST (issue #22,
# docs/results/dtp.md), a reduced form of the spec's channel protocol (specs/dtp.md §10: channel
# budgets 30 / 50 / 70 % kept): one dense LeNet-5 (configs/lenet5-fashion.yaml on the first LIMIT
# training images, default 20000, validation split on, DENSE_EPOCHS epochs, default 3), then
# `neurocore sweep --command prune` over methods dtp, l1, magnitude, channel granularity, params
# budgets BUDGETS (default 0.3,0.5), SEEDS fine-tuning seeds (default 3), EPOCHS epochs each
# (default 2; DTP soft for the first ceil(0.6 N)), and a table from the sweep's sweep.json.
#
#   scripts/reproduce/dtp-lenet-channels.sh OUT          # e.g. /tmp/dtp-lenet; table: OUT/table.md
#
# One thread, niced. A second call reuses the trained run and the finished prune runs.
set -euo pipefail
OUT=${1:?output folder}
BUDGETS=${BUDGETS:-0.3,0.5}
METHODS=${METHODS:-dtp,l1,magnitude}
. "$(dirname "$0")/dtp-lenet-source.sh"
nice -n 10 "$NC" sweep "$SRC" --command prune --seeds "$SEEDS" --out "$OUT/sweep" \
  --arg=--granularity=channel --arg=--budget-kind=params --arg=--epochs="$EPOCHS" \
  --set threads=1 --grid=--budget="$BUDGETS" --grid=--method="$METHODS"
python3 scripts/reproduce/sweep_table.py --compare "$OUT/sweep" | tee "$OUT/table.md"
