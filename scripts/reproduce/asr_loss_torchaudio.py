#!/usr/bin/env python3
"""torchaudio's rnnt_loss on the inputs nc_bench_rnnt_loss wrote (same numbers, same thread
count): compares per-utterance losses (relative 1e-5) and gradients (max-abs 1e-5), measures
both gradients' error against a float64 autograd reference (utterance 1), and times loss +
gradient. Usage: asr_loss_torchaudio.py DIR REPS THREADS [--row]. Prints one JSON line
(or, with --row, a row of the Markdown table)."""
import json
import sys
import time

import torch
import torchaudio.functional as F

d, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
meta = json.load(open(f"{d}/neurocore.json"))
B, T, U, V = meta["B"], meta["T"], meta["U"], meta["V"]


def load(name, n, dtype):  # raw little-endian arrays written by nc_bench_rnnt_loss
    return torch.from_file(f"{d}/{name}", shared=False, size=n, dtype=dtype)


logits = load("logits.f32", B * T * (U + 1) * V, torch.float32).reshape(B, T, U + 1, V)
targets = load("targets.i32", B * U, torch.int32).reshape(B, U)
ll = load("logit_lengths.i32", B, torch.int32)
tl = load("target_lengths.i32", B, torch.int32)
nc_costs = load("costs.f32", B, torch.float32)
nc_grad = load("grad.f32", B * T * (U + 1) * V, torch.float32).reshape(B, T, U + 1, V)
ms = []
for r in range(reps + 1):
    x = logits.clone().requires_grad_(True)
    t0 = time.perf_counter()
    costs = F.rnnt_loss(x, targets, ll, tl, blank=0, reduction="none")
    costs.sum().backward()
    t = (time.perf_counter() - t0) * 1e3
    if r > 0:
        ms.append(t)
ms.sort()
rel = ((costs.detach() - nc_costs).abs() / nc_costs.abs()).max().item()
gdiff = (x.grad - nc_grad).abs().max().item()


def reference_grad(b):
    """Float64 gradient of utterance b by autograd through the alpha recursion (asr.md §5)."""
    Tb, Ub = ll[b].item(), tl[b].item()
    z = logits[b, :Tb, :Ub + 1].double().requires_grad_(True)
    lp = torch.log_softmax(z, -1)
    yy = targets[b, :Ub].long()
    prev = None
    for t in range(Tb):
        row = []
        for u in range(Ub + 1):
            terms = []
            if t == 0 and u == 0:
                row.append(torch.zeros((), dtype=torch.double))
                continue
            if t > 0:
                terms.append(prev[u] + lp[t - 1, u, 0])
            if u > 0:
                terms.append(row[u - 1] + lp[t, u - 1, yy[u - 1]])
            row.append(torch.logsumexp(torch.stack(terms), 0))
        prev = row
    (-(prev[Ub] + lp[Tb - 1, Ub, 0])).backward()
    return z.grad, Tb, Ub


ref, Tb, Ub = reference_grad(1)
nc_ref = (nc_grad[1, :Tb, :Ub + 1].double() - ref).abs().max().item()
ta_ref = (x.grad[1, :Tb, :Ub + 1].double() - ref).abs().max().item()
r = {"B": B, "T": T, "U": U, "V": V, "threads": threads,
                  "torchaudio_median_ms": round(ms[len(ms) // 2], 3), "torchaudio_min_ms": round(ms[0], 3),
                  "neurocore_median_ms": meta["median_ms"], "neurocore_min_ms": meta["min_ms"],
                  "loss_max_rel_diff": rel, "grad_max_abs_diff": gdiff,
     "neurocore_grad_err_vs_float64": nc_ref, "torchaudio_grad_err_vs_float64": ta_ref,
                  "torchaudio_version": __import__("torchaudio").__version__}
if len(sys.argv) > 4 and sys.argv[4] == "--row":
    print(f"| {B} | {T} | {U} | {V} | {r['neurocore_median_ms']:.1f} | {r['torchaudio_median_ms']:.1f} | "
          f"{r['loss_max_rel_diff']:.1e} | {r['grad_max_abs_diff']:.1e} | {nc_ref:.1e} | {ta_ref:.1e} |")
else:
    print(json.dumps(r))
