#!/usr/bin/env bash
# The foundation figures re-measured with `neurocore sweep` (issue #21, docs/results/foundation.md):
# SNU-MLP on MNIST-10k (30 epochs, the config's recipe) and on Fashion-MNIST (3 epochs), the
# learning rate chosen on the validation split, 3 seeds per setting, one thread per run.
#
#   scripts/reproduce/foundation-sweeps.sh OUT [JOBS] [WHICH] [SWEEP FLAGS...]
#   WHICH: mnist10k fashion (default both); further flags go to every `neurocore sweep`, e.g.
#   `--set train.epochs=10` (the 10-epoch MNIST-10k sweep of docs/results/foundation.md)
# then: python3 scripts/reproduce/sweep_table.py OUT/snu-mlp-mnist10k OUT/snu-mlp-fashion
set -euo pipefail
OUT=${1:?output folder}
JOBS=${2:-2}
WHICH=${3:-"mnist10k fashion"}
shift $(( $# < 3 ? $# : 3 ))
NC=${NC:-build/neurocore}
for w in $WHICH; do
  "$NC" --log-level warn sweep "configs/sweep-snu-mlp-$w.yaml" --jobs "$JOBS" --out "$OUT/snu-mlp-$w" "$@"
done
