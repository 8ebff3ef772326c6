#!/usr/bin/env bash
# DTP vs L1-norm and global magnitude channel pruning of ResNet-20 on Fashion-MNIST (issue #22,
# docs/results/dtp.md), the spec's reduced protocol (specs/dtp.md §10) shrunk further to fit a
# shared 2-core machine: one dense ResNet-20 (configs/resnet20-fashion.yaml, seed 42) on the
# first LIMIT training images (default 8000; spec 30000), the validation tenth held out and cut
# to its first VALID images (default 2000), the first TEST test images (default 5000),
# DENSE_EPOCHS epochs (default 5); then `neurocore sweep --command prune`, channel granularity,
# EPOCHS epochs per run (default 3: DTP ceil(0.6 x 3) = 2 with soft masks, 1 with the hard mask;
# the baselines one-shot at epoch 0, then 3 epochs of fine-tuning), in this order of priority
# (STAGES, default all four; a second call reuses every finished run):
#   main       dtp, l1 x params budgets 0.2, 0.05 x SEEDS fine-tuning seeds (default 3)
#   magnitude  magnitude (global) x params 0.2, 0.05 x 1 seed
#   params     dtp, l1 x params 0.5, 0.1 x 1 seed
#   flops      dtp, l1 x FLOPs (MACs) 0.2, 0.05 x 1 seed
# Tables: OUT/table.md (sweep_table.py --compare, each naming the commit of its runs).
#
#   scripts/reproduce/dtp-resnet20-channels.sh OUT                 # e.g. /tmp/dtp-r20
#   NC=/path/to/neurocore STAGES=main scripts/reproduce/dtp-resnet20-channels.sh OUT
#
# One thread; evaluation in batches of 128 and glibc keeping freed memory (set GLIBC_TUNABLES= to
# use its defaults): both change only the speed (docs/results/dtp.md, "Training-step cost": at
# the default evaluation batch of 1000 ResNet-20's evaluation cost more than its training here).
set -euo pipefail
OUT=${1:?output folder}
NC=${NC:-build/neurocore}
LIMIT=${LIMIT:-8000}
VALID=${VALID:-2000}
TEST=${TEST:-5000}
DENSE_EPOCHS=${DENSE_EPOCHS:-5}
EPOCHS=${EPOCHS:-3}
SEEDS=${SEEDS:-3}
STAGES=${STAGES:-main,magnitude,params,flops}
export OMP_NUM_THREADS=1
export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295}
TABLE=scripts/reproduce/sweep_table.py
mkdir -p "$OUT"
SRC="$OUT/resnet20-fashion"
if [ ! -d "$SRC/checkpoints" ] || [ -z "$(ls -A "$SRC/checkpoints")" ]; then
  rm -rf "$SRC"
  "$NC" train configs/resnet20-fashion.yaml --set threads=1 --set data.validation=true \
    --set data.limit_train="$LIMIT" --set data.limit_valid="$VALID" --set data.limit_test="$TEST" \
    --set train.epochs="$DENSE_EPOCHS" --set train.eval_batch_size=128 \
    --set runs_dir="$OUT" --set name=resnet20-fashion
fi

sweep() {  # name seeds kind budgets methods
  "$NC" sweep "$SRC" --command prune --seeds "$2" --out "$OUT/sweep-$1" \
    --arg=--granularity=channel --arg=--budget-kind="$3" --arg=--epochs="$EPOCHS" \
    --set threads=1 --set train.eval_batch_size=128 --grid=--budget="$4" --grid=--method="$5"
  python3 "$TABLE" --compare "$OUT/sweep-$1" > "$OUT/table-$1.md"
}

IFS=, read -r -a stages <<< "$STAGES"
for stage in "${stages[@]}"; do
  case "$stage" in
    main) sweep main "$SEEDS" params 0.2,0.05 dtp,l1 ;;
    magnitude) sweep magnitude 1 params 0.2,0.05 magnitude ;;
    params) sweep params 1 params 0.5,0.1 dtp,l1 ;;
    flops) sweep flops 1 flops 0.2,0.05 dtp,l1 ;;
    *) echo "unknown stage '$stage' (expected main, magnitude, params, flops)" >&2; exit 2 ;;
  esac
done
for stage in "${stages[@]}"; do cat "$OUT/table-$stage.md"; done | tee "$OUT/table.md"
