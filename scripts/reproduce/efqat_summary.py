#!/usr/bin/env python3
"""Tables and accuracy-versus-rho plots for scripts/reproduce/efqat-sweep.sh.

   efqat_summary.py OUT      (reads OUT/runs/*/metrics.jsonl, writes OUT/summary.md and
                              OUT/efqat-<bits>.svg when gnuplot is installed)
"""
import json
import os
import sys

from efqat_plot import plot_rho

out = sys.argv[1]
runs = {}
for name in sorted(os.listdir(os.path.join(out, "runs"))):
    path = os.path.join(out, "runs", name, "metrics.jsonl")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        stages = {r["stage"]: r for r in map(json.loads, f) if r.get("kind") == "quantize"}
    runs[name] = stages

# The plots' title: the source run's model and dataset, from an output run's config.yaml.
title = ""
for name in runs:
    with open(os.path.join(out, "runs", name, "config.yaml")) as f:
        section, found = "", {}
        for line in f:
            if not line.startswith(" "):
                section = line.split(":")[0]
            elif line.strip().startswith("name:") and section in ("model", "data"):
                found[section] = line.split(":", 1)[1].strip()
        title = f"{found.get('model', '?')} on {found.get('data', '?')}"
    break
fp32 = next((r["fp32"]["acc"] for r in runs.values() if "fp32" in r), None)
bits_all = sorted({n.split("-")[1] for n in runs}, key=lambda b: (-int(b[1]), -int(b[3])))
lines = [f"FP32: {fp32:.2f} %\n" if fp32 is not None else "", ""]
for bits in bits_all:
    ptq = runs.get(f"ptq-{bits}", {}).get("ptq", {}).get("acc")
    qat = runs.get(f"qat-{bits}", {}).get("qat", {}).get("acc")
    eff = {}
    for n, r in runs.items():
        if n.startswith(f"efqat-{bits}-") and "efqat" in r:
            _, _, mode, rho = n.split("-")
            eff.setdefault(mode, {})[float(rho)] = r["efqat"]
    rhos = sorted({rho for m in eff.values() for rho in m})
    fmt = lambda v: f"{v:.2f}" if v is not None else "—"
    lines.append(f"### {bits}\n")
    lines.append(f"PTQ {fmt(ptq)} %, QAT (1 epoch) {fmt(qat)} %.\n")
    if eff:
        # PTQ is the starting point; rho = 1 is QAT exactly (test Efqat.RhoOneIsPlainQat).
        lines.append("| mode | PTQ | " + " | ".join(f"{100 * r:g} %" for r in rhos) + " | 100 % (= QAT) |")
        lines.append("|---|---|" + "---|" * len(rhos) + "---|")
        for mode in ("cwpn", "cwpl", "lwpn"):
            if mode in eff:
                lines.append(f"| {mode} | {fmt(ptq)} | " + " | ".join(fmt(eff[mode].get(r, {}).get("acc")) for r in rhos)
                             + f" | {fmt(qat)} |")
        lines.append("")
        lines.append("Counted backward GEMM MACs as a fraction of full QAT's (CWPN): " + ", ".join(
            f"{100 * r:g} %: {eff['cwpn'][r]['backward_macs'] / eff['cwpn'][r]['full_backward_macs']:.3f}"
            for r in rhos if "cwpn" in eff and r in eff["cwpn"]) + "\n")
    svg = plot_rho(out, bits, title, {m: {r: v["acc"] for r, v in eff[m].items()} for m in eff}, ptq, qat) if eff else None
    if svg:
        lines.append(f"![{bits}]({svg})\n")
text = "\n".join(lines)
with open(os.path.join(out, "summary.md"), "w") as f:
    f.write(text)
print(text)
