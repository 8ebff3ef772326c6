#!/usr/bin/env python3
"""Tables of docs/results/asr.md ("Digits") from the sweeps of asr-digits.sh.

usage: asr_digits_table.py OUT
OUT/valid-sweep: normalisation x unit on the validation split (1 seed); OUT/final*: the chosen
setting with 3 seeds; OUT/final*/decode.jsonl: greedy vs beam 4 on valid and test of each run;
OUT/ssnu-lr (when present): an exploratory sSNU-AA learning-rate check, validation only.
The setting and the decoder are chosen per unit by the validation CER alone; the test numbers
of the decoder not chosen are shown too, marked as such.
"""
import glob
import json
import os
import statistics
import sys

from asr_sweep_util import ms, short

out = sys.argv[1]
v = json.load(open(os.path.join(out, "valid-sweep", "sweep.json")))
print(f"Normalisation on the validation split (1 seed; every run: --set {' --set '.join(v['set'])}; commit {short(v['commits'])}):\n")
print("| unit | normalisation | valid CER | valid WER | train loss | chosen |")
print("|---|---|---|---|---|---|")
units = sorted({s["overrides"]["model.unit"] for s in v["settings"]})
for u in units:
    cands = [s for s in v["settings"] if s["overrides"]["model.unit"] == u]
    best = min(cands, key=lambda s: s["metrics"]["valid_cer"]["mean"])
    for s in cands:
        m = s["metrics"]
        print(f"| {u} | {s['overrides']['data.normalization']} | {m['valid_cer']['mean']:.3f} | "
              f"{m['valid_wer']['mean']:.3f} | {m['train_loss']['mean']:.3f} | {'**yes**' if s is best else ''} |")

rows = []
decode = {}
for d in sorted(glob.glob(os.path.join(out, "final*", ""))):
    f = json.load(open(os.path.join(d, "sweep.json")))
    dec = os.path.join(d, "decode.jsonl")
    if os.path.exists(dec):
        for line in open(dec):
            r = json.loads(line)
            decode.setdefault(r["run"], []).append(r["result"])
    for s in f["settings"]:
        rows.append((s, f))

print("\nChosen setting, 3 seeds (greedy decoding, as trained):\n")
print("| unit | normalisation | seeds | valid CER | test CER | test WER | train loss | encoder params | MACs / s audio | compute ms / frame | commit |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for s, f in rows:
    runs = [r for r in s["runs"] if r["status"] == "done"]
    fin = [r["final"] for r in runs]
    if not fin:
        continue
    norm = next((a.split("=", 1)[1] for a in f["set"] if a.startswith("data.normalization=")), "global")
    print(f"| {s['overrides']['model.unit']} | {norm} | {len(fin)} | {ms([x['valid_cer'] for x in fin])} | "
          f"{ms([x['test_cer'] for x in fin])} | {ms([x['test_wer'] for x in fin])} | "
          f"{ms([x['train_loss'] for x in fin])} | {fin[0]['encoder_parameters']:.0f} | "
          f"{fin[0]['macs_per_audio_second']:.3g} | {ms([x['latency_ms_per_frame_compute'] for x in fin])} | "
          f"{short(r['commit'] for r in runs)} |")

if decode:
    print("\nDecoder chosen on the validation split (the runs above, no retraining; "
          "`neurocore transcribe RUN --split S --beam B`):\n")
    print("| unit | decoder (chosen on valid CER) | valid CER | valid WER | test CER | test WER |")
    print("|---|---|---|---|---|---|")
    for s, f in rows:
        names = [r["name"] for r in s["runs"] if r["status"] == "done" and r["name"] in decode]
        if not names:
            continue
        by = {}
        for n in names:
            for r in decode[n]:
                by.setdefault((r["decoder"], r["split"]), []).append(r)
        decoders = sorted({k[0] for k in by})
        best = min(decoders, key=lambda dd: statistics.mean(r["cer"] for r in by[(dd, "valid")]))
        for dd in decoders:
            val = by[(dd, "valid")]
            test = by.get((dd, "test"), [])
            chosen = dd == best
            tc = ms([r["cer"] for r in test]) if test else "-"
            tw = ms([r["wer"] for r in test]) if test else "-"
            print(f"| {s['overrides']['model.unit']} | {dd}{' **chosen**' if chosen else ''} | "
                  f"{ms([r['cer'] for r in val])} | {ms([r['wer'] for r in val])} | {tc} | {tw} |")

lr_dir = os.path.join(out, "ssnu-lr", "sweep.json")
if os.path.exists(lr_dir):
    f = json.load(open(lr_dir))
    print(f"\nExploratory, validation split only: sSNU-AA learning rate (1 seed, 10 epochs, "
          f"utterance normalisation; commit {short(f['commits'])}; the 3-seed row above used 0.002):\n")
    print("| learning rate | valid CER | valid WER | train loss |")
    print("|---|---|---|---|")
    for st in f["settings"]:
        fin = [r["final"] for r in st["runs"] if r["status"] == "done"]
        if fin:
            print(f"| {st['overrides']['train.learning_rate']} | {ms([x['valid_cer'] for x in fin])} | "
                  f"{ms([x['valid_wer'] for x in fin])} | {ms([x['train_loss'] for x in fin])} |")
