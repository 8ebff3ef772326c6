#!/usr/bin/env bash
# Measures the floor of every regression figure (tests/regression/figures.yaml, issue #21):
# each figure's reduced run over SEEDS seeds (one thread per run, JOBS at a time) by
# `neurocore sweep`, then writes tests/regression/floors.json (read by the Regression tests)
# and docs/results/regression.md. Floor = mean - max(3 std, margin) (higher is better), or
# mean + max(3 std, margin) (lower is better): the guard fails on a change that moves seed 1
# past what 5 seeds' spread explains, not on noise.
#
#   scripts/reproduce/regression-floors.sh OUT [SEEDS] [JOBS]
#   e.g. scripts/reproduce/regression-floors.sh /tmp/floors 5 2
set -euo pipefail
OUT=${1:?output folder}
SEEDS=${2:-5}
JOBS=${3:-1}
NC=${NC:-build/neurocore}
FIGS=tests/regression/figures.yaml
mkdir -p "$OUT"
# One line per figure: name|command|config|set1;set2;...
python3 - "$FIGS" > "$OUT/figures.txt" <<'PY'
import sys, yaml
for f in yaml.safe_load(open(sys.argv[1]))["figures"]:
    print("|".join([f["name"], f["command"], f["config"], ";".join(f["set"])]))
PY
while IFS='|' read -r name command config sets; do
  args=()
  IFS=';' read -ra setlist <<< "$sets"
  for s in "${setlist[@]}"; do [ -n "$s" ] && args+=(--set "$s"); done
  echo "== $name"
  "$NC" --log-level warn sweep "$config" --command "$command" --seeds "$SEEDS" --jobs "$JOBS" \
    --set threads=1 "${args[@]}" --out "$OUT/$name"
done < "$OUT/figures.txt"
python3 scripts/reproduce/regression_floors.py "$FIGS" "$OUT" tests/regression/floors.json \
  docs/results/regression.md
