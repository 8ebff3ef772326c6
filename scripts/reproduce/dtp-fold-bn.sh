#!/usr/bin/env bash
# Forward time of the shrunk ResNet-20 models exported as TorchScript with their BatchNorms as
# separate ops and folded into the convolutions (issue #22, docs/results/dtp.md;
# `neurocore prune` writes the folded form by default, docs/prune.md): nc_bench_shrunk_forward
# --torchscript=1 times, interleaved in one process (one thread, batch 128, median CPU time of
# REPS passes after two warm-up ones), each run's C++ model, its unfolded and its folded
# TorchScript export, and checks their outputs agree.
#
#   scripts/reproduce/dtp-fold-bn.sh OUT      # table: OUT/fold-bn.md
#
# The runs are those of dtp-shrunk-latency.sh OUT (ResNet-20: OUT/latency/resnet20-fashion and
# OUT/latency/resnet20-dtp-*), made by it (MODELS=resnet20, its defaults) when missing.
set -euo pipefail
OUT=${1:?output folder}
BENCH=${BENCH:-build/bench/nc_bench_shrunk_forward}
REPS=${REPS:-21}
export OMP_NUM_THREADS=1
if [ ! -d "$OUT/latency/resnet20-fashion" ]; then
  MODELS=resnet20 "$(dirname "$0")/dtp-shrunk-latency.sh" "$OUT"
fi
runs=("$OUT/latency/resnet20-fashion")
for d in "$OUT"/latency/resnet20-dtp-*; do [ -f "$d/prune.json" ] && runs+=("$d"); done
commit=$(git rev-parse --short HEAD)
nice -n 10 "$BENCH" --threads=1 --reps="$REPS" --batch=128 --channels=1 --size=28 --torchscript=1 \
  "${runs[@]}" > "$OUT/fold-bn.tsv"
{
  echo "ResNet-20 forward, batch 128, one thread, median CPU ms of $REPS passes (nc_bench_shrunk_forward --torchscript=1, commit \`$commit\`)"
  echo
  echo "| run | parameters | C++ model ms | TorchScript ms | TorchScript BN-folded ms | folded / unfolded | max abs output difference |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' '{ n = split($1, p, "/"); printf "| %s | %s | %.2f | %.2f | %.2f | %.3fx | %s |\n", p[n], $4, $2, $5, $6, $6 / $5, $7 }' \
    "$OUT/fold-bn.tsv"
} | tee "$OUT/fold-bn.md"
