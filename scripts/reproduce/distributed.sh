#!/usr/bin/env bash
# Data-parallel throughput on this machine (issue #27, docs/results/distributed.md): the same
# global batch trained by
#   1 process x 1 intra-op thread, 1 process x 2 threads, and 2 processes (--nproc 2) x 1 thread
#   (default buckets: 25 MiB, the first 1 MiB; and 0.25 MiB buckets, more overlap),
# for each model below, REPS repetitions each (interleaved, so load drifts hit every variant).
#
#   scripts/reproduce/distributed.sh OUT [REPS] [EPOCHS]
# then: python3 scripts/reproduce/distributed_table.py OUT > docs/results/distributed.md
set -euo pipefail
OUT=${1:?output folder}
REPS=${2:-3}
EPOCHS=${3:-2}
NC=${NC:-build/neurocore}
mkdir -p "$OUT"
git rev-parse --short HEAD > "$OUT/commit"
nproc > "$OUT/cores"
# model: name | config | global batch | extra settings
models=(
  "mlp|configs/mlp-fashion.yaml|128|data.limit_train=12800"
  "snu-mlp|configs/snu-mlp-fashion.yaml|128|data.limit_train=6400"
  "resnet20|configs/resnet20-fashion.yaml|128|data.limit_train=1280"
)
for rep in $(seq 1 "$REPS"); do
  for m in "${models[@]}"; do
    IFS='|' read -r name cfg batch extra <<< "$m"
    common=(--set "train.epochs=$EPOCHS" --set "$extra" --set data.limit_test=1000
            --set "runs_dir=$OUT/runs")
    "$NC" --log-level warn train "$cfg" "${common[@]}" --set threads=1 \
        --set "train.batch_size=$batch" --set "name=$name-p1t1-r$rep"
    "$NC" --log-level warn train "$cfg" "${common[@]}" --set threads=2 \
        --set "train.batch_size=$batch" --set "name=$name-p1t2-r$rep"
    "$NC" --log-level warn train "$cfg" "${common[@]}" --set threads=1 --nproc 2 \
        --set "train.batch_size=$((batch / 2))" --set "name=$name-p2t1-r$rep"
    "$NC" --log-level warn train "$cfg" "${common[@]}" --set threads=1 --nproc 2 --bucket-mb 0.25 \
        --set "train.batch_size=$((batch / 2))" --set "name=$name-p2t1s-r$rep"
  done
done
