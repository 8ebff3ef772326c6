#!/usr/bin/env bash
# Oddity generator speed (issue #26, docs/results/oddity.md): 10,000 riddles of the combined set
# at 50 x 50 on one core (target < 10 s), and the cost per riddle id; and the oddity models'
# parameters and MACs per riddle (nc_oddity_models). Writes OUT/oddity-bench.md and
# OUT/oddity-models.md naming the commit.
#
#   scripts/reproduce/oddity-bench.sh OUT [COUNT] [RESOLUTION]
set -euo pipefail
OUT=${1:?output folder}
COUNT=${2:-10000}
RES=${3:-50}
BENCH=${BENCH:-build/bench/nc_bench_oddity}
MODELS=${MODELS:-build/bench/nc_oddity_models}
mkdir -p "$OUT"
{
  echo "commit $(git rev-parse --short HEAD), $(nproc) cores here, one thread used ($(date -u +%Y-%m-%d))"
  echo
  OMP_NUM_THREADS=1 taskset -c 0 "$BENCH" --count="$COUNT" --resolution="$RES" --reps=3
} > "$OUT/oddity-bench.md"
cat "$OUT/oddity-bench.md"
{
  echo "commit $(git rev-parse --short HEAD), panels ${RES} x ${RES}"
  echo
  "$MODELS" --resolution="$RES"
} > "$OUT/oddity-models.md"
cat "$OUT/oddity-models.md"
