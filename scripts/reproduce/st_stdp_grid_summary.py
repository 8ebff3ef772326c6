#!/usr/bin/env python3
"""Tables for the grids of scripts/reproduce/st-stdp.sh (stages tauf and neurons).

  python3 scripts/reproduce/st_stdp_grid_summary.py OUT COMMIT

Every SNN run of OUT whose name is <stage>-<key><value>-...-s<seed> (e.g. tauf-tf200-fm100-s2,
neurons-n400-da0.01-s1) is one cell of the grid; the keys become columns. Mean and sample
standard deviation over seeds of the frame accuracy with and without F (silent frames count as
wrong) and of the silent frames. COMMIT names the binary the runs used (the runs do not record
it; the script that starts them does).
"""
import json
import pathlib
import re
import statistics
import sys
from collections import defaultdict

KEYS = {"tf": "tau_F (ms)", "fm": "T_f (ms)", "n": "neurons", "da": "delta_a"}


def mean_std(xs):
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def cell_of(name):
    """('tauf', (('tf', '200'), ('fm', '100'))) from 'tauf-tf200-fm100-s2'."""
    stage, *parts = name.rsplit("-s", 1)[0].split("-")
    cell = []
    for p in parts:
        m = re.fullmatch(r"([a-z]+)([0-9.]+)", p)
        if not m or m.group(1) not in KEYS:
            return None
        cell.append((m.group(1), m.group(2)))
    return stage, tuple(cell)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: st_stdp_grid_summary.py OUT COMMIT")
    out, commit = pathlib.Path(sys.argv[1]), sys.argv[2]
    cells = defaultdict(list)
    for run in sorted(out.iterdir()):
        res = run / "results.json"
        parsed = cell_of(run.name) if res.exists() else None
        if parsed:
            cells[parsed].append(json.loads(res.read_text()))
    stages = sorted({s for s, _ in cells})
    for stage in stages:
        rows = {c: rs for (s, c), rs in cells.items() if s == stage}
        keys = [k for k, _ in next(iter(rows))]
        any_r = next(iter(rows.values()))[0]
        print(f"**{stage}** ({any_r['split']} split, {any_r['videos']} videos; frame accuracy %, "
              f"silent frames count as wrong; binary of commit {commit}; runs in {out})\n")
        head = [KEYS[k] for k in keys] + ["seeds", "with F", "without F", "F gain", "silent with F", "silent without F"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for cell in sorted(rows, key=lambda c: [float(v) for _, v in c]):
            rs = rows[cell]
            gain = [r["acc_f"] - r["acc_no_f"] for r in rs]
            vals = [v for _, v in cell] + [str(len(rs)), mean_std([r["acc_f"] for r in rs]),
                                           mean_std([r["acc_no_f"] for r in rs]), mean_std(gain),
                                           mean_std([r["silent_f"] for r in rs]),
                                           mean_std([r["silent_no_f"] for r in rs])]
            print("| " + " | ".join(vals) + " |")
        print()


if __name__ == "__main__":
    main()
