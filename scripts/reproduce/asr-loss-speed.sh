#!/usr/bin/env bash
# RNN-T loss speed against torchaudio 0.13 (docs/results/asr.md, issue #25): the same random
# float32 inputs, the same machine and thread count, loss + gradient per batch at B=16, T=200,
# U=30 and V=30 / 500. torchaudio is a benchmark-only dependency, installed here.
# Usage: scripts/reproduce/asr-loss-speed.sh [BUILD_DIR] [THREADS]   (prints a Markdown table)
set -euo pipefail
BUILD=${1:-build}
THREADS=${2:-1}
REPS=${REPS:-5}
if ! python3 -c "import torchaudio" 2>/dev/null; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-torchaudio
fi
cmake --build "$BUILD" -j1 --target nc_bench_rnnt_loss >/dev/null
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $THREADS thread(s), median of $REPS"
echo
echo "| B | T | U | V | neurocore ms | torchaudio ms | loss max rel diff | grad max abs diff |"
echo "|---|---|---|---|---|---|---|---|"
for V in 30 500; do
  "$BUILD/bench/nc_bench_rnnt_loss" 16 200 30 "$V" "$REPS" "$THREADS" "$TMP/v$V" >/dev/null
  python3 "$(dirname "$0")/asr_loss_torchaudio.py" "$TMP/v$V" "$REPS" "$THREADS" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print(f"| {r[\"B\"]} | {r[\"T\"]} | {r[\"U\"]} | {r[\"V\"]} | {r[\"neurocore_median_ms\"]:.1f} | "
      f"{r[\"torchaudio_median_ms\"]:.1f} | {r[\"loss_max_rel_diff\"]:.1e} | {r[\"grad_max_abs_diff\"]:.1e} |")'
done
