#!/usr/bin/env bash
# ST-STDP on OMNIST (issue #23, docs/results/st-stdp.md).
#
#   scripts/reproduce/st-stdp.sh select OUT   hyper-parameters on the validation videos (seed 1)
#   scripts/reproduce/st-stdp.sh test OUT     the chosen config (configs/st-stdp-omnist.yaml) and
#                                             the per-frame ANN baselines on the test videos, SEEDS
#   scripts/reproduce/st-stdp.sh speed OUT    the SNN and the MLP with occluders at SPEEDS ("2 8")
#                                             px/frame (trained and tested at that speed)
#   scripts/reproduce/st-stdp.sh tauf OUT     spec §12 "role of tau_F": tau_F in TAUS_F
#                                             ("50 200 1000") x T_f in FRAMES_MS ("50 100 350"),
#                                             SEEDS, on the validation videos (an ablation: no
#                                             choice is made from it)
#   scripts/reproduce/st-stdp.sh neurons OUT  N_out in NEURONS ("100 400") x delta_a in DELTAS
#                                             ("0.005 0.01 0.02"), seed 1, validation videos
#   scripts/reproduce/st-stdp.sh neuron OUT   current- against conductance-based neurons on
#                                             LIMIT_VALID validation videos (seed 1), and the
#                                             conductance config with theta_plus in THETAS
#                                             ("0.005 0.01 0.02 0.05 0.5 2" mV), learn.stdp.gamma in
#                                             NEURON_GAMMAS ("0.02 0.05") x tau_f in NEURON_TAUS
#                                             ("200 1000") at theta_plus NEURON_THETA (0.02),
#                                             then on the test videos for
#                                             NEURON_SEEDS ("": none; e.g. "1 2 3") with
#                                             NEURON_SET (extra --set arguments)
#   then: python3 scripts/reproduce/st_stdp_summary.py OUT   (the tables; names the commit)
#
# Environment: DELTAS ("0.004 0.05"), GAMMAS ("0 0.05 0.2"), TAUS ("200 1000") the `select`
# grid of model.delta_a x learn.stdp.gamma x learn.stdp.tau_f; SEEDS ("1 2 3"), LIMIT_VALID (300 validation videos for `select`), LIMIT_TEST
# (0 = all 2,008), ANN_EPOCHS (10; the spec's), BASELINES ("mlp lenet5"; "mlp lenet5 cnn" adds the spec's CNN,
# configs/cnn-omnist.yaml; empty: none),
# SNN_SET (extra --set arguments for the SNN runs of `test`), JOBS (2 runs at a time, one
# thread each), SOURCE (empty: the configs' MNIST-10k; fashion-mnist: OFMNIST, every run of
# every stage). Runs already done (report.md present) are kept.
set -euo pipefail
STAGE=${1:?select or test}
OUT=${2:?output folder}
NC=${NC:-build/neurocore}
SEEDS=${SEEDS:-"1 2 3"}
LIMIT_VALID=${LIMIT_VALID:-300}
LIMIT_TEST=${LIMIT_TEST:-0}
ANN_EPOCHS=${ANN_EPOCHS:-10}
BASELINES=${BASELINES-"mlp lenet5"}
SNN_SET=${SNN_SET:-}
NEURON_SET=${NEURON_SET:-}
JOBS=${JOBS:-2}
SOURCE=${SOURCE:-}
SRC_SET=""
[ -n "$SOURCE" ] && SRC_SET="--set data.omnist.source=$SOURCE"
VALID_SET="--set evaluate.split=valid --set data.limit_valid=$LIMIT_VALID"
mkdir -p "$OUT"
jobs_file="$OUT/jobs-$STAGE.txt"
: > "$jobs_file"
if [ "$STAGE" = select ]; then
  # The spec's defaults, then its gamma x tau_f sweep values with stronger adaptation.
  for DA in ${DELTAS:-0.004 0.05}; do
    for G in ${GAMMAS:-0 0.05 0.2}; do
      for TF in ${TAUS:-200 1000}; do
        [ "$G" = 0 ] && [ "$TF" = 1000 ] && continue
        echo "valid-da$DA-g$G-tf$TF configs/st-stdp-omnist.yaml --set seed=1 $VALID_SET --set model.delta_a=$DA --set learn.stdp.gamma=$G --set learn.stdp.tau_f=$TF" >> "$jobs_file"
      done
    done
  done
elif [ "$STAGE" = test ]; then
  for S in $SEEDS; do
    echo "snn-s$S configs/st-stdp-omnist.yaml --set seed=$S --set data.limit_test=$LIMIT_TEST $SNN_SET" >> "$jobs_file"
    for B in $BASELINES; do
      echo "$B-s$S configs/$B-omnist.yaml --set seed=$S --set train.epochs=$ANN_EPOCHS --set data.limit_test=$LIMIT_TEST" >> "$jobs_file"
    done
  done
elif [ "$STAGE" = speed ]; then
  # Occluders at fixed speeds (px/frame) instead of crossing the frame in K - 1 frames.
  for SP in ${SPEEDS:-2 8}; do
    for S in $SEEDS; do
      echo "snn-speed$SP-s$S configs/st-stdp-omnist.yaml --set seed=$S --set data.omnist.speed=$SP --set data.limit_test=$LIMIT_TEST" >> "$jobs_file"
      echo "mlp-speed$SP-s$S configs/mlp-omnist.yaml --set seed=$S --set data.omnist.speed=$SP --set train.epochs=$ANN_EPOCHS --set data.limit_test=$LIMIT_TEST" >> "$jobs_file"
    done
  done
elif [ "$STAGE" = tauf ]; then
  for TF in ${TAUS_F:-50 200 1000}; do
    for FM in ${FRAMES_MS:-50 100 350}; do
      for S in $SEEDS; do
        echo "tauf-tf$TF-fm$FM-s$S configs/st-stdp-omnist.yaml --set seed=$S $VALID_SET --set learn.stdp.tau_f=$TF --set learn.stdp.frame_ms=$FM" >> "$jobs_file"
      done
    done
  done
elif [ "$STAGE" = neurons ]; then
  for N in ${NEURONS:-100 400}; do
    for DA in ${DELTAS:-0.005 0.01 0.02}; do
      echo "neurons-n$N-da$DA-s1 configs/st-stdp-omnist.yaml --set seed=1 $VALID_SET --set model.neurons=$N --set model.delta_a=$DA" >> "$jobs_file"
    done
  done
elif [ "$STAGE" = neuron ]; then
  # The spec's neuron option (docs/st-stdp.md#conductance-based-neurons), otherwise the same config.
  VALID="--set seed=1 $VALID_SET"
  echo "cmp-current-valid-s1 configs/st-stdp-omnist.yaml $VALID" >> "$jobs_file"
  # theta_plus first, with the current-based config's short-term rule (gamma 0.2, tau_f 1000).
  for TP in ${THETAS:-0.005 0.01 0.02 0.05 0.5 2}; do
    echo "cmp-conductance-tp$TP-valid-s1 configs/st-stdp-omnist-conductance.yaml $VALID --set model.conductance.theta_plus=$TP --set learn.stdp.gamma=0.2 --set learn.stdp.tau_f=1000" >> "$jobs_file"
  done
  # Then the short-term rule for the conductance neurons at theta_plus NEURON_THETA (0.02 mV).
  for G in ${NEURON_GAMMAS:-0.02 0.05}; do
    for TF in ${NEURON_TAUS:-200 1000}; do
      echo "cmp-conductance-tp${NEURON_THETA:-0.02}-g$G-tf$TF-valid-s1 configs/st-stdp-omnist-conductance.yaml $VALID --set model.conductance.theta_plus=${NEURON_THETA:-0.02} --set learn.stdp.gamma=$G --set learn.stdp.tau_f=$TF" >> "$jobs_file"
    done
  done
  for S in ${NEURON_SEEDS:-}; do
    echo "conductance-s$S configs/st-stdp-omnist-conductance.yaml --set seed=$S --set data.limit_test=$LIMIT_TEST $NEURON_SET" >> "$jobs_file"
  done
else
  echo "stage must be select, test, speed, tauf, neurons or neuron, got '$STAGE'" >&2
  exit 2
fi
run_one() {
  local name=$1; shift
  [ -f "$OUT/$name/report.md" ] && return 0
  rm -rf "${OUT:?}/$name"
  "$NC" train "$@" --threads 1 --set runs_dir="$OUT" --set name="$name" > "$OUT/$name.log" 2>&1 \
    || { echo "failed: $name (see $OUT/$name.log)" >&2; return 1; }
  echo "done: $name"
}
export -f run_one
export NC OUT
[ -n "$SRC_SET" ] && sed -i "s|\$| $SRC_SET|" "$jobs_file"
# No trailing blanks: xargs -L would join such a line with the next one.
sed -i 's/[[:space:]]*$//' "$jobs_file"
# shellcheck disable=SC2016
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
python3 scripts/reproduce/st_stdp_summary.py "$OUT"
