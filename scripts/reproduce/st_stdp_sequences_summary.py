#!/usr/bin/env python3
"""Tables for the sequence baselines of docs/results/st-stdp.md, from the runs of
scripts/reproduce/st-stdp-sequences.sh (named <model>-lr<rate>-s<seed>).

  python3 scripts/reproduce/st_stdp_sequences_summary.py OUT             the tables
  python3 scripts/reproduce/st_stdp_sequences_summary.py OUT --best rnn  the chosen rate

Each run's last epoch record of metrics.jsonl: valid_step_acc and test_step_acc are frame
accuracies (every frame of every video scored by the output at its step). A model's rate is
the one with the highest valid_step_acc at seed 1; the table gives that rate's test frame
accuracy, mean and sample standard deviation over the seeds run. The commit is the binary's, from
each run's provenance.json (runs older than provenance.json: HEAD's, marked as such).
"""
import json
import pathlib
import re
import statistics
import subprocess
import sys
from collections import defaultdict

NAMES = {"rnn": "RNN (Elman tanh, 128)", "lstm": "LSTM (128)", "snu": "SNU (128 units, linear readout)"}


def mean_std(xs):
    if len(xs) == 1:
        return f"{xs[0]:.2f} (1 seed)"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def run_commits(out):
    """The build commits named by the runs' provenance.json files (short hashes)."""
    commits = set()
    for p in out.glob("*/provenance.json"):
        commits.add(json.loads(p.read_text())["commit"][:7])
    return sorted(commits)


def load(out):
    runs = defaultdict(dict)  # (model, lr) -> seed -> last epoch record
    for run in sorted(out.iterdir()):
        m = re.fullmatch(r"(\w+)-lr([0-9.e-]+)-s(\d+)", run.name)
        if not m or not (run / "report.md").exists():
            continue
        records = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
        epochs = [r for r in records if r.get("kind") == "epoch"]
        if epochs:
            runs[(m.group(1), m.group(2))][int(m.group(3))] = epochs[-1]
    return runs


def best(runs, model):
    cands = [(r[1]["valid_step_acc"], lr) for (m, lr), r in runs.items() if m == model and 1 in r]
    if not cands:
        sys.exit(f"no seed-1 run of {model}: run the select stage first")
    return max(cands)[1]


def main():
    out = pathlib.Path(sys.argv[1])
    runs = load(out)
    if len(sys.argv) > 3 and sys.argv[2] == "--best":
        print(best(runs, sys.argv[3]))
        return
    commits = run_commits(out)
    if commits:
        print(f"Binary of commit {', '.join(commits)} (the runs' provenance.json); runs in {out}.\n")
    else:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(f"Commit {commit} (HEAD's: these runs predate provenance.json); runs in {out}.\n")
    print("**Sequence baselines on the validation videos** (seed 1, frame accuracy %, last epoch; "
          "each model's rate is the one with the highest valid frame accuracy)\n")
    print("| model | learning rate | epochs | valid frames | chosen |")
    print("|---|---|---|---|---|")
    models = sorted({m for m, _ in runs}, key=lambda m: list(NAMES).index(m) if m in NAMES else 99)
    for (m, lr), r in sorted(runs.items(), key=lambda kv: (models.index(kv[0][0]), float(kv[0][1]))):
        if 1 in r:
            chosen = "**yes**" if lr == best(runs, m) else ""
            print(f"| {m} | {lr} | {r[1]['epoch']} | {r[1]['valid_step_acc']:.2f} | {chosen} |")
    print("\n| method | trained on | frame accuracy (%), silent = wrong | silent frames (%) | accuracy (%), silent = previous prediction | seeds |")
    print("|---|---|---|---|---|---|")
    for m in models:
        lr = best(runs, m)
        rs = list(runs[(m, lr)].values())
        print(f"| {NAMES.get(m, m)} over the frames, backprop (lr {lr}) | OMNIST-train videos, {rs[0]['epoch']} epochs | "
              f"{mean_std([r['test_step_acc'] for r in rs])} | - | - | {len(rs)} |")


if __name__ == "__main__":
    main()
