#pragma once
// The pass over the [B, n, m] eligibility trace of a diagonal SNU layer, as a plain loop
// (ostl.md §4). The trace is the largest tensor of an OSTL step and every pass over it is
// memory-bound: LibTorch's mul_ + addcmul_ read and wrote it twice, and the contraction's bmm
// over the transposed trace copied it first (docs/results/ostl.md, "Cost"); this loop updates
// the trace and contracts it with the learning signal in one read and one write.
#include <torch/types.h>

namespace nc::learn::kernels {

/// In one pass over eps:
///   eps[b, j, i] = alpha[b, j] * eps[b, j, i] + gp[b, j] * x[b, i]   (in place)
///   g[j, i]     += sum_b c[b, j] * eps[b, j, i]                      (the updated eps)
/// Rows with c[b, j] = 0 skip the multiply-add into g (c = 0 everywhere: the update alone).
/// eps [B, n, m] and g [n, m] contiguous; alpha, gp, c [B, n]; x [B, m]; CPU float or double.
void trace_update_contract(torch::Tensor& eps, const torch::Tensor& alpha, const torch::Tensor& gp,
                           const torch::Tensor& x, torch::Tensor& g, const torch::Tensor& c);

/// Whether the loop above applies: CPU, float or double, eps and g contiguous.
bool fused_applicable(const torch::Tensor& eps, const torch::Tensor& g);

}  // namespace nc::learn::kernels
