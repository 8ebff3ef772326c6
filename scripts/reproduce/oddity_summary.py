#!/usr/bin/env python3
"""Tables of docs/results/oddity.md from the runs of scripts/reproduce/oddity-train.sh.

    python3 scripts/reproduce/oddity_summary.py OUT [HUMAN_CSV] > docs/results/oddity-table.md

HUMAN_CSV (optional): lines "riddle_id,percent_correct" (a header line is skipped), the human
baseline of Dehaene et al. 2006, Fig. 2 (spec §0); it adds a column to the per-riddle table and
bars to the per-riddle chart. None is shipped: no machine-readable copy of those per-test results
was found (docs/results/oddity.md says where this was looked for), and none is invented.

Per model (oren, snu-saccade, snu-saccade-matched) over seeds: the last epoch's test and valid
accuracy (mean +- sample sd; no epoch is selected), the first epoch whose valid accuracy reaches
50 %, the epoch time; the valid accuracy per epoch (learning curves); the test accuracy per
riddle after the last epoch (the trainer's "riddles" record), its mean over the riddles and the
number of riddles whose seed-mean accuracy is above chance by more than two binomial standard
errors of chance. With gnuplot installed it also writes OUT/oddity-curves.svg (valid accuracy per
epoch) and OUT/oddity-riddles.svg (test accuracy per riddle and model, with chance and, when
given, the human baseline).
"""
import glob
import json
import os
import math
import re
import shutil
import statistics
import subprocess
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
    plot_curves(out, runs, present)
    human = {}
    if len(sys.argv) > 2:
        for line in open(sys.argv[2]):
            parts = line.strip().split(",")
            if len(parts) >= 2 and parts[0].strip().isdigit():
                human[int(parts[0])] = float(parts[1])
    note = "human: " + sys.argv[2] if human else "no human baseline: none was found, see docs/results/oddity.md"
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
    # Over the riddles: the mean of the per-riddle seed means, and how many riddles are clearly
    # above chance (seed mean > 1/6 + 2 sqrt(p (1 - p) / n), n = that riddle's test samples
    # summed over the seeds: the binomial spread of a chance-level guesser).
    counts = riddle_counts(out)
    means, above = [], []
    for m in present:
        per = riddle_means(runs[m])
        means.append(f"{statistics.mean(v for v in per.values()):.1f}" if per else "-")
        hits = 0
        for i, v in per.items():
            n = counts.get(i, 0) * sum(1 for r in runs[m] if r["riddles"])
            if n and v > 100 * (1 / 6 + 2 * math.sqrt((1 / 6) * (5 / 6) / n)):
                hits += 1
        above.append(f"{hits} of {len(per)}")
    print("| | mean over riddles | " + " | ".join(means) + (" | " + (f"{statistics.mean(human.values()):.0f}" if human else "") + " |" if human else " |"))
    print("| | riddles above chance (> 2 SE) | " + " | ".join(above) + (" | |" if human else " |"))
    plot_riddles(out, runs, present, human)


def riddle_means(rs):
    """{riddle id: mean over the seeds' last-epoch test accuracy} for the riddles present."""
    per = {}
    for i in range(len(NAMES)):
        vals = [r["riddles"][i] for r in rs if r["riddles"] and r["riddles"][i] is not None]
        if vals:
            per[i] = statistics.mean(vals)
    return per


def riddle_counts(out):
    """{riddle id: test samples of that riddle in one run}, from a run's riddle_accuracy.md."""
    counts = {}
    for path in sorted(glob.glob(os.path.join(out, "runs", "*", "riddle_accuracy.md")))[:1]:
        for line in open(path):
            m = re.match(r"\|\s*(\d+)\s*\|[^|]*\|\s*(\d+)\s*\|", line)
            if m:
                counts[int(m.group(1))] = int(m.group(2))
    return counts


def gnuplot(script):
    if shutil.which("gnuplot"):
        subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot_curves(out, runs, present):
    """OUT/oddity-curves.svg: valid accuracy per epoch, mean over seeds, one line per model."""
    dat = os.path.join(out, "oddity-curves.dat")
    with open(dat, "w") as f:
        for m in present:
            f.write(f'"{m}"\n')
            n_max = max(len(r["epochs"]) for r in runs[m])
            for e in range(n_max):
                vals = [r["epochs"][e].get("valid_acc") for r in runs[m] if len(r["epochs"]) > e]
                f.write(f"{e + 1} {statistics.mean(vals)}\n")
            f.write("\n\n")
    gnuplot(f"""
set terminal svg size 640,420 dynamic
set output '{os.path.join(out, "oddity-curves.svg")}'
set title 'oddity: valid accuracy per epoch (mean over seeds)'
set xlabel 'epoch'
set ylabel 'valid accuracy (%)'
set key top left
set grid
plot for [i=0:{len(present) - 1}] '{dat}' index i using 1:2 with linespoints title columnheader(1), \\
     100.0/6 with lines dashtype 2 title 'chance'
""")


def plot_riddles(out, runs, present, human):
    """OUT/oddity-riddles.svg: test accuracy per riddle, one bar per model (and human)."""
    dat = os.path.join(out, "oddity-riddles.dat")
    cols = present + (["human"] if human else [])
    means = {m: riddle_means(runs[m]) for m in present}
    with open(dat, "w") as f:
        f.write("id " + " ".join(cols) + "\n")
        for i in range(len(NAMES)):
            if not any(i in means[m] for m in present):
                continue
            vals = [means[m].get(i, float("nan")) for m in present] + ([human.get(i, float("nan"))] if human else [])
            f.write(f"{i} " + " ".join(f"{v:.2f}" for v in vals) + "\n")
    gnuplot(f"""
set terminal svg size 1200,420 dynamic
set output '{os.path.join(out, "oddity-riddles.svg")}'
set title 'oddity: test accuracy per riddle after the last epoch (mean over seeds)'
set xlabel 'riddle id'
set ylabel 'test accuracy (%)'
set yrange [0:100]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 noborder
set key top right
set grid ytics
plot for [c=2:{len(cols) + 1}] '{dat}' using c:xtic(1) title columnheader(c), \\
     100.0/6 with lines dashtype 2 lc rgb 'black' title 'chance'
""")


if __name__ == "__main__":
    main()
