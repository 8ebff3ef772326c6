#!/usr/bin/env python3
"""Floors of the regression figures from their sweeps (scripts/reproduce/regression-floors.sh).

usage: regression_floors.py FIGURES_YAML SWEEPS_DIR FLOORS_JSON RESULTS_MD
Each sweep has one setting; its summary (sweep.json) gives the metric's mean and sample std
over the seeds. Floor = mean -/+ max(3 std, margin). Refuses sweeps of mixed commits.
"""
import json
import statistics
import sys

import yaml


def main():
    figures_path, sweeps, floors_path, md_path = sys.argv[1:5]
    figures = yaml.safe_load(open(figures_path))["figures"]
    out = {"figures": {}}
    commits = set()
    rows = []
    for f in figures:
        s = json.load(open(f"{sweeps}/{f['name']}/sweep.json"))
        if s.get("mixed_commits"):
            sys.exit(f"{f['name']}: the sweep mixes commits; rerun it in a fresh folder")
        setting = s["settings"][0]
        runs = [r for r in setting["runs"] if r["status"] == "done"]
        commits.update(r["commit"] for r in runs)
        # The metric per seed: a final metric of metrics.jsonl, or a number of the figure's file.
        values = {r["seed"]: (json.load(open(f"{sweeps}/{f['name']}/{r['dir']}/{f['file']}"))[f["metric"]]
                              if "file" in f else r["final"][f["metric"]]) for r in runs}
        m = {"n": len(values), "mean": statistics.mean(values.values()),
             "std": statistics.stdev(values.values())}
        seed1 = values[1]
        gap = max(3 * m["std"], f["margin"])
        floor = m["mean"] - gap if f["higher"] else m["mean"] + gap
        out["figures"][f["name"]] = {"metric": f["metric"], "n": m["n"], "mean": m["mean"],
                                     "std": m["std"], "seed1": seed1, "floor": round(floor, 4)}
        rows.append((f, m, seed1, floor))
    if len(commits) != 1:
        sys.exit(f"the sweeps ran at several commits: {sorted(commits)}")
    commit = commits.pop()
    out["commit"] = commit
    with open(floors_path, "w") as fh:
        json.dump(out, fh, indent=2)
        fh.write("\n")
    with open(md_path, "w") as fh:
        fh.write("# Regression guards of the headline figures\n\n")
        fh.write("Made by `scripts/reproduce/regression-floors.sh` (issue #21) from runs of commit "
                 f"`{commit[:7]}`. Each row is a reduced version of a headline figure (settings in "
                 "`tests/regression/figures.yaml`), run over the seeds shown with one thread per "
                 "run. The `Regression` tests (`tests/cli/regression_test.cpp`, part of `make test`) "
                 "run seed 1 and fail when its metric passes the floor: mean − max(3 std, margin) "
                 "(or + for a lower-is-better metric). These are guards against silent degradation, "
                 "not results: the figures themselves are in the linked pages.\n\n")
        fh.write("| figure | page | metric | seeds | mean ± std | seed 1 | margin | floor |\n")
        fh.write("|---|---|---|---|---|---|---|---|\n")
        for f, m, seed1, floor in rows:
            page = f["doc"].split("/")[-1]
            fh.write(f"| {f['name']} | [{page}]({page}) | {f['metric']} | {m['n']} | "
                     f"{m['mean']:.3f} ± {m['std']:.3f} | {seed1:.3f} | {f['margin']} | "
                     f"{'≥' if f['higher'] else '≤'} {floor:.3f} |\n")


if __name__ == "__main__":
    main()
