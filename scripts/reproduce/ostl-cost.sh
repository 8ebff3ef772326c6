#!/usr/bin/env bash
# Cost of OSTL against BPTT per time step and in peak memory, T = 10 ... 10,000 (issue #3,
# docs/results/ostl.md): runs nc_bench_ostl (one SNU layer 256 -> 256, batch 32, float32)
# and writes OUT/ostl-cost.json, OUT/ostl-cost.md (table) and OUT/ostl-cost.svg (log-log plot).
# Each benchmark runs three times in random order (the machine's speed drifts); the tables
# give the medians. OSTL two ways: one step per call (OstlSequence) and the held chunk's
# steps per call (OstlSteps, Ostl::steps).
#
#   scripts/reproduce/ostl-cost.sh OUT [BENCH [FLAGS...]]
#     BENCH default build/bench/nc_bench_ostl (built with -DNC_BUILD_BENCH=ON); FLAGS go to it,
#     e.g. --trace_chunk=16 (the steps held, and taken per call by OstlSteps) or
#     --spike_percent=0 (analog inputs instead of spikes at rate 0.2)
set -euo pipefail
OUT=${1:?output folder}
BENCH=${2:-build/bench/nc_bench_ostl}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$OUT"
"$BENCH" --threads=1 "$@" --benchmark_repetitions=3 --benchmark_enable_random_interleaving \
  --benchmark_report_aggregates_only=true --benchmark_format=json \
  --benchmark_out="$OUT/ostl-cost.json.tmp" --benchmark_out_format=json > /dev/null
mv "$OUT/ostl-cost.json.tmp" "$OUT/ostl-cost.json"
python3 - "$OUT" "$@" <<'PY'
import json, os, subprocess, sys
out = sys.argv[1]
bench = json.load(open(os.path.join(out, "ostl-cost.json")))
names = {"OstlSequence": "OSTL, 1 step per call", "OstlSteps": "OSTL, chunk per call",
         "BpttSequence": "BPTT"}
rows = {}
for b in bench["benchmarks"]:
    if b.get("aggregate_name") != "median":
        continue
    parts = b["run_name"].split("/")
    method, T = parts[0], int(parts[1])
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    rows.setdefault(method, []).append((T, b["cpu_time"] * unit / T, b["real_time"] * unit / T,
                                        b["peak_bytes"], b.get("carried", 0)))
ctx = bench["context"]
ostl = [m for m in names if m != "BpttSequence" and m in rows]
with open(os.path.join(out, "ostl-cost.md"), "w") as f:
    f.write(f"Load average at start: {ctx.get('load_avg', '?')}; medians of 3 interleaved runs; "
            f"flags: {' '.join(sys.argv[2:]) or 'none'}\n\n")
    f.write("| method | T | CPU time / step | wall time / step | peak bytes | carried between steps |\n")
    f.write("|---|---|---|---|---|---|\n")
    for method in ostl + ["BpttSequence"]:
        for T, cpu, wall, peak, carried in sorted(rows[method]):
            f.write(f"| {names[method]} | {T:,} | {cpu*1e3:.3f} ms | {wall*1e3:.3f} ms | "
                    f"{peak/2**20:.2f} MiB | {carried/2**20:.2f} MiB |\n")
    b = dict((r[0], r) for r in rows["BpttSequence"])
    f.write("\n| T | " + " | ".join(f"{names[m]} / BPTT time per step (CPU)" for m in ostl) +
            " | BPTT / OSTL peak memory (1 step per call) |\n")
    f.write("|---" * (len(ostl) + 2) + "|\n")
    o = dict((r[0], r) for r in rows.get("OstlSequence", []))
    for T in sorted(b):
        cells = []
        for m in ostl:
            r = dict((x[0], x) for x in rows[m]).get(T)
            cells.append(f"{r[1]/b[T][1]:.2f}" if r else "-")
        f.write(f"| {T:,} | " + " | ".join(cells) +
                (f" | {b[T][3]/o[T][3]:.2f} |\n" if T in o else " | - |\n"))
for method in rows:
    with open(os.path.join(out, method + ".dat"), "w") as f:
        for T, cpu, wall, peak, _ in sorted(rows[method]):
            f.write(f"{T} {cpu*1e3} {peak/2**20}\n")
gp = f"""
set terminal svg size 900,380 dynamic font 'sans,11'
set output '{out}/ostl-cost.svg'
set multiplot layout 1,2 title 'OSTL vs BPTT, one SNU layer 256-256, batch 32 (CPU, 1 thread)'
set logscale xy
set grid
set key top left
set xlabel 'sequence length T'
set ylabel 'CPU time per step (ms)'
plot '{out}/OstlSequence.dat' u 1:2 w lp pt 7 t 'OSTL, 1 step/call', \\
     '{out}/OstlSteps.dat' u 1:2 w lp pt 9 t 'OSTL, chunk/call', \\
     '{out}/BpttSequence.dat' u 1:2 w lp pt 5 t 'BPTT'
set ylabel 'peak memory (MiB)'
plot '{out}/OstlSequence.dat' u 1:3 w lp pt 7 t 'OSTL, 1 step/call', \\
     '{out}/OstlSteps.dat' u 1:3 w lp pt 9 t 'OSTL, chunk/call', \\
     '{out}/BpttSequence.dat' u 1:3 w lp pt 5 t 'BPTT'
unset multiplot
"""
subprocess.run(["gnuplot"], input=gp.encode(), check=True)
print(open(os.path.join(out, "ostl-cost.md")).read())
PY
