#pragma once
// GRAPES: weight-dependent modulation of the error signals of hidden layers
// (Dellaferrera et al., Nat. Commun. 13, 1885, 2022; specs/grapes.md, docs/grapes.md).
//
// For each hidden layer l with weights W^l (rows = units), once per mini-batch and without
// gradient:
//   I^l_n = sum_i |W^l_{n,i}|                  (conv: K.abs().sum({1,2,3}), one per channel)
//   F^l_n = clamp(2 I^l_n / max_k I^l_k, 1, 2)   (clip; unclipped: 2 I / max in [0, 2])
// propagating (default): the error of each hidden layer is multiplied by F^l and the
//   modulated error propagates to the layers below, so layer l's gradient carries the
//   product of the F's of the hidden layers from l upward (spec §4);
// local: only layer l's own weight (and bias) gradient rows are multiplied by F^l; the
//   unmodulated error propagates (spec §5, [recon]).
// The output layer is never modulated. Works with any optimizer and any rule that
// differentiates the model's forward pass by autograd (BPTT).
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "neurocore/learn/rule.h"

namespace nc::learn {

enum class GrapesVersion { propagating, local };

struct GrapesOptions {
  TORCH_ARG(GrapesVersion, version) = GrapesVersion::propagating;
  /// Clamp F to [1, 2] (spec default for backpropagation); false: F = 2 I / max I in [0, 2].
  TORCH_ARG(bool, clip) = true;
};

/// Node importance I_n = sum over all but the first dimension of |weight|:
/// weight [out, in] -> [out]; [out, in, kh, kw] -> [out]. Never per layer (spec §10.6).
/// Throws InternalError when weight has fewer than 2 dimensions.
torch::Tensor grapes_importance(const torch::Tensor& weight);

/// F = 2 I / max(I), clamped to [1, 2] when clip. importance [N] -> F [N], no gradient.
/// When max(I) = 0 (an all-zero layer) F = 1: every unit is equally unimportant and the
/// error is left unchanged (a choice, docs/grapes.md).
torch::Tensor grapes_factor(const torch::Tensor& importance, bool clip);

/// The weight that defines a producer's importance: Linear and Conv1d/2d/3d `weight`, SNU
/// layer `cell->weight` (the input matrix W; the recurrent H is excluded, spec §7).
/// Throws UserError for another module type.
torch::Tensor grapes_weight(const torch::nn::Module& producer);

/// GRAPES attached to a model through its hidden-layer hook point
/// (nn::NetImpl::hidden_producers / set_hidden_hook); the model's code is unchanged.
/// The model must outlive this object, whose destructor detaches it.
class Grapes : public Modulation {
 public:
  /// Attaches to `model` and computes the factors from its current weights.
  /// Throws UserError when the model has no hidden layer, or a hidden producer is not a
  /// Linear, Conv or SNU module.
  explicit Grapes(nn::NetImpl& model, GrapesOptions options = {});
  ~Grapes() override;
  Grapes(const Grapes&) = delete;
  Grapes& operator=(const Grapes&) = delete;

  std::string name() const override { return "grapes"; }
  /// Recomputes every F from the current weights (NoGradGuard). `model` must be the
  /// attached model (InternalError otherwise).
  void before_batch(nn::NetImpl& model) override;

  const GrapesOptions& options() const { return options_; }
  /// The current factors, one [N_l] tensor per hidden producer, input side first.
  const std::vector<torch::Tensor>& factors() const { return factors_; }

 private:
  struct Layer {
    std::shared_ptr<torch::nn::Module> producer;
    bool channels = false;  // conv: F applies to dimension 1 of [B, C, ...]
  };
  struct ParamHook {
    torch::Tensor param;
    unsigned handle;
  };
  torch::Tensor modulate(const torch::nn::Module& producer, const torch::Tensor& a) const;
  void compute_factors();

  nn::NetImpl* model_;
  GrapesOptions options_;
  std::vector<Layer> layers_;
  std::vector<torch::Tensor> factors_;
  std::vector<ParamHook> param_hooks_;  // local version
};

}  // namespace nc::learn
