#!/usr/bin/env bash
# The sequence baselines of ST-STDP (issue #23, spec st-stdp.md §7; docs/results/st-stdp.md):
# Elman RNN, LSTM and SNU over the frames of the OMNIST videos (configs/{rnn,lstm,snu}-omnist.yaml).
#
#   scripts/reproduce/st-stdp-sequences.sh select OUT   every model at every learning rate of LRS,
#                                                       seed 1 (the choice: valid_step_acc, last epoch)
#   scripts/reproduce/st-stdp-sequences.sh test OUT     seeds 2 and 3 at each model's chosen rate
#   then: python3 scripts/reproduce/st_stdp_sequences_summary.py OUT   (the tables; names the commit)
#
# Environment: MODELS ("rnn lstm snu"), LRS ("0.001 0.003"), EPOCHS (10, the spec's),
# LIMIT_TRAIN (0 = all 5,998 training videos), JOBS (1 run at a time, one thread), NICE (10; 0 on a
# machine whose other load would otherwise starve the runs).
# Runs already done (report.md present) are kept.
set -euo pipefail
STAGE=${1:?select or test}
OUT=${2:?output folder}
NC=${NC:-build/neurocore}
MODELS=${MODELS:-"rnn lstm snu"}
LRS=${LRS:-"0.001 0.003"}
EPOCHS=${EPOCHS:-10}
LIMIT_TRAIN=${LIMIT_TRAIN:-0}
JOBS=${JOBS:-1}
NICE=${NICE:-10}
mkdir -p "$OUT"
jobs_file="$OUT/jobs-$STAGE.txt"
: > "$jobs_file"
for M in $MODELS; do
  if [ "$STAGE" = select ]; then
    for LR in $LRS; do
      echo "$M-lr$LR-s1 configs/$M-omnist.yaml --set seed=1 --set train.learning_rate=$LR --set train.epochs=$EPOCHS --set data.limit_train=$LIMIT_TRAIN" >> "$jobs_file"
    done
  elif [ "$STAGE" = test ]; then
    LR=$(python3 scripts/reproduce/st_stdp_sequences_summary.py "$OUT" --best "$M")
    for S in 2 3; do
      echo "$M-lr$LR-s$S configs/$M-omnist.yaml --set seed=$S --set train.learning_rate=$LR --set train.epochs=$EPOCHS --set data.limit_train=$LIMIT_TRAIN" >> "$jobs_file"
    done
  else
    echo "stage must be select or test, got '$STAGE'" >&2
    exit 2
  fi
done
run_one() {
  local name=$1; shift
  [ -f "$OUT/$name/report.md" ] && return 0
  rm -rf "${OUT:?}/$name"
  OMP_NUM_THREADS=1 nice -n "$NICE" "$NC" train "$@" --threads 1 --set runs_dir="$OUT" --set name="$name" > "$OUT/$name.log" 2>&1 \
    || { echo "failed: $name (see $OUT/$name.log)" >&2; return 1; }
  echo "done: $name"
}
export -f run_one
export NC OUT NICE
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
python3 scripts/reproduce/st_stdp_sequences_summary.py "$OUT"
