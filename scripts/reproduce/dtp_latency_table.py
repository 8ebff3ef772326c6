#!/usr/bin/env python3
"""Table of scripts/reproduce/dtp-shrunk-latency.sh (docs/results/dtp.md).

usage: dtp_latency_table.py OUT MODEL...
Per model: the dense run and each DTP channel-pruned run (OUT/latency/<model>-dtp-<kind>-<budget>):
kept parameters and MACs (exact counts of the shrunk model, prune.json), test accuracy after
pruning (and validation where the run had the split), the measured forward time of the shrunk
model relative to the dense one (OUT/latency/<model>-forward.tsv, nc_bench_shrunk_forward), and
the CM accelerator's cores, first-image latency, throughput and energy per image (the compile
report.json of each run).
"""
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def commit(out):
    """The checkout's commit when dtp-shrunk-latency.sh started (OUT/latency/commit.txt)."""
    lines = open(f"{out}/latency/commit.txt").read().split()
    return lines[0] + ("-dirty" if "dirty" in lines[1:] else "")


def chip(out, run):
    r = load(f"{out}/latency/compile-{os.path.basename(run)}/report.json")
    t = r["timing"]
    ms = t["first_latency_cycles"] / (t["clock_ghz"] * 1e6)
    return r["cores"], ms, t["throughput_images_per_s"], t["energy_per_image_pj"]["total"] / 1e3


def main():
    out, models = sys.argv[1], sys.argv[2:]
    print(f"\nTable made by `scripts/reproduce/dtp_latency_table.py` at commit `{commit(out)}`.\n")
    for model in models:
        rows = [line.rstrip("\n").split("\t") for line in open(f"{out}/latency/{model}-forward.tsv")]
        print(f"\n**{model}** (forward: batch 128, one thread, median CPU time, dense = 1)\n")
        print("| run | budget | params kept | MACs kept | valid % | test % | forward ms | / dense | cores | latency µs | images/s | energy nJ/image |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for run, ms, ratio, _ in rows:
            cores, lat, thr, nj = chip(out, run)
            pj = f"{run}/prune.json"
            if os.path.exists(pj):
                p = load(pj)
                o = p["options"]
                budget = f"{o['budget']} {o['budget_kind']}"
                params = f"{p['params_after']:.0f} ({100 * p['params_after'] / p['params_before']:.1f} %)"
                macs = f"{p['flops_after']:.0f} ({100 * p['flops_after'] / p['flops_before']:.1f} %)"
                valid = f"{p['valid_after']:.2f}" if "valid_after" in p else "-"
                test = f"{p['acc_after']:.2f}"
                name = os.path.basename(run)
            else:
                budget, params, macs, valid, test, name = "dense", "", "", "", "", f"dense ({os.path.basename(run)})"
                m = [json.loads(l) for l in open(f"{run}/metrics.jsonl")] if os.path.exists(f"{run}/metrics.jsonl") else []
                ep = [x for x in m if "test_acc" in x]
                if ep:
                    test = f"{ep[-1]['test_acc']:.2f}"
                    valid = f"{ep[-1]['valid_acc']:.2f}" if "valid_acc" in ep[-1] else "-"
            print(f"| {name} | {budget} | {params} | {macs} | {valid} | {test} | {float(ms):.2f} | {float(ratio):.2f}x | {cores} | {1e3 * lat:.1f} | {thr:.0f} | {nj:.1f} |")


if __name__ == "__main__":
    main()
