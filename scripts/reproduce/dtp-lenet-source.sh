# Sourced by the LeNet-5 DTP scripts: trains their shared dense source run once into
# $OUT/lenet5-fashion (validation tenth held out; $LIMIT training images, $DENSE_EPOCHS epochs)
# and sets SRC to it; a run that already has a checkpoint is reused.
SRC="$OUT/lenet5-fashion"
if [ ! -d "$SRC/checkpoints" ] || [ -z "$(ls -A "$SRC/checkpoints")" ]; then
  rm -rf "$SRC"
  nice -n 10 "$NC" train configs/lenet5-fashion.yaml --set threads=1 \
    --set data.validation=true --set data.limit_train="$LIMIT" --set train.epochs="$DENSE_EPOCHS" \
    --set runs_dir="$OUT" --set name=lenet5-fashion
fi
