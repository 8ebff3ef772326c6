#!/usr/bin/env python3
"""Tables of docs/results/asr.md ("Learning rate on the validation split") from asr-digits-lr.sh.

usage: asr_digits_lr_table.py OUT              the tables (markdown)
       asr_digits_lr_table.py OUT --best UNIT  the learning rate chosen for UNIT (lowest valid CER)
OUT/lr-sweep: unit x learning rate, seed 1; OUT/final-UNIT: seeds 2 and 3 at UNIT's chosen rate.
The 3-seed rows join seed 1 of the selection sweep to those two (the same configuration).
"""
import json
import os
import sys

from asr_sweep_util import done_runs, ms, short


def load(path):
    if not os.path.exists(path):
        sys.exit(f"{path}: not found (run scripts/reproduce/asr-digits-lr.sh first)")
    return json.load(open(path))


def best(sweep, unit):
    cands = [s for s in sweep["settings"] if s["overrides"]["model.unit"] == unit and done_runs(s)]
    if not cands:
        sys.exit(f"no finished run of unit '{unit}' in the learning-rate sweep")
    return min(cands, key=lambda s: s["metrics"]["valid_cer"]["mean"])


out = sys.argv[1]
sweep = load(os.path.join(out, "lr-sweep", "sweep.json"))
if len(sys.argv) == 4 and sys.argv[2] == "--best":
    print(best(sweep, sys.argv[3])["overrides"]["train.learning_rate"])
    sys.exit(0)

units = sorted({s["overrides"]["model.unit"] for s in sweep["settings"]})
print(f"Learning rate on the validation split (seed 1; every run: --set {' --set '.join(sweep['set'])}; "
      f"commit {short(sweep['commits'])}):\n")
print("| unit | learning rate | valid CER | valid WER | train loss | train s | chosen |")
print("|---|---|---|---|---|---|---|")
for u in units:
    chosen = best(sweep, u)
    for s in sweep["settings"]:
        if s["overrides"]["model.unit"] != u or not done_runs(s):
            continue
        f = done_runs(s)[0]["final"]
        print(f"| {u} | {s['overrides']['train.learning_rate']} | {f['valid_cer']:.3f} | {f['valid_wer']:.3f} | "
              f"{f['train_loss']:.3f} | {f['train_seconds']:.0f} | {'**yes**' if s is chosen else ''} |")

print("\nEach unit at its chosen rate, 3 seeds (seed 1 from the selection sweep; greedy decoding; "
      "test reported once):\n")
print("| unit | learning rate | seeds | valid CER | test CER | test WER | train loss | encoder params | "
      "MACs / s audio | compute ms / frame | commit |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for u in units:
    chosen = best(sweep, u)
    runs = list(done_runs(chosen))
    final = os.path.join(out, f"final-{u}", "sweep.json")
    if os.path.exists(final):
        for s in json.load(open(final))["settings"]:
            runs += done_runs(s)
    fin = [r["final"] for r in runs]
    print(f"| {u} | {chosen['overrides']['train.learning_rate']} | {len(fin)} | {ms([x['valid_cer'] for x in fin])} | "
          f"{ms([x['test_cer'] for x in fin])} | {ms([x['test_wer'] for x in fin])} | "
          f"{ms([x['train_loss'] for x in fin])} | {fin[0]['encoder_parameters']:.0f} | "
          f"{fin[0]['macs_per_audio_second']:.3g} | {ms([x['latency_ms_per_frame_compute'] for x in fin])} | "
          f"{short(r['commit'] for r in runs)} |")
