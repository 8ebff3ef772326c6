# Sourced by the LeNet-5 DTP scripts after they set OUT: the settings they share (NC, SEEDS,
# EPOCHS, DENSE_EPOCHS, LIMIT, one OpenMP thread), and their dense source run, trained once into
# $OUT/lenet5-fashion (validation tenth held out; LIMIT training images, DENSE_EPOCHS epochs) and
# named by SRC; a run that already has a checkpoint is reused.
NC=${NC:-build/neurocore}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-2}
DENSE_EPOCHS=${DENSE_EPOCHS:-3}
LIMIT=${LIMIT:-20000}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
SRC="$OUT/lenet5-fashion"
if [ ! -d "$SRC/checkpoints" ] || [ -z "$(ls -A "$SRC/checkpoints")" ]; then
  rm -rf "$SRC"
  "$NC" train configs/lenet5-fashion.yaml --set threads=1 \
    --set data.validation=true --set data.limit_train="$LIMIT" --set train.epochs="$DENSE_EPOCHS" \
    --set runs_dir="$OUT" --set name=lenet5-fashion
fi
