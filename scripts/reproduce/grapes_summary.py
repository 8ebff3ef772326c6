#!/usr/bin/env python3
"""Summary of a GRAPES depth sweep (scripts/reproduce/grapes-depth.sh): markdown tables on
stdout and in OUT/summary.md, plots OUT/curves.svg and OUT/gap.svg (gnuplot).

usage: grapes_summary.py OUT DATASET [THRESHOLD]
Reads OUT/lr.txt ("depth method lr" per line) and OUT/runs/d<D>-<method>-s<seed>/metrics.jsonl.
"""
import json
import os
import statistics
import subprocess
import sys


def curve(out, name):
    path = os.path.join(out, "runs", name, "metrics.jsonl")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return [r["test_acc"] for r in recs if r.get("kind") == "epoch"]


def fmt(xs):
    if not xs:
        return "-"
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def main():
    out, dataset = sys.argv[1], sys.argv[2]
    threshold = float(sys.argv[3]) if len(sys.argv) > 3 else (95.0 if "mnist-10k" in dataset else 85.0)
    lrs = {}
    with open(os.path.join(out, "lr.txt")) as f:
        for line in f:
            d, m, lr = line.split()
            lrs[(int(d), m)] = lr
    depths = sorted({d for d, _ in lrs})
    seeds = sorted({n.split("-s")[-1] for n in os.listdir(os.path.join(out, "runs")) if n.startswith("d")})
    curves = {}
    for (d, m) in lrs:
        cs = [curve(out, f"d{d}-{m}-s{s}") for s in seeds]
        curves[(d, m)] = [c for c in cs if c]
    epochs = max(len(c) for cs in curves.values() for c in cs)
    marks = [e for e in (1, 3, epochs) if e <= epochs]
    marks = sorted(set(marks))

    lines = [f"Dataset {dataset}; {len(seeds)} seed(s) ({', '.join(seeds)}); mean ± std of the test "
             f"accuracy (%); epochs to {threshold:g} %: mean over seeds that reached it (n reached).", ""]
    head = "| hidden layers | method | lr | " + " | ".join(f"ep {e}" for e in marks) + \
        f" | epochs to {threshold:g} % |"
    lines += [head, "|" + "---|" * (4 + len(marks))]
    for d in depths:
        for m in ("grapes", "none"):
            cs = curves[(d, m)]
            cells = [fmt([c[e - 1] for c in cs if len(c) >= e]) for e in marks]
            reach = [next((i + 1 for i, a in enumerate(c) if a >= threshold), None) for c in cs]
            got = [r for r in reach if r is not None]
            reach_s = f"{statistics.mean(got):.1f} ({len(got)}/{len(cs)})" if got else f"never (0/{len(cs)})"
            name = "SGD + GRAPES" if m == "grapes" else "SGD"
            lines.append(f"| {d} | {name} | {lrs[(d, m)]} | " + " | ".join(cells) + f" | {reach_s} |")
    lines += ["", "Gap GRAPES − SGD (mean over seeds, points):", "",
              "| hidden layers | " + " | ".join(f"ep {e}" for e in marks) + " |",
              "|" + "---|" * (1 + len(marks))]
    gaps = {}
    for d in depths:
        row = []
        for e in marks:
            g = [c[e - 1] for c in curves[(d, "grapes")] if len(c) >= e]
            n = [c[e - 1] for c in curves[(d, "none")] if len(c) >= e]
            gap = statistics.mean(g) - statistics.mean(n) if g and n else float("nan")
            gaps[(d, e)] = gap
            row.append(f"{gap:+.2f}")
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    print(text)

    # Plots: mean curves per depth and method; the gap against depth.
    data = os.path.join(out, "curves.dat")
    with open(data, "w") as f:
        for d in depths:
            for m in ("grapes", "none"):
                cs = curves[(d, m)]
                f.write(f'"D={d} {"GRAPES" if m == "grapes" else "SGD"}"\n')
                for e in range(1, epochs + 1):
                    vals = [c[e - 1] for c in cs if len(c) >= e]
                    if vals:
                        f.write(f"{e} {statistics.mean(vals)}\n")
                f.write("\n\n")
    gapdat = os.path.join(out, "gap.dat")
    with open(gapdat, "w") as f:
        for d in depths:
            f.write(f"{d} " + " ".join(str(gaps[(d, e)]) for e in marks) + "\n")
    n = 2 * len(depths)
    plots = ", ".join(
        f"'{data}' index {i} with linespoints lc {i // 2 + 1} dt {1 if i % 2 == 0 else 2} title columnheader(1)"
        for i in range(n))
    gap_plots = ", ".join(f"'{gapdat}' using 1:{k + 2} with linespoints title 'epoch {e}'"
                          for k, e in enumerate(marks))
    script = f"""set terminal svg size 900,560 dynamic background rgb 'white'
set output '{out}/curves.svg'
set title 'GRAPES (solid) vs SGD (dashed), {dataset}, mean over seeds'
set xlabel 'epoch'; set ylabel 'test accuracy (%)'; set key outside right; set grid
plot {plots}
set output '{out}/gap.svg'
set title 'GRAPES - SGD test accuracy gap vs depth, {dataset}'
set xlabel 'hidden layers'; set ylabel 'gap (points)'; set key top left
plot {gap_plots}
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


if __name__ == "__main__":
    main()
