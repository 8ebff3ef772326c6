#pragma once
// Leaky integrate-and-fire neurons, discretised in time (snu.md §2).
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <ostream>
#include <tuple>

#include "neurocore/nn/surrogate.h"

namespace nc::nn {

/// Discretisation of tau_m dV/dt = -V + R I with step dt (snu.md §2):
///   euler:       alpha = 1 - dt / tau_m      (the SNU paper's; default)
///   exponential: alpha = exp(-dt / tau_m)    (exact for input held over the step)
enum class LIFScheme { euler, exponential };

struct LIFOptions {
  LIFOptions(int64_t in, int64_t out) : in_(in), out_(out) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  /// Membrane time constant and time step, in ms. Euler needs tau_m >= dt.
  TORCH_ARG(double, tau_m) = 10;
  TORCH_ARG(double, dt) = 1;
  /// Fixed firing threshold V_th and reset value V_reset (V_rest = 0).
  TORCH_ARG(double, threshold) = 1.0;
  TORCH_ARG(double, v_reset) = 0;
  TORCH_ARG(LIFScheme, scheme) = LIFScheme::euler;
  /// Steps after a spike during which the neuron ignores its input, stays at v_reset and
  /// cannot spike.
  TORCH_ARG(int64_t, refractory_steps) = 0;
  TORCH_ARG(Surrogate, surrogate) = {};
  /// Stops the gradient through the reset (as SNUOptions::detach_reset).
  TORCH_ARG(bool, detach_reset) = false;
};

/// v: membrane potential, y: spikes of the last step, refractory: steps left (int64), each
/// [B, out]. Undefined tensors (LIFState{}) stand for v = y = refractory = 0.
struct LIFState {
  torch::Tensor v, y, refractory;
};

/// One LIF layer stepped explicitly in time, reset to V_reset, V_rest = 0:
///   v'  = v_{t-1} (1 - y_{t-1}) + V_reset y_{t-1}             (reset after a spike)
///   v_t = alpha v' + W x_t                                     (alpha from the scheme)
///   y_t = step(v_t - V_th), surrogate gradient in the backward pass
/// and, while refractory > 0: v_t = V_reset, y_t = 0. After a spike refractory becomes
/// refractory_steps, else max(refractory - 1, 0).
/// The input gain (R dt / tau_m for euler, R (1 - alpha) for exponential) is folded into
/// the weight W [out, in] (Glorot uniform, no bias), as in the SNU (snu.md §3): with
/// V_reset = 0 and no refractory period, an euler LIF equals an SNU with g = identity,
/// d = alpha, theta = V_th.
class LIFCellImpl : public torch::nn::Cloneable<LIFCellImpl> {
 public:
  LIFCellImpl(int64_t in, int64_t out) : LIFCellImpl(LIFOptions(in, out)) {}
  /// Throws UserError when in/out < 1, tau_m or dt <= 0, euler with tau_m < dt, or
  /// refractory_steps < 0.
  explicit LIFCellImpl(LIFOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// The membrane decay per step.
  double alpha() const;

  /// Zero state [batch, out]; dtype/device from `options`, defaulting to the weight's.
  LIFState initial_state(int64_t batch, torch::TensorOptions options = {}) const;

  /// One step. x: [B, in]. Returns y_t [B, out] and the new state.
  /// Throws UserError when x is not [B, in] or the state is not [B, out].
  std::tuple<torch::Tensor, LIFState> forward(const torch::Tensor& x, const LIFState& state);

  /// The same step from a precomputed input current wx = W x_t, [B, out].
  std::tuple<torch::Tensor, LIFState> dynamics(const torch::Tensor& wx, const LIFState& state);

  LIFOptions options;
  torch::Tensor weight;  // [out, in]
};
TORCH_MODULE(LIFCell);

/// A LIF layer over a sequence from the zero state: x_seq [T, B, in] -> spikes [T, B, out].
/// W x for all steps is one matmul; the time loop steps LIFCellImpl::dynamics.
class LIFImpl : public torch::nn::Cloneable<LIFImpl> {
 public:
  LIFImpl(int64_t in, int64_t out) : LIFImpl(LIFOptions(in, out)) {}
  explicit LIFImpl(LIFOptions options);

  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  /// Throws UserError when x_seq is not [T, B, in].
  torch::Tensor forward(const torch::Tensor& x_seq);

  LIFOptions options;
  LIFCell cell = nullptr;
};
TORCH_MODULE(LIF);

}  // namespace nc::nn
