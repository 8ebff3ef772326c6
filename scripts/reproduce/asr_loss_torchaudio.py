#!/usr/bin/env python3
"""torchaudio's rnnt_loss on the inputs nc_bench_rnnt_loss wrote (same numbers, same thread
count): compares per-utterance losses (relative 1e-5) and gradients (max-abs 1e-5) and times
loss + gradient. Usage: asr_loss_torchaudio.py DIR REPS THREADS. Prints one JSON line."""
import json
import sys
import time

import numpy as np
import torch
import torchaudio.functional as F

d, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
meta = json.load(open(f"{d}/neurocore.json"))
B, T, U, V = meta["B"], meta["T"], meta["U"], meta["V"]
logits = torch.from_numpy(np.fromfile(f"{d}/logits.f32", dtype=np.float32).reshape(B, T, U + 1, V))
targets = torch.from_numpy(np.fromfile(f"{d}/targets.i32", dtype=np.int32).reshape(B, U))
ll = torch.from_numpy(np.fromfile(f"{d}/logit_lengths.i32", dtype=np.int32))
tl = torch.from_numpy(np.fromfile(f"{d}/target_lengths.i32", dtype=np.int32))
nc_costs = torch.from_numpy(np.fromfile(f"{d}/costs.f32", dtype=np.float32))
nc_grad = torch.from_numpy(np.fromfile(f"{d}/grad.f32", dtype=np.float32).reshape(B, T, U + 1, V))
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
print(json.dumps({"B": B, "T": T, "U": U, "V": V, "threads": threads,
                  "torchaudio_median_ms": round(ms[len(ms) // 2], 3), "torchaudio_min_ms": round(ms[0], 3),
                  "neurocore_median_ms": meta["median_ms"], "neurocore_min_ms": meta["min_ms"],
                  "loss_max_rel_diff": rel, "grad_max_abs_diff": gdiff,
                  "torchaudio_version": __import__("torchaudio").__version__}))
