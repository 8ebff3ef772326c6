#!/usr/bin/env bash
# ESSOP on Fashion-MNIST (issue #24, docs/results/essop.md): MLP 784-256-256-10, exact SGD
# against ESSOP weight updates at each bit-stream length, SEEDS seeds, EPOCHS epochs, one
# thread per run, JOBS runs at a time. The learning rate is the fixed baseline setting of
# configs/mlp-fashion.yaml (SGD 0.1, momentum 0.9, batch 128) for every method: no tuning,
# and no test data is used to choose anything.
#
#   scripts/reproduce/essop-fashion.sh OUT [BITSTREAMS] [SEEDS] [EPOCHS] [JOBS]
#   e.g. scripts/reproduce/essop-fashion.sh /tmp/essop "4 8 16 32" "1 2 3" 3 2
# then: python3 scripts/reproduce/essop_summary.py OUT > docs/results/essop-fashion-table.md
# Environment: STREAMS=fresh|shared (learn.essop.streams of the ESSOP runs, default fresh),
# WITH_EXACT=0 to skip the exact baseline (e.g. for a second, shared-stream folder).
set -euo pipefail
OUT=${1:?output folder}
BITSTREAMS=${2:-"4 8 16 32"}
SEEDS=${3:-"1 2 3"}
EPOCHS=${4:-10}
JOBS=${5:-1}
NC=${NC:-build/neurocore}
CONFIG=${CONFIG:-configs/essop-mlp-fashion.yaml}
STREAMS=${STREAMS:-fresh}
WITH_EXACT=${WITH_EXACT:-1}
case "$STREAMS" in fresh|shared) ;; *) echo "STREAMS must be fresh or shared, got $STREAMS" >&2; exit 2 ;; esac
mkdir -p "$OUT/runs"
git rev-parse --short HEAD > "$OUT/commit.txt"
echo "$STREAMS" > "$OUT/streams.txt"

jobs_list() {
  for S in $SEEDS; do
    if [ "$WITH_EXACT" = 1 ]; then echo "exact-s$S exact 0 $S"; fi
    for BL in $BITSTREAMS; do echo "essop$BL-s$S essop $BL $S"; done
  done
}
run_one() {  # name update bitstream seed
  local name=$1 update=$2 bl=$3 seed=$4
  if [ -f "$OUT/runs/$name/metrics.jsonl" ] && grep -q "\"epoch\":$EPOCHS[,}]" "$OUT/runs/$name/metrics.jsonl"; then return 0; fi
  rm -rf "$OUT/runs/$name"
  local extra=()
  if [ "$update" = essop ]; then
    extra=(--set learn.bitstream="$bl" --set learn.essop.streams="$STREAMS")
  else
    extra=(--set learn.update=exact)
  fi
  "$NC" --log-level warn train "$CONFIG" --set runs_dir="$OUT/runs" --set name="$name" \
    --set seed="$seed" --set train.epochs="$EPOCHS" --set threads=1 "${extra[@]}" \
    > "$OUT/$name.log" 2>&1 || echo "run $name failed: $(tail -n 1 "$OUT/$name.log")"
  echo "done $name"
}
export -f run_one
export OUT EPOCHS NC CONFIG STREAMS
jobs_list | xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _
