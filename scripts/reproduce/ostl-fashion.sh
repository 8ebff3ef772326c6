#!/usr/bin/env bash
# OSTL versus BPTT on rate-coded Fashion-MNIST (issue #3, docs/results/ostl.md): the SNU
# network of configs/snu-mlp-fashion.yaml with one hidden layer and a linear readout (one
# recurrent layer: OSTL's gradient equals BPTT's) and with two hidden layers and an SNU readout
# (three recurrent layers: the deep approximation), each trained by BPTT of the time-averaged
# loss (the Trainer's default), BPTT of the per-step loss (learn.bptt.loss=per_step, the loss
# OSTL trains: the spec's fair baseline) and OSTL.
#
#   scripts/reproduce/ostl-fashion.sh OUT [EPOCHS] [SEEDS] [EXTRA --set ARGS...]
#   e.g. scripts/reproduce/ostl-fashion.sh /tmp/ostl-fashion 3 "42"
#   NETS="h256x2-snu" RULES="bpttps ostl" scripts/reproduce/ostl-fashion.sh OUT 3 "1 2"
#   (a subset: NETS from h256-linear h256x2-snu, RULES from bptt bpttps ostl)
set -euo pipefail
OUT=${1:?output folder}
EPOCHS=${2:-3}
SEEDS=${3:-42}
shift $(( $# < 3 ? $# : 3 ))
NC=${NC:-build/neurocore}
mkdir -p "$OUT"
for S in $SEEDS; do
  for NET in ${NETS:-h256-linear h256x2-snu}; do
    case $NET in
      h256-linear) net=(--set model.hidden=[256] --set model.readout=linear) ;;
      h256x2-snu) net=(--set model.hidden=[256,256] --set model.readout=snu) ;;
    esac
    for RULE in ${RULES:-bptt bpttps ostl}; do
      name="$NET-$RULE-s$S"
      case $RULE in
        bptt) rule=(--set learn.rule=bptt) ;;
        bpttps) rule=(--set learn.rule=bptt --set learn.bptt.loss=per_step) ;;
        ostl) rule=(--set learn.rule=ostl) ;;
      esac
      [ -f "$OUT/runs/$name/report.md" ] && continue
      rm -rf "$OUT/runs/$name"
      "$NC" --log-level warn train configs/snu-mlp-fashion.yaml --set runs_dir="$OUT/runs" \
        --set name="$name" "${net[@]}" "${rule[@]}" --set seed="$S" \
        --set train.epochs="$EPOCHS" --set threads=1 "$@" > "$OUT/$name.log" 2>&1 \
        || echo "run $name failed: $(tail -n 1 "$OUT/$name.log")"
      echo "done $name"
    done
  done
done
# Test accuracy per epoch of every run.
for f in "$OUT"/runs/*/metrics.jsonl; do
  printf '%s' "$(basename "$(dirname "$f")")"
  grep '"kind":"epoch"' "$f" | sed 's/.*"test_acc":\([0-9.]*\).*/ \1/' | tr -d '\n'
  echo
done
