#!/usr/bin/env bash
# Speed of the ST-STDP network, neurocore against Brian2 (issue #23; docs/results/st-stdp.md).
#
#   scripts/reproduce/st-stdp-brian2.sh OUT
#
# Side by side, on the same still images and test videos (exported once as OMN1 files), with
# the parameters of configs/st-stdp-omnist.yaml and soft winner-take-all (Brian2 cannot express
# the hard one): neurocore trains one pass over IMAGES still images and classifies VIDEOS
# videos with and without F (one thread); scripts/reproduce/st_stdp_brian2.py runs the same
# network, the same V_th (neurocore's calibration) and the same protocol in Brian2, with each
# code generation target of TARGETS. Both count synaptic events with the spec's definition.
# Then the table: python3 scripts/reproduce/st_stdp_brian2_table.py OUT (names the commit).
#
# Environment: IMAGES (100), VIDEOS (100), NEURONS (100), TARGETS ("runtime standalone";
# runtime = Brian2's default code generation: cython when it compiles, else numpy), SEED (1).
# Brian2 is a benchmark-only dependency (Debian python3-brian, for /usr/bin/python3): this
# script installs it when missing; neither the build nor `make test` needs it.
set -euo pipefail
OUT=${1:?output folder}
NC=${NC:-build/neurocore}
IMAGES=${IMAGES:-100}
VIDEOS=${VIDEOS:-100}
NEURONS=${NEURONS:-100}
TARGETS=${TARGETS:-"runtime standalone"}
SEED=${SEED:-1}
PY=/usr/bin/python3
if ! "$PY" -c "import brian2" 2>/dev/null; then
  apt-get install -y --no-install-recommends python3-brian
fi
mkdir -p "$OUT/data"
"$NC" data export omnist --split static --count "$IMAGES" --format omn1 --out "$OUT/data"
"$NC" data export omnist --split test --count "$VIDEOS" --format omn1 --out "$OUT/data"
# neurocore: soft WTA (what Brian2 runs) and, for reference, the shipped hard WTA.
for WTA in soft hard; do
  name="nc-$WTA-n$NEURONS-s$SEED"
  [ -f "$OUT/$name/results.json" ] && continue
  hard=false; [ "$WTA" = hard ] && hard=true
  OMP_NUM_THREADS=1 "$NC" train configs/st-stdp-omnist.yaml --threads 1 --set runs_dir="$OUT" --set name="$name" \
    --set seed="$SEED" --set train.epochs=1 --set data.limit_train="$IMAGES" --set data.limit_test="$VIDEOS" \
    --set model.neurons="$NEURONS" --set model.hard_wta=$hard > "$OUT/$name.log" 2>&1
done
run="$OUT/nc-soft-n$NEURONS-s$SEED"
for T in $TARGETS; do
  out="$OUT/brian2-$T-n$NEURONS-s$SEED.json"
  [ -s "$out" ] && continue
  extra=()
  if [ "$T" = standalone ]; then
    # Inference only, from the trained weights of the runtime run (see st_stdp_brian2.py).
    extra=(--trained "$OUT/brian2-trained-n$NEURONS-s$SEED.npz" --build-dir "$OUT/brian2-standalone-n$NEURONS")
  else
    extra=(--save-trained "$OUT/brian2-trained-n$NEURONS-s$SEED.npz")
  fi
  OMP_NUM_THREADS=1 "$PY" scripts/reproduce/st_stdp_brian2.py --run "$run" --static "$OUT/data/omnist-static.omn1" \
    --videos "$OUT/data/omnist-test.omn1" --target "$T" --seed "$SEED" --out "$out.tmp" "${extra[@]}" > "$OUT/brian2-$T.log" 2>&1
  mv "$out.tmp" "$out"
done
python3 scripts/reproduce/st_stdp_brian2_table.py "$OUT"
