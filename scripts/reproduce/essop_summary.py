#!/usr/bin/env python3
"""Tables of an essop-fashion.sh output folder (docs/results/essop.md).

usage: essop_summary.py OUT
Per method (exact, essop BL): final test accuracy mean and standard deviation over seeds,
difference to exact, training time per epoch, and the operation-count / energy model of the
last epoch (weight-update path only).
"""
import json
import re
import statistics
import sys
from pathlib import Path


def last_epoch(path):
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    rows = [r for r in rows if r.get("kind") == "epoch"]
    return rows[-1] if rows else None


def main():
    out = Path(sys.argv[1])
    commit = (out / "commit.txt").read_text().strip() if (out / "commit.txt").exists() else "?"
    # Folders made before STREAMS existed hold fresh-stream runs.
    streams = (out / "streams.txt").read_text().strip() if (out / "streams.txt").exists() else "fresh"
    groups = {}
    for m in sorted(out.glob("runs/*/metrics.jsonl")):
        name = m.parent.name
        match = re.match(r"(exact|essop(\d+))-s(\d+)$", name)
        if not match:
            continue
        r = last_epoch(m)
        if r is None:
            continue
        bl = int(match.group(2)) if match.group(2) else 0
        groups.setdefault(bl, []).append(r)
    if not groups:
        sys.exit("no finished runs in " + str(out))
    # Only finished runs: those that reached the largest epoch count in the folder.
    last = max(r["epoch"] for rs in groups.values() for r in rs)
    groups = {bl: [r for r in rs if r["epoch"] == last] for bl, rs in groups.items()}
    groups = {bl: rs for bl, rs in groups.items() if rs}
    epochs = {last}
    exact = groups.get(0)
    exact_mean = statistics.mean(r["test_acc"] for r in exact) if exact else None

    def sd(v):
        return statistics.stdev(v) if len(v) > 1 else 0.0

    print(f"Commit `{commit}`, epochs {sorted(epochs)}, 1 thread per run, ESSOP streams: "
          f"{streams}.\n")
    print("| update | seeds | test accuracy % (mean ± sd) | vs exact (points) | train s/epoch |")
    print("|---|---|---|---|---|")
    for bl in sorted(groups):
        rs = groups[bl]
        acc = [r["test_acc"] for r in rs]
        label = "exact FP32" if bl == 0 else f"ESSOP BL {bl} ({streams})"
        diff = "—" if bl == 0 or exact_mean is None else f"{statistics.mean(acc) - exact_mean:+.2f}"
        t = statistics.mean(r["epoch_time_s"] for r in rs)
        print(f"| {label} | {len(rs)} | {statistics.mean(acc):.2f} ± {sd(acc):.2f} | {diff} | {t:.1f} |")
    print()
    print("Operation-count and energy model of the weight-update outer products, per epoch "
          "(last epoch, first seed; docs/essop.md):\n")
    print("| BL | FP multiplies replaced | random numbers | ESSOP bits moved | FP16 bits | "
          "ESSOP µJ | FP16 µJ | FP32 µJ | ESSOP/FP16 | ESSOP/FP32 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for bl in sorted(b for b in groups if b):
        r = groups[bl][0]
        print(f"| {bl} | {r['essop_fp_multiplies_replaced']:.3g} | {r['essop_random_numbers']:.3g} | "
              f"{r['essop_bits_moved']:.3g} | {r['fp16_bits_moved']:.3g} | "
              f"{r['essop_update_energy_uj']:.1f} | {r['fp16_update_energy_uj']:.1f} | "
              f"{r['fp32_update_energy_uj']:.1f} | {r['essop_energy_vs_fp16']:.3f} | "
              f"{r['essop_energy_vs_fp32']:.3f} |")


if __name__ == "__main__":
    main()
