#!/usr/bin/env bash
# The shrunk models of DTP channel pruning at each budget (issue #22, docs/results/dtp.md):
# parameters, MACs and accuracy after pruning, the measured forward time relative to the dense
# model (nc_bench_shrunk_forward: one thread, batch 128, interleaved, median CPU time), and the
# cores, simulated first-image latency, throughput and energy on the CM accelerator
# (`neurocore compile --hw HW`, default configs/hw/default.yaml, float model).
#
# LeNet-5: the dense run of dtp-lenet-weights.sh (OUT/lenet5-fashion: trained here when missing,
# same protocol: first LIMIT=20000 training images, validation on, 3 epochs), DTP channel pruned
# with EPOCHS (default 3: ceil(0.6 x 3) = 2 with soft masks, 1 with the hard mask) epochs. ResNet-20 (configs/resnet20-fashion.yaml): a dense run on the
# first R_LIMIT (default 5000) training images and R_TEST (default 2000) test images for
# R_DENSE_EPOCHS (default 1) epoch and DTP with
# R_EPOCHS (default 3) epochs: its accuracy is not the point (ResNet-20 trains at about 20 min per
# full epoch on this machine), its shapes, forward time and chip numbers are.
# Budgets: params P_BUDGETS (default 0.5,0.2,0.1,0.05; R_P_BUDGETS for ResNet-20, default the same); flops L_F_BUDGETS for LeNet-5 (default
# 0.2,0.1: at 5 % of its MACs not even one channel per layer fits) and R_F_BUDGETS for ResNet-20
# (default 0.2,0.05).
#
#   scripts/reproduce/dtp-shrunk-latency.sh OUT      # table: OUT/latency.md
#
# R_SRC=RUN R_PRUNED=P1,P2,... (ResNet-20 only): no training or pruning here; the dense run RUN
# and the finished prune runs P1, P2, ... (e.g. of dtp-resnet20-channels.sh) are compiled and
# timed instead (linked as OUT/latency/resnet20-<method>-<kind>-<budget>).
#
# One thread, not niced. A second call reuses finished runs.
set -euo pipefail
OUT=${1:?output folder}
NC=${NC:-build/neurocore}
BENCH=${BENCH:-build/bench/nc_bench_shrunk_forward}
HW=${HW:-configs/hw/default.yaml}
EPOCHS=${EPOCHS:-3}
LIMIT=${LIMIT:-20000}
R_LIMIT=${R_LIMIT:-5000}
R_DENSE_EPOCHS=${R_DENSE_EPOCHS:-1}
R_EPOCHS=${R_EPOCHS:-3}
R_TEST=${R_TEST:-2000}
P_BUDGETS=${P_BUDGETS:-0.5,0.2,0.1,0.05}
R_P_BUDGETS=${R_P_BUDGETS:-$P_BUDGETS}
L_F_BUDGETS=${L_F_BUDGETS:-0.2,0.1}
R_F_BUDGETS=${R_F_BUDGETS:-0.2,0.05}
MODELS=${MODELS:-lenet5,resnet20}
R_SRC=${R_SRC:-}
R_PRUNED=${R_PRUNED:-}
export OMP_NUM_THREADS=1
mkdir -p "$OUT/latency"
# The commit of this checkout, for the table (the binaries must be built from it).
git rev-parse --short HEAD > "$OUT/latency/commit.txt"
git diff --quiet HEAD -- || echo "dirty" >> "$OUT/latency/commit.txt"
run() { "$@"; }  # not niced: on the shared machine nice starves the run

dense_run() {  # model -> run dir
  if [ "$1" = lenet5 ]; then
    local src="$OUT/lenet5-fashion"
    if [ ! -d "$src/checkpoints" ] || [ -z "$(ls -A "$src/checkpoints")" ]; then
      rm -rf "$src"
      run "$NC" train configs/lenet5-fashion.yaml --set threads=1 --set data.validation=true \
        --set data.limit_train="$LIMIT" --set train.epochs=3 --set runs_dir="$OUT" --set name=lenet5-fashion >&2
    fi
  elif [ -n "$R_SRC" ]; then
    echo "$R_SRC"
    return
  else
    local src="$OUT/latency/resnet20-fashion"
    if [ ! -d "$src/checkpoints" ] || [ -z "$(ls -A "$src/checkpoints")" ]; then
      rm -rf "$src"
      run "$NC" train configs/resnet20-fashion.yaml --set threads=1 --set data.validation=true \
        --set data.limit_train="$R_LIMIT" --set data.limit_test="$R_TEST" --set train.epochs="$R_DENSE_EPOCHS" \
        --set runs_dir="$OUT/latency" --set name=resnet20-fashion >&2
    fi
  fi
  echo "$src"
}

compile() {  # run dir -> its compile folder (reused)
  local dst="$OUT/latency/compile-$(basename "$1")"
  [ -f "$dst/report.json" ] || { rm -rf "$dst"; run "$NC" compile "$1" --hw "$HW" --out "$dst" >&2; }
}

IFS=, read -r -a models <<< "$MODELS"
for model in "${models[@]}"; do
  src=$(dense_run "$model")
  epochs=$EPOCHS; [ "$model" = lenet5 ] || epochs=$R_EPOCHS
  pruned=()
  if [ "$model" = resnet20 ] && [ -n "$R_PRUNED" ]; then
    IFS=, read -r -a given <<< "$R_PRUNED"
    for p in "${given[@]}"; do
      name=$(python3 -c 'import json, sys; o = json.load(open(sys.argv[1] + "/prune.json"))["options"]; print(o["method"], o["budget_kind"], o["budget"], sep="-")' "$p")
      ln -sfn "$(realpath "$p")" "$OUT/latency/resnet20-$name"
      pruned+=("$OUT/latency/resnet20-$name")
    done
  fi
  for kind in params flops; do
    [ "$model" = resnet20 ] && [ -n "$R_PRUNED" ] && continue
    budgets=$P_BUDGETS; [ "$model" = lenet5 ] || budgets=$R_P_BUDGETS
    if [ "$kind" = flops ]; then budgets=$L_F_BUDGETS; [ "$model" = lenet5 ] || budgets=$R_F_BUDGETS; fi
    IFS=, read -r -a bs <<< "$budgets"
    for b in "${bs[@]}"; do
      dst="$OUT/latency/$model-dtp-$kind-$b"
      [ -f "$dst/prune.json" ] || { rm -rf "$dst"; run "$NC" prune "$src" --method dtp --granularity channel \
        --budget-kind "$kind" --budget "$b" --epochs "$epochs" --out "$dst" --set threads=1 >&2; }
      pruned+=("$dst")
    done
  done
  compile "$src"
  for p in "${pruned[@]}"; do compile "$p"; done
  shape=(--channels=1 --size=28)
  run "$BENCH" --threads=1 --reps=21 --batch=128 "${shape[@]}" "$src" "${pruned[@]}" > "$OUT/latency/$model-forward.tsv"
done
python3 scripts/reproduce/dtp_latency_table.py "$OUT" "${models[@]}" | tee "$OUT/latency.md"
