#!/usr/bin/env bash
# Oddity generator speed (issue #26, docs/results/oddity.md): 10,000 riddles of the combined set
# at 50 x 50 on one core (target < 10 s), and the cost per riddle id. Writes OUT/oddity-bench.md
# naming the commit.
#
#   scripts/reproduce/oddity-bench.sh OUT [COUNT] [RESOLUTION]
set -euo pipefail
OUT=${1:?output folder}
COUNT=${2:-10000}
RES=${3:-50}
BENCH=${BENCH:-build/bench/nc_bench_oddity}
mkdir -p "$OUT"
{
  echo "commit $(git rev-parse --short HEAD), $(nproc) cores here, one thread used ($(date -u +%Y-%m-%d))"
  echo
  OMP_NUM_THREADS=1 taskset -c 0 "$BENCH" --count="$COUNT" --resolution="$RES" --reps=3
} > "$OUT/oddity-bench.md"
cat "$OUT/oddity-bench.md"
