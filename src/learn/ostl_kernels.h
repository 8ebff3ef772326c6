#pragma once
// The pass over the eligibility trace epsW of a diagonal SNU layer, as a plain loop (ostl.md
// §4). The trace is the largest tensor of an OSTL step: one step's update and contraction are
// a read and a write of the whole trace for three vector operations per element. So the layer
// holds back several steps and this loop applies them together, as one linear map per trace
// row (2K + 2 multiply-adds per element for K steps, with the trace in registers), and it
// stores the trace input-major so that a row skips the steps at which its input is zero
// (docs/ostl.md, "How a diagonal step runs").
#include <torch/types.h>

#include "neurocore/nn/snu.h"

namespace nc::learn::kernels {

/// For k = 0 .. steps-1, in order, in one pass over eps:
///   eps[b, i, j] = alpha[k, b, j] * eps[b, i, j] + gp[k, b, j] * x[b, k, i]   (in place)
///   g[i, j]     += c[k, b, j] * eps[b, i, j]                      (with step k's eps)
/// eps [B, m, n] and g [m, n] (G transposed) contiguous: input-major, so that a trace row
/// (b, i) goes with one input, and the steps at which that input is zero (most steps, for
/// spikes) are skipped. alpha, gp, c [K, B, n] and x [B, K, m] contiguous with K >= steps;
/// CPU, all float or all double. (x is batch-major so that the steps of one batch element are
/// adjacent: as [K, B, m], 16 steps were rows 32 KiB apart, and as many of them as the
/// cache's ways shared one set.)
/// eps and g are written in place (their handles are const, their data is not).
/// fresh: eps holds no values yet and is read as zeros (a new sequence's trace: no memset).
void trace_update_contract(const torch::Tensor& eps, const torch::Tensor& alpha,
                           const torch::Tensor& gp, const torch::Tensor& x, const torch::Tensor& g,
                           const torch::Tensor& c, int64_t steps, bool fresh = false);

/// The per-unit part of a diagonal layer's steps t = 1 .. K, each in one pass over [B, n]
/// (the tensor-op form in SNUOstlLayer::step is the reference; each operation there is a pass
/// of its own):
///   g'   = g'(u^t), read from s^t               -> gp (written)
///   a    = d (1 - y^{t-1}) [- d s^{t-1} h'^{t-1} unless detach_reset]
///   alpha = g' a                                 -> alpha (written)
///   eps_th = alpha eps_th [+ g' d s^{t-1} h'^{t-1} unless detach_reset]
///   eps_d  = alpha eps_d + g' s^{t-1} (1 - y^{t-1})    (skipped when undefined)
/// s, gp, alpha: [K, B, n], or [B, n] for K = 1. s_prev, y_prev, hp_prev: the state and h'
/// before step 1, [B, n]; after it they are read from s, y and hp, [K, B, n] (y and hp may be
/// undefined when K = 1). eps_th, eps_d: the traces before step 1, [B, n]; the traces after
/// each step go to eps_th_out, eps_d_out, [K, B, n] (a chunk keeps every step's values for its
/// learning signals); for K = 1 these may be undefined, and eps_th, eps_d are updated in place.
/// d: [n]; all contiguous CPU tensors of one floating dtype.
struct DiagStep {
  torch::Tensor s, y, hp, s_prev, y_prev, hp_prev, d;
  nn::Activation g = nn::Activation::identity;
  double g_slope = 0;
  bool detach_reset = false;
  torch::Tensor gp, alpha, eps_th, eps_d;
  torch::Tensor eps_th_out, eps_d_out;
};
void diag_step(const DiagStep& step);

/// The per-unit part of accumulate(), in one pass over [B, n]:
///   l = L h';  c += l;  g_th += sum_b l (eps_th - 1);  g_rho += sum_b l eps_d * d (1 - d)
/// c [B, n], g_th, g_rho [n] are added to (g_rho and eps_d may be undefined).
void diag_accumulate(const torch::Tensor& L, const torch::Tensor& hp, const torch::Tensor& eps_th,
                     const torch::Tensor& eps_d, const torch::Tensor& d, const torch::Tensor& c,
                     const torch::Tensor& g_th, const torch::Tensor& g_rho);

/// Whether the loop above applies to a trace of these options and a gradient g: CPU, float or
/// double, both of one dtype.
bool fused_applicable(const torch::TensorOptions& eps, const torch::Tensor& g);

}  // namespace nc::learn::kernels
