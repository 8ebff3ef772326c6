#pragma once
// The pass over the [B, n, m] eligibility trace of a diagonal SNU layer, as a plain loop
// (ostl.md §4). The trace is the largest tensor of an OSTL step and a pass over it is
// memory-bound: one step's update and contraction cost a read and a write of the whole trace,
// while its arithmetic (three multiply-adds per element) is that of the forward and backward
// products. So the layer holds back several steps and this loop applies them together: each
// block of trace elements stays in registers across the held-back steps and the trace goes
// through memory once per chunk instead of once per step (docs/results/ostl.md, "Cost").
#include <torch/types.h>

namespace nc::learn::kernels {

/// For k = 0 .. steps-1, in order, in one pass over eps:
///   eps[b, j, i] = alpha[k, b, j] * eps[b, j, i] + gp[k, b, j] * x[k, b, i]   (in place)
///   g[j, i]     += c[k, b, j] * eps[b, j, i]                      (with step k's eps)
/// Where c[k, b, j] = 0 the multiply-add into g is skipped (no learning signal that step).
/// eps [B, n, m] and g [n, m] contiguous; alpha, gp, c [K, B, n] and x [K, B, m] contiguous
/// with K >= steps; CPU, all float or all double.
/// eps and g are written in place (their handles are const, their data is not).
void trace_update_contract(const torch::Tensor& eps, const torch::Tensor& alpha,
                           const torch::Tensor& gp, const torch::Tensor& x, const torch::Tensor& g,
                           const torch::Tensor& c, int64_t steps);

/// Whether the loop above applies: CPU, float or double, eps and g contiguous.
bool fused_applicable(const torch::Tensor& eps, const torch::Tensor& g);

}  // namespace nc::learn::kernels
