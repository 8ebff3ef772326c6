#pragma once
// Fused element-wise SNU time loop (private to nc_nn): the part of the SNU equations that
// follows the feed-forward matmul, for all T steps at once, as one autograd function.
#include <torch/types.h>

#include <utility>

#include "neurocore/nn/snu.h"

namespace nc::nn::detail {

struct SNUDynamicsConfig {
  Activation g = Activation::identity;
  double g_slope = 0.1;
  bool soft = false;
  Surrogate surrogate;
  bool detach_reset = false;
};

/// For t = 1..T, element-wise (snu.md §3, no recurrence, no lateral inhibition):
///   s_t = g(wx_t + d * s_{t-1} * (1 - y_{t-1})),   y_t = h(s_t - theta)
/// wx: [T, B, N]; d, theta: [N]; s0, y0: [B, N], or both undefined for s_0 = y_0 = 0; all of
/// one floating dtype on the CPU.
/// Returns {y, s}, each [T, B, N]. The backward pass is hand-written (gradients to wx, d,
/// theta, s0, y0) and equals autograd through SNUCellImpl::dynamics.
std::pair<torch::Tensor, torch::Tensor> snu_dynamics(const torch::Tensor& wx,
                                                     const torch::Tensor& d,
                                                     const torch::Tensor& theta,
                                                     const torch::Tensor& s0,
                                                     const torch::Tensor& y0,
                                                     const SNUDynamicsConfig& config);

}  // namespace nc::nn::detail
