#!/usr/bin/env bash
# RNN-T loss speed against torchaudio 0.13 (docs/results/asr.md, issue #25): the same random
# float32 inputs, the same machine and thread count, loss + gradient per batch at B=16, T=200,
# U=30 and V=30 / 500. torchaudio is a benchmark-only dependency, installed here.
# Usage: scripts/reproduce/asr-loss-speed.sh [BUILD_DIR] [THREADS]   (prints a Markdown table)
set -euo pipefail
BUILD=${1:-build}
THREADS=${2:-1}
REPS=${REPS:-5}
PY=${PYTHON:-/usr/bin/python3}  # Debian's python, where python3-torchaudio lives
if ! "$PY" -c "import torchaudio" 2>/dev/null; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-torchaudio
fi
cmake --build "$BUILD" -j1 --target nc_bench_rnnt_loss >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $THREADS thread(s), median of $REPS"
echo
echo "| B | T | U | V | neurocore ms | torchaudio ms | loss max rel diff | grad max abs diff | neurocore grad err vs float64 | torchaudio grad err vs float64 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for V in 30 500; do
  "$BUILD/bench/nc_bench_rnnt_loss" 16 200 30 "$V" "$REPS" "$THREADS" "$TMP/v$V" >/dev/null
  "$PY" "$(dirname "$0")/asr_loss_torchaudio.py" "$TMP/v$V" "$REPS" "$THREADS" --row
done
