#pragma once
// Spiking neural unit (SNU) and its soft variant (sSNU), Wozniak et al. 2020 (snu.md §3).
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>
#include <tuple>
#include <type_traits>

#include "neurocore/nn/surrogate.h"

namespace nc::nn {

/// The SNU's membrane non-linearity g (snu.md §3, §10).
///   identity: g(u) = u (default: exact LIF equivalence)
///   relu:     g(u) = max(u, 0)
///   leaky_relu: g(u) = u if u > 0, else slope * u
enum class Activation { identity, relu, leaky_relu };

/// Calls f(std::integral_constant<Activation, g>{}): kernels fix g at compile time so that
/// their loops have no branch on it left.
template <class F>
void dispatch_activation(Activation g, F&& f) {
  switch (g) {
    case Activation::identity: f(std::integral_constant<Activation, Activation::identity>{}); break;
    case Activation::relu: f(std::integral_constant<Activation, Activation::relu>{}); break;
    case Activation::leaky_relu:
      f(std::integral_constant<Activation, Activation::leaky_relu>{});
      break;
  }
}

struct SNUOptions {
  SNUOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  /// Input features m and units n.
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  /// Adds the recurrent term H y_{t-1}.
  TORCH_ARG(bool, recurrent) = false;
  TORCH_ARG(Activation, g) = Activation::identity;
  /// Slope of leaky_relu for u <= 0, in [0, 1).
  TORCH_ARG(double, g_slope) = 0.1;
  /// sSNU: h = sigmoid (exact derivative) instead of the spike step with a surrogate.
  TORCH_ARG(bool, soft) = false;
  /// Pseudo-derivative of the step (ignored when soft).
  TORCH_ARG(Surrogate, surrogate) = {};
  /// Per-unit decay d in (0, 1]; 1 - dt/tau for a LIF time constant tau (snu.md §3).
  TORCH_ARG(double, decay) = 0.8;
  /// Learns d = sigmoid(rho) per unit, rho initialised to logit(decay); needs decay < 1.
  TORCH_ARG(bool, trainable_decay) = false;
  /// Initial value of the trainable per-unit threshold theta.
  TORCH_ARG(double, threshold_init) = 1.0;
  /// The reset factor becomes (1 - max_j y_{t-1,j}): a spike anywhere resets every unit.
  TORCH_ARG(bool, lateral_inhibition) = false;
  /// Stops the gradient through the reset factor (1 - y_{t-1}) (snu.md §10 option).
  TORCH_ARG(bool, detach_reset) = false;
};

/// State of an SNU layer: membrane potential s and output y, each [B, out].
/// Undefined tensors (SNUState{}) stand for the initial state s_0 = y_0 = 0.
struct SNUState {
  torch::Tensor s, y;
};

/// One SNU layer stepped explicitly in time (snu.md §3):
///   u_t = W x_t + H y_{t-1} + d * s_{t-1} * (1 - y_{t-1})   (H term only when recurrent)
///   s_t = g(u_t)
///   y_t = h(s_t - theta)
/// h: the step [z > 0] with options.surrogate in the backward pass (SNU), or sigmoid (sSNU).
/// With lateral_inhibition the reset factor is (1 - max_j y_{t-1,j}) for every unit j.
/// Parameters: weight W [out, in] and recurrent_weight H [out, out] (Glorot uniform),
/// threshold theta [out] (threshold_init), rho [out] when trainable_decay (d = sigmoid(rho)),
/// else a buffer "decay" [out] filled with options.decay.
class SNUCellImpl : public torch::nn::Cloneable<SNUCellImpl> {
 public:
  SNUCellImpl(int64_t in, int64_t out) : SNUCellImpl(SNUOptions(in, out)) {}
  /// Throws UserError when in/out < 1, decay is not in (0, 1] (or (0, 1) when trainable),
  /// or g_slope is not in [0, 1).
  explicit SNUCellImpl(SNUOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// s_0 = y_0 = 0, each [batch, out]; dtype and device from `options`, defaulting to the
  /// weight's.
  SNUState initial_state(int64_t batch, torch::TensorOptions options = {}) const;

  /// One time step. x: [B, in]. Returns y_t [B, out] and the new state {s_t, y_t}.
  /// Throws UserError when x is not [B, in] or the state is not [B, out].
  std::tuple<torch::Tensor, SNUState> forward(const torch::Tensor& x, const SNUState& state);

  /// The same step from a precomputed feed-forward input wx = W x_t, [B, out] (what the
  /// layer uses after one matmul over all time steps). Throws as forward.
  std::tuple<torch::Tensor, SNUState> dynamics(const torch::Tensor& wx, const SNUState& state);

  /// forward() with the element-wise part in the SNU layer's fused kernel: one autograd node
  /// instead of about seven, for callers that step one time step at a time (OSTL). The same
  /// numbers and gradients as forward(); CPU without lateral inhibition (else forward()).
  std::tuple<torch::Tensor, SNUState> forward_fused(const torch::Tensor& x,
                                                    const SNUState& state);

  /// The element-wise time loop over K steps at once, from the feed-forward inputs
  /// wx [K, B, out] (W x_t of each step) and `state` (SNUState{} for zeros): returns {y, s},
  /// each [K, B, out], from the SNU layer's fused kernel, one autograd node (the numbers of K
  /// calls of dynamics()). Only for a cell without recurrent weights and lateral inhibition
  /// on the CPU (see fused_sequence()); InternalError otherwise.
  std::pair<torch::Tensor, torch::Tensor> dynamics_sequence(const torch::Tensor& wx,
                                                            const SNUState& state);
  /// Whether dynamics_sequence applies to inputs on `device`.
  bool fused_sequence(const torch::Device& device) const;

  /// The per-unit decay d, [out]: sigmoid(rho) when trainable, else the buffer.
  torch::Tensor decay() const;

  SNUOptions options;
  torch::Tensor weight;            // [out, in]
  torch::Tensor recurrent_weight;  // [out, out], undefined unless options.recurrent
  torch::Tensor threshold;         // [out]
  torch::Tensor rho;               // [out], undefined unless options.trainable_decay

 private:
  torch::Tensor decay_;  // [out] buffer, undefined when trainable_decay
};
TORCH_MODULE(SNUCell);

/// An SNU layer over a whole sequence: the cell's equations at t = 1..T from s_0 = y_0 = 0.
/// Without recurrence and lateral inhibition it computes W x for all steps in one matmul
/// ([T*B, in] x [in, out]) and runs the element-wise time loop as one fused autograd
/// function with a hand-written backward (CPU); the numbers equal the step-by-step cell's
/// (spikes and states bit-identical for the SNU; the sSNU's sigmoid may differ by an ulp).
/// Otherwise it steps the cell.
class SNUImpl : public torch::nn::Cloneable<SNUImpl> {
 public:
  SNUImpl(int64_t in, int64_t out) : SNUImpl(SNUOptions(in, out)) {}
  /// Throws as SNUCellImpl.
  explicit SNUImpl(SNUOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// x_seq: [T, B, in] -> y: [T, B, out]. Throws UserError on another shape.
  torch::Tensor forward(const torch::Tensor& x_seq);

  /// As forward, from `state` (SNUState{} for zeros); also returns the state after step T
  /// (for truncated BPTT).
  std::tuple<torch::Tensor, SNUState> unroll(const torch::Tensor& x_seq, const SNUState& state);

  SNUOptions options;
  SNUCell cell = nullptr;
};
TORCH_MODULE(SNU);

}  // namespace nc::nn
