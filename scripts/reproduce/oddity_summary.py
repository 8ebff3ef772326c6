#!/usr/bin/env python3
"""Tables of docs/results/oddity.md from the runs of scripts/reproduce/oddity-train.sh.

    python3 scripts/reproduce/oddity_summary.py OUT [HUMAN_CSV] > docs/results/oddity-table.md

HUMAN_CSV (optional): lines "riddle_id,percent_correct" (a header line is skipped), the human
baseline digitised from Dehaene et al. 2006, Fig. 2 (spec §0); it adds a column to the per-riddle
table. None is shipped: this session could not digitise the figure.

Per model (oren, snu-saccade, snu-saccade-matched) over seeds: the last epoch's test and valid
accuracy (mean +- sample sd; no epoch is selected), the first epoch whose valid accuracy reaches
50 %, the epoch time; the valid accuracy per epoch (learning curves); the test accuracy per
riddle after the last epoch (the trainer's "riddles" record).
"""
import glob
import json
import os
import re
import statistics
import sys

MODELS = ["oren", "snu-saccade", "snu-saccade-matched"]
NAMES = ("color orientation straight_line curve_line point_on_line point_on_extension parallel_lines "
         "secant_lines right_angle_cross right_angle_half quadrilateral trapezoid parallelogram rectangle "
         "square equilateral_triangle right_triangle circle convex_shape symmetry_vertical "
         "symmetry_horizontal symmetry_oblique chiral_circle_vertical chiral_flag_vertical "
         "chiral_circle_oblique chiral_flag_oblique distance equidistance increasing_distance "
         "circle_centre quadrilateral_centre segment_middle fixed_proportion translation "
         "homothecy_orientation homothecy_size pair_symmetry_horizontal pair_symmetry_vertical "
         "pair_symmetry_oblique point_symmetry rotation inside closure connectedness holes").split()


def ms(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def load(out):
    runs = {}
    for path in sorted(glob.glob(os.path.join(out, "runs", "*", "metrics.jsonl"))):
        name = os.path.basename(os.path.dirname(path))
        m = re.match(r"(.+)-s(\d+)$", name)
        if not m:
            continue
        records = [json.loads(line) for line in open(path) if line.strip()]
        epochs = [r for r in records if r.get("kind") == "epoch"]
        riddles = [r for r in records if r.get("kind") == "riddles"]
        params = None
        report = os.path.join(os.path.dirname(path), "report.md")
        if os.path.exists(report):
            pm = re.search(r"\((\d+) trainable parameters\)", open(report).read())
            params = int(pm.group(1)) if pm else None
        runs.setdefault(m.group(1), []).append(
            {"seed": int(m.group(2)), "epochs": epochs, "riddles": riddles[-1]["riddle_test_acc"] if riddles else None,
             "params": params})
    return runs


def main():
    out = sys.argv[1]
    runs = load(out)
    commit = open(os.path.join(out, "commit.txt")).read().strip()
    budget = open(os.path.join(out, "budget.txt")).read().strip() if os.path.exists(os.path.join(out, "budget.txt")) else ""
    print(f"Runs of commit {commit} (scripts/reproduce/oddity-train.sh; {budget}); mean ± sd over seeds.\n")
    print("| model | parameters | seeds | epochs | test acc % (last epoch) | valid acc % (last epoch) | first epoch with valid ≥ 50 % | s / epoch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model in MODELS:
        rs = runs.get(model, [])
        if not rs:
            continue
        n_ep = min(len(r["epochs"]) for r in rs)
        reach = []
        for r in rs:
            hit = [e["epoch"] for e in r["epochs"] if e.get("valid_acc", 0) >= 50]
            reach.append(hit[0] if hit else None)
        reach_text = ms(reach) if all(x is not None for x in reach) else f"{sum(x is not None for x in reach)}/{len(reach)} runs reach it"
        print(f"| {model} | {rs[0]['params']} | {len(rs)} | {n_ep} | {ms([r['epochs'][n_ep - 1]['test_acc'] for r in rs])} | "
              f"{ms([r['epochs'][n_ep - 1].get('valid_acc') for r in rs])} | {reach_text} | "
              f"{ms([statistics.mean(e['epoch_time_s'] for e in r['epochs']) for r in rs])} |")
    print("\nValid accuracy % per epoch (learning curves):\n")
    present = [m for m in MODELS if m in runs]
    print("| epoch | " + " | ".join(present) + " |")
    print("|---:|" + "---:|" * len(present))
    n_max = max(len(r["epochs"]) for m in present for r in runs[m])
    for e in range(n_max):
        cells = [ms([r["epochs"][e].get("valid_acc") for r in runs[m] if len(r["epochs"]) > e]) for m in present]
        print(f"| {e + 1} | " + " | ".join(cells) + " |")
    human = {}
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            parts = line.strip().split(",")
            if len(parts) >= 2 and parts[0].strip().isdigit():
                human[int(parts[0])] = float(parts[1])
    note = "human: " + sys.argv[2] if human else "human baseline: not digitised, see the text"
    print(f"\nTest accuracy % per riddle after the last epoch (chance 16.7 %; {note}):\n")
    print("| id | riddle | " + " | ".join(present) + (" | human |" if human else " |"))
    print("|---:|---|" + "---:|" * (len(present) + (1 if human else 0)))
    for i, name in enumerate(NAMES):
        cells = [ms([r["riddles"][i] for r in runs[m] if r["riddles"]]) for m in present]
        if all(c == "-" for c in cells):
            continue  # a riddle outside the runs' subset
        if human:
            cells.append(f"{human[i]:.0f}" if i in human else "-")
        print(f"| {i} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
