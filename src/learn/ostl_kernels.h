#pragma once
// The two passes over the [B, n, m] eligibility trace of a diagonal SNU layer, as plain loops
// (ostl.md §4). The trace is the largest tensor of an OSTL step and every pass over it is
// memory-bound: LibTorch's mul_ + addcmul_ read and wrote it twice, and the contraction's bmm
// over the transposed trace copied it first (docs/results/ostl.md, "Cost").
#include <torch/types.h>

namespace nc::learn::kernels {

/// eps[b, j, i] = alpha[b, j] * eps[b, j, i] + gp[b, j] * x[b, i], in place, one pass.
/// eps [B, n, m] contiguous; alpha, gp [B, n]; x [B, m]; CPU float or double.
void trace_update(torch::Tensor& eps, const torch::Tensor& alpha, const torch::Tensor& gp,
                  const torch::Tensor& x);

/// g[j, i] += sum_b c[b, j] * eps[b, j, i], one pass over eps; rows with c = 0 are skipped.
/// g [n, m] contiguous; c [B, n]; eps as above.
void trace_contract(torch::Tensor& g, const torch::Tensor& c, const torch::Tensor& eps);

/// trace_update then trace_contract with the updated trace, in one pass over eps.
void trace_update_contract(torch::Tensor& eps, const torch::Tensor& alpha, const torch::Tensor& gp,
                           const torch::Tensor& x, torch::Tensor& g, const torch::Tensor& c);

/// Whether the loops above apply: CPU, float or double, eps and g contiguous.
bool fused_applicable(const torch::Tensor& eps, const torch::Tensor& g);

}  // namespace nc::learn::kernels
