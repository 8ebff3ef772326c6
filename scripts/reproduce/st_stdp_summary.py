#!/usr/bin/env python3
"""Tables for docs/results/st-stdp.md from the runs of scripts/reproduce/st-stdp.sh.

  python3 scripts/reproduce/st_stdp_summary.py OUT

SNN runs (snn-*): results.json (frame accuracy with and without F, by occluder size, speed).
Baselines (<model>-s<seed>): the last epoch record of metrics.jsonl (test_acc = frame accuracy
on the test videos). Mean and sample standard deviation over seeds. The commit is HEAD's, with
"+dirty" when the tree has changes.
"""
import json
import pathlib
import statistics
import subprocess
import sys

import yaml
from collections import defaultdict


def mean_std(xs):
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.2f} (1 seed)"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def main():
    out = pathlib.Path(sys.argv[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    snn = defaultdict(list)  # group -> results
    ann = defaultdict(list)
    for run in sorted(out.iterdir()):
        if not (run / "report.md").exists():
            continue
        group = run.name.rsplit("-s", 1)[0] if not run.name.startswith("valid-") else run.name
        if (run / "results.json").exists():
            snn[group].append(json.loads((run / "results.json").read_text()))
        elif (run / "metrics.jsonl").exists():
            epochs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if '"epoch"' in l]
            # report.md is rewritten every epoch: only a run that reached its last epoch counts.
            planned = yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"]
            if epochs and epochs[-1]["epoch"] == planned:
                ann[group].append(epochs[-1])
    print(f"Commit {commit}{'+dirty' if dirty else ''}; runs in {out}.\n")
    # OFMNIST runs (data.omnist.source: fashion-mnist) are labelled as such.
    configs = [r / "config.yaml" for r in out.iterdir() if (r / "config.yaml").exists()]
    videos = "OFMNIST" if any("source: fashion-mnist" in c.read_text() for c in configs) else "OMNIST"
    valid = {g: rs for g, rs in snn.items() if g.startswith("valid-")}
    snn = {g: rs for g, rs in snn.items() if not g.startswith("valid-")}
    if valid:
        print("**Selection on the validation videos** (seed 1; frame accuracy %, silent frames count as wrong)\n")
        print("| run | delta_a | gamma | tau_f (ms) | videos | with F | without F | silent with F | silent without F |")
        print("|---|---|---|---|---|---|---|---|---|")
        for g, rs in sorted(valid.items(), key=lambda kv: -kv[1][0]["acc_f"]):
            r = rs[0]
            _, da, gm, tf = g.split("-")
            print(f"| {g} | {da[2:]} | {gm[1:]} | {tf[2:]} | {r['videos']} | {r['acc_f']:.2f} | {r['acc_no_f']:.2f} | {r['silent_f']:.1f} | {r['silent_no_f']:.1f} |")
        print()
    print("| method | trained on | frame accuracy (%), silent = wrong | silent frames (%) | accuracy (%), silent = previous prediction | seeds |")
    print("|---|---|---|---|---|---|")
    for g, rs in snn.items():
        split = rs[0]["split"]
        kind = rs[0].get("neuron", "current")
        n = f"{rs[0]['neurons']} {'conductance-based ' if kind == 'conductance' else ''}neurons, {rs[0]['still_images']} still images, unsupervised"
        if split != "test":
            n += f"; {split} split, {rs[0]['videos']} videos"
        print(f"| SNN {g} + ST-STDP (F) | {n} | {mean_std([r['acc_f'] for r in rs])} | {mean_std([r['silent_f'] for r in rs])} | {mean_std([r['acc_f_carry'] for r in rs])} | {len(rs)} |")
        print(f"| SNN {g} without F | {n} | {mean_std([r['acc_no_f'] for r in rs])} | {mean_std([r['silent_no_f'] for r in rs])} | {mean_std([r['acc_no_f_carry'] for r in rs])} | {len(rs)} |")
    for g, rs in ann.items():
        print(f"| {g} (per frame, backprop) | {videos}-train frames, {rs[0]['epoch']} epochs | {mean_std([r['test_acc'] for r in rs])} | - | - | {len(rs)} |")
    for g, rs in snn.items():
        print(f"\n**{g}: frame accuracy (%) by occluder size** ({rs[0]['split']} split, {rs[0]['videos']} videos; mean ± std over {len(rs)} seeds)\n")
        print("| occluder size w (px) | frames per seed | with F | without F |")
        print("|---|---|---|---|")
        for w in sorted(rs[0]["by_size"], key=int):
            print(f"| {w} | {rs[0]['by_size'][w]['frames']} | {mean_std([r['by_size'][w]['acc_f'] for r in rs])} | {mean_std([r['by_size'][w]['acc_no_f'] for r in rs])} |")
        print(f"\n**{g}: frame accuracy (%) by frame index** (frames 0 and K-1 are unoccluded with the default speed)\n")
        print("| frame | with F | without F |")
        print("|---|---|---|")
        for f in sorted(rs[0]["by_frame"], key=int):
            print(f"| {f} | {mean_std([r['by_frame'][f]['acc_f'] for r in rs])} | {mean_std([r['by_frame'][f]['acc_no_f'] for r in rs])} |")
        print(f"\n**{g}: speed** (one thread; millions of synaptic events per CPU second of the thread, and per wall second on the shared machine)\n")
        print("| phase | M events / CPU s | M events / wall s | CPU time (s) | wall time (s) |")
        print("|---|---|---|---|---|")
        for phase, name in (("train", "training"), ("eval", "inference (with and without F)")):
            print(f"| {name} | {mean_std([r[phase + '_events_per_cpu_s'] / 1e6 for r in rs])} | {mean_std([r[phase + '_events_per_s'] / 1e6 for r in rs])} | {mean_std([r[phase + '_cpu_s'] for r in rs])} | {mean_std([r[phase + '_time_s'] for r in rs])} |")
        vth = ", ".join("%.4g" % r["v_th"] for r in rs)
        unl = ", ".join(str(r["unlabelled_neurons"]) for r in rs)
        fixed = rs[0].get("neuron", "current") == "conductance"
        print(f"\nV_th ({'fixed, mV' if fixed else 'calibrated'}) per seed: {vth}; unlabelled neurons per seed: {unl}")


if __name__ == "__main__":
    main()
