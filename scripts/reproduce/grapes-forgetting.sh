#!/usr/bin/env bash
# Catastrophic forgetting with and without GRAPES (issue #4, docs/results/grapes.md):
# `neurocore continual` on 5 permuted-pixel tasks for each seed and method, then a summary.
#
#   scripts/reproduce/grapes-forgetting.sh DATASET OUT [SEEDS] [EXTRA --set ARGS...]
#   e.g. scripts/reproduce/grapes-forgetting.sh mnist-10k /tmp/forget-mnist10k "1 2 3"
set -euo pipefail
DATASET=${1:?dataset (mnist-10k or fashion-mnist)}
OUT=${2:?output folder}
SEEDS=${3:-"1 2 3"}
shift $(( $# < 3 ? $# : 3 ))
NC=${NC:-build/neurocore}
mkdir -p "$OUT"
for S in $SEEDS; do
  for MOD in none grapes; do
    name="$MOD-s$S"
    if [ -f "$OUT/runs/$name/report.md" ]; then continue; fi
    rm -rf "$OUT/runs/$name"
    "$NC" --log-level warn continual configs/continual-mnist10k.yaml --set runs_dir="$OUT/runs" \
      --set name="$name" --set data.name="$DATASET" --set learn.modulation="$MOD" \
      --set seed="$S" "$@" > "$OUT/$name.log" 2>&1
    echo "done $name"
  done
done
python3 - "$OUT" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
runs = sorted(os.listdir(os.path.join(out, "runs")))
res = {}
for r in runs:
    mod, seed = r.rsplit("-s", 1)
    with open(os.path.join(out, "runs", r, "continual.json")) as f:
        res.setdefault(mod, []).append(json.load(f))
def ms(xs):
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"
tasks = res["none"][0]["tasks"]
print(f"Average test accuracy over the tasks seen so far (mean ± std over {len(res['none'])} seeds):\n")
print("| method | " + " | ".join(f"after task {k+1}" for k in range(tasks)) + " | task 1 after task %d |" % tasks)
print("|" + "---|" * (tasks + 2))
for mod in ("none", "grapes"):
    cells = [ms([j["average_seen"][k] for j in res[mod]]) for k in range(tasks)]
    first = ms([j["accuracy"][tasks - 1][0] for j in res[mod]])
    print(f"| {'SGD + GRAPES' if mod == 'grapes' else 'SGD'} | " + " | ".join(cells) + f" | {first} |")
PY
