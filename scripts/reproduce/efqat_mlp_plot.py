#!/usr/bin/env python3
"""Accuracy-versus-rho plots of the MLP sweep (docs/results/efqat.md): reads the output of
nc_efqat_accuracy (bench/efqat_accuracy.cpp) and writes OUT/efqat-mlp-<bits>.svg.

   efqat_mlp_plot.py OUT LOG [LOG ...]
"""
import re
import sys

from efqat_plot import plot_rho

out, logs = sys.argv[1], sys.argv[2:]
ptq, qat, acc, rhos, bits = {}, {}, {}, [], None
for log in logs:
    with open(log) as f:
        for line in f:
            if m := re.match(r"(W\dA\d): PTQ ([\d.]+)%", line):
                bits = m.group(1)
                ptq[bits] = float(m.group(2))
            elif m := re.match(r"(W\dA\d): QAT 1 epoch ([\d.]+)%", line):
                qat[m.group(1)] = float(m.group(2))
            elif line.startswith("| mode |"):
                rhos = [float(r) / 100 for r in re.findall(r"rho ([\d.]+) %", line)]
            elif m := re.match(r"\| (cwpn|cwpl|lwpn) \|(.*)", line):
                values = [float(v) for v in m.group(2).split("|") if v.strip()]
                acc.setdefault(bits, {})[m.group(1)] = dict(zip(rhos, values))
for b in acc:
    svg = plot_rho(out, b, "MLP 784-256-256-10 on MNIST-10k", acc[b], ptq.get(b), qat.get(b),
                   name=f"efqat-mlp-{b}")
    print(b, "->", svg)
