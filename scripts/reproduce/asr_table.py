#!/usr/bin/env python3
"""Tables of docs/results/asr.md from the runs of asr-headline.sh: one row per (task, unit,
width, direction) with test CER and WER (mean +- sd over seeds), encoder parameters, MACs per
second of audio and compute latency per frame. Usage: asr_table.py RUNS_DIR"""
import json
import os
import re
import statistics
import sys

runs = sys.argv[1]
rows = {}
for name in sorted(os.listdir(runs)):
    metrics = os.path.join(runs, name, "metrics.jsonl")
    if not os.path.isfile(metrics):
        continue
    recs = [json.loads(line) for line in open(metrics) if line.strip()]
    test = [r for r in recs if r.get("kind") == "test"]
    if not test:
        continue
    key = re.sub(r"-s[0-9]+$", "", name)  # seeds of one setting share a row
    rows.setdefault(key, []).append((test[-1], [r for r in recs if r.get("kind") == "epoch"]))


def fmt(xs):
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def lat(r):
    x = r.get("latency_ms_per_frame_compute")
    return "whole utterance" if x is None else f"{x:.3f}"


print("| run | seeds | test CER | test WER | best valid CER | encoder params | MACs / s audio | compute ms / frame |")
print("|---|---|---|---|---|---|---|---|")
for key, rs in rows.items():
    t = [r[0] for r in rs]
    best_valid = [min(e["valid_cer"] for e in r[1]) for r in rs if r[1]]
    print(f"| {key} | {len(t)} | {fmt([x['test_cer'] for x in t])} | {fmt([x['test_wer'] for x in t])} | "
          f"{fmt(best_valid) if best_valid else '-'} | {t[0]['encoder_parameters']} | "
          f"{t[0]['macs_per_audio_second']:.3g} | {lat(t[0])} |")
