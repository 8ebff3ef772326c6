#pragma once
// Recurrent units of the bio-inspired RNN-T (asr.md §3): the LSTM baseline, SNU / sSNU with
// recurrent weights, and the units with an axo-axonic gate (sSNU-AA, sSNU-AA-x, SNU-AA).
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "neurocore/nn/surrogate.h"

namespace nc::nn {

/// lstm | snu | ssnu | snu_aa | ssnu_aa (DEFAULT of the spec) | ssnu_aa_x.
enum class AsrUnitKind { lstm, snu, ssnu, snu_aa, ssnu_aa, ssnu_aa_x };

/// Parses the names above; UserError naming `field` otherwise.
AsrUnitKind parse_asr_unit(const std::string& name, const std::string& field);
std::string asr_unit_name(AsrUnitKind kind);

struct AsrUnitOptions {
  AsrUnitOptions(int64_t in, int64_t out, AsrUnitKind kind) : in_(in), out_(out), kind_(kind) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, out);
  TORCH_ARG(AsrUnitKind, kind);
  /// Membrane decay d (fixed), or the initial value of d = sigmoid(rho) when trainable.
  TORCH_ARG(double, decay) = 0.8;
  TORCH_ARG(bool, trainable_decay) = false;
  /// Initial threshold theta (trainable, per unit).
  TORCH_ARG(double, threshold_init) = 0.0;
  /// Reset source: the soma's own output z (DEFAULT, asr.md §3) or the transmitted y.
  TORCH_ARG(bool, reset_from_y) = false;
  /// g: ReLU (DEFAULT, as the SNU papers' units) or identity.
  TORCH_ARG(bool, relu) = true;
  /// SNU / SNU-AA step's pseudo-derivative (asr.md §3: tanh').
  TORCH_ARG(Surrogate, surrogate) = {};
};

/// Recurrent state: SNU family {s, z, y}; LSTM {h, c}. Empty vector = zero initial state.
using AsrUnitState = std::vector<torch::Tensor>;

/// One layer of any unit kind, stepped in time (asr.md §3):
///   s_t = g(W x_t + H y_{t-1} + d * s_{t-1} * (1 - r_{t-1}))     r = z (or y)
///   z_t = h(s_t - theta)          h = sigmoid (sSNU*) or step with surrogate (SNU*)
///   o_t = sigmoid(W_a x_t + H_a y_{t-1} + b_a)   (AA; AA-x: no H_a; plain units: o = 1)
///   y_t = o_t * z_t
/// LSTM: PyTorch's gate equations (i, f, g, o), output h.
/// Parameters: weight [G n, m] and recurrent_weight [G n, n] where G stacks the unit's input
/// projections (LSTM 4, AA 2, AA-x 2 for W but 1 for H, plain 1), bias [G n], threshold [n],
/// rho [n] when the decay is trainable.
class AsrUnitImpl : public torch::nn::Cloneable<AsrUnitImpl> {
 public:
  /// Throws UserError when in/out < 1 or decay is outside (0, 1] ((0, 1) when trainable).
  explicit AsrUnitImpl(AsrUnitOptions options);
  void reset() override;

  /// x [T, B, in] -> y [T, B, out], from `state` (empty: zeros) and updating it. Only the
  /// recurrent part is a loop: W x_t for all t is one matrix product.
  torch::Tensor forward(const torch::Tensor& x, AsrUnitState& state);
  /// One step: x [B, in] -> y [B, out].
  torch::Tensor step(const torch::Tensor& x, AsrUnitState& state);

  /// Multiply-accumulates per time step (asr.md §3): LSTM 4n(m+n), SNU/sSNU n(m+n),
  /// AA 2n(m+n), AA-x n(m+n) + n m.
  int64_t macs_per_step() const;
  bool is_lstm() const { return options.kind() == AsrUnitKind::lstm; }
  /// The decay d [n].
  torch::Tensor decay() const;

  AsrUnitOptions options;
  torch::Tensor weight, recurrent_weight, bias, threshold, rho;

 private:
  // One step from the precomputed input projection wx [B, G n] (bias included).
  torch::Tensor cell(const torch::Tensor& wx, AsrUnitState& state);
  torch::Tensor decay_;
};
TORCH_MODULE(AsrUnit);

}  // namespace nc::nn
