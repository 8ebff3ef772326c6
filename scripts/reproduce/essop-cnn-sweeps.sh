#!/usr/bin/env bash
# ESSOP on the spec's small CNN (issue #24, docs/results/essop.md section 1d): conv 3x3 16 ->
# pool -> conv 3x3 32 -> pool -> FC 128 -> 10 (model.name: cnn) on Fashion-MNIST, exact SGD
# against ESSOP weight updates at each bit-stream length, with neurocore sweep (docs/sweep.md),
# one thread per run, JOBS runs at a time, EPOCHS epochs, the validation split held out
# (data.validation: the last 10 % of each class of the train split).
#   1. exact SGD at each learning rate of LRS, SEEDS seeds: the rate is chosen on valid_acc;
#   2. ESSOP at each bit stream of BITSTREAMS at the rate chosen for exact, SEEDS seeds;
#   3. with SHARED=1, also ESSOP at BL SHARED_BL (default 16) with shared streams
#      (learn.essop.streams: shared), the spec's "reuse costs nothing" check against the
#      fresh-stream default of step 2.
#
#   scripts/reproduce/essop-cnn-sweeps.sh OUT [EPOCHS] [JOBS]
# then: python3 scripts/reproduce/sweep_table.py OUT/exact
#       python3 scripts/reproduce/sweep_table.py --compare OUT/essop [OUT/shared]
# Environment: LRS (default 0.02,0.05,0.1), BITSTREAMS (default 4,8,16), SEEDS (default 3),
# SHARED (default 0), SHARED_BL (default 16), NC (default build/neurocore); LR=x skips step 1
# and uses rate x (the rate step 1 chose in an earlier run); STEPS (default "essop") lists
# which of the ESSOP steps to run: "essop", "shared" or both (SHARED=1 adds "shared").
# FIRST_SEED (default 1): the seeds are FIRST_SEED .. FIRST_SEED + SEEDS - 1 (a missing seed
# of an earlier sweep). Runs at normal priority (nice starves them on a loaded machine).
set -euo pipefail
OUT=${1:?output folder}
EPOCHS=${2:-10}
JOBS=${3:-2}
NC=${NC:-build/neurocore}
LRS=${LRS:-0.02,0.05,0.1}
BITSTREAMS=${BITSTREAMS:-4,8,16}
SEEDS=${SEEDS:-3}
SHARED=${SHARED:-0}
SHARED_BL=${SHARED_BL:-16}
STEPS=${STEPS:-essop}
if [ "$SHARED" = 1 ]; then STEPS="$STEPS shared"; fi
CONFIG=configs/essop-cnn-fashion.yaml
common=(--seeds "$SEEDS" --first-seed "${FIRST_SEED:-1}" --jobs "$JOBS" --set data.validation=true --set threads=1
        --set train.epochs="$EPOCHS")
if [ -z "${LR:-}" ]; then
  "$NC" --log-level warn sweep "$CONFIG" "${common[@]}" --set learn.update=exact \
    --grid train.learning_rate="$LRS" --out "$OUT/exact"
  # The rate of the setting the validation split chose (sweep.json "best").
  LR=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); b=s["best"]["setting"]
print(next(t["overrides"]["train.learning_rate"] for t in s["settings"] if t["id"] == b))' \
    "$OUT/exact/sweep.json")
  echo "learning rate chosen on validation for exact SGD: $LR"
fi
case " $STEPS " in *" essop "*)
  "$NC" --log-level warn sweep "$CONFIG" "${common[@]}" --set train.learning_rate="$LR" \
    --grid learn.bitstream="$BITSTREAMS" --out "$OUT/essop" ;;
esac
case " $STEPS " in *" shared "*)
  "$NC" --log-level warn sweep "$CONFIG" "${common[@]}" --set train.learning_rate="$LR" \
    --set learn.bitstream="$SHARED_BL" --set learn.essop.streams=shared --out "$OUT/shared" ;;
esac
