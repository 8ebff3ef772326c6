#!/usr/bin/env python3
"""The speed tables of docs/results/st-stdp.md from scripts/reproduce/st-stdp-brian2.sh OUT.

  python3 scripts/reproduce/st_stdp_brian2_table.py OUT

neurocore: results.json of the runs nc-<wta>-n<N>-s<seed> (training: one pass, calibration and
labelling not timed; inference: every video with and without F). Brian2: brian2-<target>-n<N>-
s<seed>.json (warm-up and compilation not timed). Synaptic events as the spec defines them,
counted by each simulator. Ratio = neurocore's events/s over Brian2's for the same seed, both
soft WTA, per CPU second of the simulating process (the fair figure on a shared machine) and per
wall second. The commit is HEAD's, "+dirty" when the tree has changes.
"""
import json
import pathlib
import re
import statistics
import subprocess
import sys
from collections import defaultdict


def rate(events, seconds):
    return events / seconds / 1e6 if seconds else float("nan")


def mean_std(xs, digits=1):
    if len(xs) == 1:
        return f"{xs[0]:.{digits}f}"
    return f"{statistics.mean(xs):.{digits}f} ± {statistics.stdev(xs):.{digits}f}"


def main():
    out = pathlib.Path(sys.argv[1])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    rows = []
    for run in sorted(out.glob("nc-*")):
        m = re.fullmatch(r"nc-(soft|hard)-n(\d+)-s(\d+)", run.name)
        if not m or not (run / "results.json").exists():
            continue
        r = json.loads((run / "results.json").read_text())
        for phase, key, n in (("training", "train", r["still_images"]), ("inference", "eval", r["videos"])):
            rows.append(dict(sim="neurocore", wta=m.group(1), target="C++, event-driven", neurons=int(m.group(2)),
                             seed=int(m.group(3)), phase=phase, items=n, events=r[f"{key}_events"],
                             wall=r[f"{key}_time_s"], cpu=r[f"{key}_cpu_s"]))
    for f in sorted(out.glob("brian2-*.json")):
        m = re.fullmatch(r"brian2-(\w+)-n(\d+)-s(\d+)\.json", f.name)
        if not m:
            continue
        r = json.loads(f.read_text())
        for phase, key, n in (("training", "train", r["images"]), ("inference", "eval", r["videos"])):
            if key in r:
                x = r[key]
                rows.append(dict(sim=f"Brian2 {r['brian2']}", wta="soft", target=x["codegen"], neurons=r["neurons"],
                                 seed=int(m.group(3)), phase=phase, items=n, events=x["events"], wall=x["wall_s"], cpu=x["cpu_s"]))
    ref = {(r["neurons"], r["phase"], r["seed"]): r for r in rows if r["sim"] == "neurocore" and r["wta"] == "soft"}
    groups = defaultdict(list)
    for r in rows:
        groups[(r["neurons"], r["phase"], r["sim"], r["wta"], r["target"])].append(r)
    print(f"Commit {commit}{'+dirty' if dirty else ''}; runs in {out}. One thread each; mean ± sd over seeds.\n")
    print("| simulator | WTA | code | neurons | phase | seeds | events per image / video | M events / CPU s | M events / wall s | neurocore ÷ this (CPU) | neurocore ÷ this (wall) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    order = lambda k: (k[0], k[1] != "training", k[2] != "neurocore", k[3], k[4])
    for key in sorted(groups, key=order):
        rs = groups[key]
        ratio_c, ratio_w = [], []
        for r in rs:
            base = ref.get((r["neurons"], r["phase"], r["seed"]))
            if base and r["sim"] != "neurocore":
                ratio_c.append(rate(base["events"], base["cpu"]) / rate(r["events"], r["cpu"]))
                ratio_w.append(rate(base["events"], base["wall"]) / rate(r["events"], r["wall"]))
        print(f"| {key[2]} | {key[3]} | {key[4]} | {key[0]} | {key[1]} | {len(rs)} | "
              f"{mean_std([r['events'] / r['items'] / 1e6 for r in rs], 3)} M | {mean_std([rate(r['events'], r['cpu']) for r in rs])} | "
              f"{mean_std([rate(r['events'], r['wall']) for r in rs])} | {mean_std(ratio_c) if ratio_c else '-'} | "
              f"{mean_std(ratio_w) if ratio_w else '-'} |")


if __name__ == "__main__":
    main()
