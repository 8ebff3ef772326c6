#!/usr/bin/env bash
# OSTL's deep approximation against per-step BPTT (issue #21, docs/results/ostl.md): the SNU
# network 784-256-256-10 with an SNU readout (three recurrent layers) on rate-coded
# Fashion-MNIST, 3 epochs, each rule's learning rate chosen on the validation split (the last
# 10 % of each class of the train split), 3 seeds per setting, one thread per run.
#
#   scripts/reproduce/ostl-deep-sweeps.sh OUT [JOBS]
# then: python3 scripts/reproduce/sweep_table.py --compare OUT/bpttps OUT/ostl
set -euo pipefail
OUT=${1:?output folder}
JOBS=${2:-1}
NC=${NC:-build/neurocore}
for RULE in bpttps ostl; do
  case $RULE in
    bpttps) rule=(--set learn.rule=bptt --set learn.bptt.loss=per_step) ;;
    ostl) rule=(--set learn.rule=ostl) ;;
  esac
  "$NC" --log-level warn sweep configs/snu-mlp-fashion.yaml --seeds 3 --jobs "$JOBS" \
    --set data.validation=true --set threads=1 --set model.hidden=[256,256] --set model.readout=snu \
    "${rule[@]}" --grid train.learning_rate=0.001,0.002 --out "$OUT/$RULE"
done
