#!/usr/bin/env python3
"""Table of docs/results/distributed.md from the runs of scripts/reproduce/distributed.sh.

Throughput is the median over repetitions of the last epoch's samples/s (the first epoch
includes start-up effects). The projection to 8 and 64 machines uses, per model, the measured
compute time of one rank's step (1 process x 1 thread, per-rank batch), the measured all-reduce
payload per step and hidden fraction, and a ring all-reduce over a network of bandwidth B and
per-hop latency a (assumed, stated in the table): time = 2 (W-1)/W * bytes / B + 2 (W-1) a,
of which (1 - hidden) is exposed.
"""
import json
import statistics
import sys
from pathlib import Path

NETWORKS = [("10 Gb/s Ethernet", 1.25e9, 50e-6), ("100 Gb/s", 12.5e9, 5e-6)]


def last_epoch(run):
    recs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
    epochs = [r for r in recs if r.get("kind") == "epoch"]
    return epochs[-1]


def main(out):
    out = Path(out)
    commit = (out / "commit").read_text().strip()
    runs = sorted((out / "runs").iterdir())
    by = {}
    for r in runs:
        name, variant, _ = r.name.rsplit("-", 2)
        by.setdefault((name, variant), []).append(last_epoch(r))
    models = sorted({k[0] for k in by}, key=lambda m: ["mlp", "snu-mlp", "resnet20"].index(m)
                    if m in ["mlp", "snu-mlp", "resnet20"] else 99)
    print("# Data-parallel training: measured on this machine\n")
    print(f"Made by `scripts/reproduce/distributed.sh OUT` and `scripts/reproduce/distributed_table.py OUT` "
          f"from runs of commit `{commit}`; {(out / 'cores').read_text().strip()} cores, shared with other "
          "engineers' builds (load varied during the runs), so absolute rates are noisy; the "
          "variants of one repetition ran back to back. Global batch 128 in every variant "
          "(2 processes: 64 per rank). Median over repetitions of the last epoch's samples/s.\n")
    print("| model | 1 proc x 1 thread | 1 proc x 2 threads | 2 procs x 1 thread | 2 procs / 1x1 | "
          "2 procs / 1x2 | 2 procs, 0.25 MiB buckets |")
    print("|---|---|---|---|---|---|---|")
    proj = []
    comm_rows = []
    for m in models:
        rate = {v: statistics.median(e["samples_per_s"] for e in by[(m, v)]) if by.get((m, v)) else float("nan")
                for v in ["p1t1", "p1t2", "p2t1", "p2t1s"]}
        print(f"| {m} | {rate['p1t1']:.0f} | {rate['p1t2']:.0f} | {rate['p2t1']:.0f} | "
              f"{rate['p2t1'] / rate['p1t1']:.2f}x | {rate['p2t1'] / rate['p1t2']:.2f}x | {rate['p2t1s']:.0f} |")
        for v, label in [("p2t1", "25 MiB (first 1 MiB)"), ("p2t1s", "0.25 MiB")]:
            dp = by.get((m, v), [])
            if not dp:
                continue
            med = lambda k: statistics.median(e[k] for e in dp)
            comm_rows.append(f"| {m} | {label} | {med('dist_bytes_per_step') / 1e6:.3f} MB | "
                             f"{med('dist_overlapped_buckets'):.2f} | {med('dist_allreduce_ms'):.2f} | "
                             f"{med('dist_exposed_ms'):.2f} | {med('dist_hidden_fraction'):.2f} |")
        dp = by[(m, "p2t1")]
        proj.append((m, 64 / rate["p1t1"], statistics.median(e["dist_bytes_per_step"] for e in dp),
                     statistics.median(e["dist_hidden_fraction"] for e in dp)))
    print("\n## Communication per update (2 processes)\n")
    print("Payload: the gradients all-reduced per update (each rank sends and receives about this "
          "much in a ring). Overlapped: the fraction of buckets a gradient hook started during the "
          "backward pass. Alone: one update's all-reduces timed with nothing beside them. Exposed: "
          "the time `step()` waited for them after the backward pass. Hidden = 1 - exposed / alone, "
          "clamped to [0, 1].\n")
    print("| model | buckets | payload | overlapped | alone (ms) | exposed (ms) | hidden |")
    print("|---|---|---|---|---|---|---|")
    for row in comm_rows:
        print(row)
    print("\n## Projection to 8 and 64 machines (one rank per machine, per-rank batch 64)\n")
    print("Per step: compute as measured (1 process x 1 thread at 64 examples), plus the exposed "
          "part of a ring all-reduce of the measured payload, exposed = (1 - hidden) x "
          "(2 (W-1)/W x payload / bandwidth + 2 (W-1) x latency), with the hidden fraction measured "
          "on 2 processes here. The networks are assumptions, not measurements.\n")
    print("| model | network | W | step (ms) | samples/s | speed-up over 1 | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for m, tc, payload, hidden in proj:
        for net, bw, lat in NETWORKS:
            for w in (8, 64):
                comm = 2 * (w - 1) / w * payload / bw + 2 * (w - 1) * lat
                step = tc + (1 - hidden) * comm
                rate = w * 64 / step
                speedup = rate / (64 / tc)
                print(f"| {m} | {net} | {w} | {1e3 * step:.1f} | {rate:.0f} | {speedup:.1f}x | {speedup / w:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
