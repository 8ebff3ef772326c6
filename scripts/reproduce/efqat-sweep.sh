#!/usr/bin/env bash
# EfQAT sweep (issue #7, docs/results/efqat.md): PTQ, full QAT (1 epoch) and EfQAT (1 epoch)
# for each mode and unfrozen fraction, all from one trained FP32 run, then a table and an
# accuracy-versus-rho plot per bit-width.
#
#   scripts/reproduce/efqat-sweep.sh SOURCE_RUN OUT [CONFIG [--set k=v ...]]
#   e.g. scripts/reproduce/efqat-sweep.sh runs/r20-fashion /tmp/efqat-r20
#        scripts/reproduce/efqat-sweep.sh runs/mlp-mnist10k /tmp/efqat-mlp \
#          configs/mlp-fashion.yaml --set data.name=mnist-10k
#
# SOURCE_RUN is trained with CONFIG (default configs/resnet20-fashion.yaml) and the --set
# arguments when it does not exist.
# JOBS (default 2) runs in parallel, each on one thread; FULL_BITS (default W4A4) get the whole
# sweep over RHOS (default "0.01 0.05 0.1 0.25 0.5") and MODES (default "cwpn cwpl lwpn"),
# OTHER_BITS (default "W8A8 W4A8") PTQ, QAT and EfQAT CWPN at 10 % only; runs already done
# (report.md present) are kept, so a second call with other settings adds to the first;
# QUANT_ARGS are added to every `neurocore quantize` (e.g. "--lr 0.001").
set -euo pipefail
SRC=${1:?source run directory (neurocore train configs/resnet20-fashion.yaml)}
OUT=${2:?output folder}
CONFIG=${3:-configs/resnet20-fashion.yaml}
shift $(( $# < 3 ? $# : 3 ))
NC=${NC:-build/neurocore}
JOBS=${JOBS:-2}
FULL_BITS=${FULL_BITS:-W4A4}
OTHER_BITS=${OTHER_BITS-"W8A8 W4A8"}  # empty: none
RHOS=${RHOS:-"0.01 0.05 0.1 0.25 0.5"}
MODES=${MODES:-"cwpn cwpl lwpn"}
QUANT_ARGS=${QUANT_ARGS:-}
mkdir -p "$OUT/runs"
if [ ! -d "$SRC/checkpoints" ]; then
  "$NC" train "$CONFIG" --threads "$JOBS" "$@" \
    --set runs_dir="$(dirname "$SRC")" --set name="$(basename "$SRC")"
fi
jobs_file="$OUT/jobs.txt"
: > "$jobs_file"
for B in $FULL_BITS $OTHER_BITS; do
  echo "ptq-$B --method ptq --bits $B" >> "$jobs_file"
  echo "qat-$B --method qat --bits $B" >> "$jobs_file"
done
for B in $FULL_BITS; do
  for M in $MODES; do
    for R in $RHOS; do echo "efqat-$B-$M-$R --method efqat --bits $B --mode $M --fraction $R" >> "$jobs_file"; done
  done
done
for B in $OTHER_BITS; do echo "efqat-$B-cwpn-0.1 --method efqat --bits $B --mode cwpn --fraction 0.1" >> "$jobs_file"; done
run_one() {
  local name=$1; shift
  [ -f "$OUT/runs/$name/report.md" ] && return 0
  rm -rf "$OUT/runs/$name"
  # shellcheck disable=SC2086
  "$NC" --log-level warn quantize "$SRC" "$@" $QUANT_ARGS --threads 1 --out "$OUT/runs/$name" \
    > "$OUT/$name.log" 2>&1 && echo "done $name" || echo "FAILED $name (see $OUT/$name.log)"
}
export -f run_one
export NC OUT SRC QUANT_ARGS
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
python3 "$(dirname "$0")/efqat_summary.py" "$OUT"
