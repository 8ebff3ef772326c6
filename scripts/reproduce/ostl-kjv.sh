#!/usr/bin/env bash
# OSTL versus truncated BPTT on character-level language modelling of the King James Bible
# (issue #3, docs/results/ostl.md): configs/lm-kjv-ssnu.yaml and configs/lm-kjv-lstm.yaml,
# each trained by both rules with the same seed, then a table of test bits per character.
#
#   scripts/reproduce/ostl-kjv.sh OUT [SEEDS] [EXTRA --set ARGS...]
#   e.g. scripts/reproduce/ostl-kjv.sh /tmp/ostl-kjv "1"
#   CELLS="ssnu" scripts/reproduce/ostl-kjv.sh /tmp/ostl-kjv "2 3"   (only the sSNU runs)
set -euo pipefail
OUT=${1:?output folder}
SEEDS=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
NC=${NC:-build/neurocore}
mkdir -p "$OUT"
for S in $SEEDS; do
  for CELL in ${CELLS:-ssnu lstm}; do
    for RULE in bptt ostl; do
      name="$CELL-$RULE-s$S"
      [ -f "$OUT/runs/$name/report.md" ] && continue
      rm -rf "$OUT/runs/$name"
      "$NC" --log-level warn lm "configs/lm-kjv-$CELL.yaml" --set runs_dir="$OUT/runs" \
        --set name="$name" --set learn.rule="$RULE" --set seed="$S" --set threads=1 "$@" \
        > "$OUT/$name.log" 2>&1 || echo "run $name failed: $(tail -n 1 "$OUT/$name.log")"
      echo "done $name"
    done
  done
done
python3 - "$OUT" <<'PY'
import json, os, subprocess, sys
out = sys.argv[1]
print("| run | train chars | test bpc | valid bpc | train bpc | train time (s) | chars/s | OSTL carried bytes |")
print("|---|---|---|---|---|---|---|---|")
for r in sorted(os.listdir(os.path.join(out, "runs"))):
    path = os.path.join(out, "runs", r, "metrics.jsonl")
    recs = [json.loads(l) for l in open(path)] if os.path.exists(path) else []
    tests = [x for x in recs if x["kind"] == "test"]
    if not tests:
        continue  # unfinished
    t = tests[-1]
    chars = max(x["chars"] for x in recs if x["kind"] == "valid")
    print(f"| {r} | {chars} | {t['test_bpc']:.4f} | {t['valid_bpc']:.4f} | {t['train_bpc']:.4f} | "
          f"{t['train_time_s']:.0f} | {t['chars_per_s']:.0f} | {t.get('ostl_carried_bytes', '')} |")
    with open(os.path.join(out, r + ".dat"), "w") as f:
        for x in recs:
            if x["kind"] == "valid":
                f.write(f"{x['chars']} {x['valid_bpc']}\n")
# Validation bpc against characters seen, the first seed's runs of each cell.
curves = sorted(r[:-4] for r in os.listdir(out) if r.endswith("-s1.dat"))
plots = ", ".join(f"'{out}/{c}.dat' u 1:2 w lp t '{c[:-3]}'" for c in curves)
gp = f"""set terminal svg size 700,420 dynamic font 'sans,11'
set output '{out}/ostl-kjv.svg'
set title 'KJV character LM: validation bits per character'
set xlabel 'training characters seen'
set ylabel 'valid bpc'
set grid
plot {plots}
"""
if curves:
    subprocess.run(["gnuplot"], input=gp.encode(), check=True)
PY
