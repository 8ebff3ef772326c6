#pragma once
// Fully connected classifiers: a plain MLP and a spiking SNU MLP (snu.md §7 recipe).
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/modulelist.h>

#include "neurocore/nn/net.h"
#include "neurocore/nn/snu.h"

namespace nc::nn {

enum class MLPActivation { relu, tanh, sigmoid };

struct MLPOptions {
  MLPOptions(int64_t in, int64_t classes) : in_(in), classes_(classes) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, classes);
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{256, 256};
  TORCH_ARG(MLPActivation, activation) = MLPActivation::relu;
};

/// x [B, ...] flattened to [B, in] -> Linear -> act -> ... -> Linear -> logits [B, classes].
/// Linear layers with bias, LibTorch's default initialisation.
/// Throws UserError (constructor) when a size is < 1; (forward) when x does not flatten to in.
class MLPImpl : public NetImpl {
 public:
  explicit MLPImpl(MLPOptions options);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  MLPOptions options;
  torch::nn::ModuleList layers;
};
TORCH_MODULE(MLP);

enum class Readout { snu, linear };

struct SNUMLPOptions {
  SNUMLPOptions(int64_t in, int64_t classes) : in_(in), classes_(classes) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, classes);
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{256, 256};
  /// Options shared by every SNU layer; its in/out are ignored.
  TORCH_ARG(SNUOptions, neuron) = SNUOptions(1, 1);
  /// snu: the output layer is an SNU layer of `classes` units (with `neuron`'s options),
  /// whose spikes the caller averages over time (snu.md §6, MNIST recipe);
  /// linear: a stateless Linear (with bias) on the last hidden layer's spikes at each step.
  TORCH_ARG(Readout, readout) = Readout::snu;
};

/// Temporal: x [T, B, ...] flattened to [T, B, in] -> SNU layers -> readout -> [T, B, classes].
/// Throws UserError as MLPImpl.
class SNUMLPImpl : public NetImpl {
 public:
  explicit SNUMLPImpl(SNUMLPOptions options);
  torch::Tensor forward(const torch::Tensor& x) override;
  bool temporal() const override { return true; }
  /// The hidden SNU layers (not the readout).
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  SNUMLPOptions options;
  torch::nn::ModuleList layers;  // SNU layers, then the readout (SNU or Linear)
};
TORCH_MODULE(SNUMLP);

}  // namespace nc::nn
