#!/usr/bin/env python3
"""Tables of docs/results/asr.md ("Learning rate on the validation split") from asr-digits-lr.sh.

usage: asr_digits_lr_table.py OUT                       the tables (markdown)
       asr_digits_lr_table.py OUT --best UNIT           the learning rate chosen for UNIT (lowest valid CER)
       asr_digits_lr_table.py OUT --augment-chosen UNIT true if SpecAugment was chosen for UNIT, else false
OUT/lr-sweep: unit x learning rate, seed 1; OUT/final-UNIT: seeds 2 and 3 at UNIT's chosen rate.
The 3-seed rows join seed 1 of the selection sweep to those two (the same configuration).
OUT/augment-UNIT (seed 1) and OUT/augment-final-UNIT (seeds 2, 3): the same with
train.spec_augment=true (scripts/reproduce/asr-digits-augment.sh); per unit, with or without it
is chosen by the mean validation CER over the 3 seeds. OUT/more-UNIT (when present): seeds 4 and 5
of UNIT's chosen setting, added after the choice to narrow the comparison (they choose nothing).
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


def sweep_runs(folder):
    """The finished runs of every setting of the sweep OUT/folder (none when it is absent)."""
    path = os.path.join(out, folder, "sweep.json")
    if not os.path.exists(path):
        return []
    return [r for s in json.load(open(path))["settings"] for r in done_runs(s)]


def plain_runs(unit):
    """unit at its chosen rate without augmentation: seed 1 of the selection sweep, seeds 2 and 3."""
    return done_runs(best(sweep, unit)) + sweep_runs(f"final-{unit}")


def augment_runs(unit):
    """unit at its chosen rate with SpecAugment: seed 1, seeds 2 and 3."""
    return sweep_runs(f"augment-{unit}") + sweep_runs(f"augment-final-{unit}")


def mean_valid(runs):
    return sum(r["final"]["valid_cer"] for r in runs) / len(runs)


def augment_chosen(unit):
    """SpecAugment is chosen for unit when its 3-seed mean validation CER is lower."""
    aug = augment_runs(unit)
    return bool(aug) and mean_valid(aug) < mean_valid(plain_runs(unit))


def chosen_runs(unit):
    """The runs of unit's chosen setting (rate, then augmentation), 3 seeds."""
    return augment_runs(unit) if augment_chosen(unit) else plain_runs(unit)


def row(unit, label, lr, runs):
    fin = [r["final"] for r in runs]
    print(f"| {unit} | {label} | {lr} | {len(fin)} | {ms([x['valid_cer'] for x in fin])} | "
          f"{ms([x['test_cer'] for x in fin])} | {ms([x['test_wer'] for x in fin])} | "
          f"{ms([x['train_loss'] for x in fin])} | {fin[0]['encoder_parameters']:.0f} | "
          f"{fin[0]['macs_per_audio_second']:.3g} | {ms([x['latency_ms_per_frame_compute'] for x in fin])} | "
          f"{short(r['commit'] for r in runs)} |")


HEADER = ("| unit | augmentation | learning rate | seeds | valid CER | test CER | test WER | train loss | "
          "encoder params | MACs / s audio | compute ms / frame | commit |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")

out = sys.argv[1]
sweep = load(os.path.join(out, "lr-sweep", "sweep.json"))
if len(sys.argv) == 4 and sys.argv[2] == "--best":
    print(best(sweep, sys.argv[3])["overrides"]["train.learning_rate"])
    sys.exit(0)

if len(sys.argv) == 4 and sys.argv[2] == "--augment-chosen":
    print("true" if augment_chosen(sys.argv[3]) else "false")
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
      "test reported once for the setting chosen on validation):\n")
print(HEADER)
for u in units:
    row(u, "none", best(sweep, u)["overrides"]["train.learning_rate"], plain_runs(u))

if any(augment_runs(u) for u in units):
    print("\nSpecAugment (`train.spec_augment=true`) at each unit's chosen rate, 3 seeds each; per unit the "
          "setting with the lower mean validation CER is **chosen**, and its test columns are the result "
          "(the other row's test columns are shown, not used):\n")
    print(HEADER.replace("| unit | augmentation |", "| unit | augmentation (chosen on valid CER) |"))
    for u in [u for u in units if augment_runs(u)]:
        lr = best(sweep, u)["overrides"]["train.learning_rate"]
        aug_wins = augment_chosen(u)
        row(u, "none" + ("" if aug_wins else " **chosen**"), lr, plain_runs(u))
        row(u, "SpecAugment" + (" **chosen**" if aug_wins else ""), lr, augment_runs(u))

if any(sweep_runs(f"more-{u}") for u in units):
    print("\nThe chosen settings with seeds 4 and 5 added (the same configurations; 5 seeds):\n")
    print(HEADER)
    for u in [u for u in units if sweep_runs(f"more-{u}")]:
        row(u, "SpecAugment" if augment_chosen(u) else "none", best(sweep, u)["overrides"]["train.learning_rate"],
            chosen_runs(u) + sweep_runs(f"more-{u}"))
