#pragma once
// The model interface every trainer, compressor and exporter works with, and the model
// registry that builds one from the `model` section of a config.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "neurocore/core/config.h"

namespace nc::nn {

/// A classifier.
///   non-temporal: forward(x [B, C, H, W]) -> logits [B, classes]
///   temporal (spiking): forward(x [T, B, C, H, W]) -> per-step outputs [T, B, classes];
///     each step is flattened to C*H*W features; the caller averages over T (snu.md §6).
///
/// Hidden-layer hook point (used by error modulations such as GRAPES, which attach to a model
/// without changing its code): every model passes each hidden layer's activation through
/// hidden(producer, activation), where producer is the Linear / Conv2d / SNU module whose
/// weights produced it. Without an installed hook hidden() returns the activation itself.
class NetImpl : public torch::nn::Module {
 public:
  /// Called with the producing module and the activation ([B, N], [B, C, H, W] or, for SNU
  /// layers, the whole output sequence [T, B, N]); returns the tensor the model uses in its
  /// place (the same values: a hook may only change the backward pass).
  using HiddenHook =
      std::function<torch::Tensor(const torch::nn::Module& producer, const torch::Tensor&)>;

  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual bool temporal() const { return false; }

  /// The modules producing the hidden activations, input side first, in the order forward
  /// passes them to hidden(); the output layer is not included. Empty by default.
  virtual std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() { return {}; }
  /// Installs `hook` (an empty function removes it).
  void set_hidden_hook(HiddenHook hook) { hidden_hook_ = std::move(hook); }
  const HiddenHook& hidden_hook() const { return hidden_hook_; }

 protected:
  torch::Tensor hidden(const torch::nn::Module& producer, const torch::Tensor& activation) const {
    return hidden_hook_ ? hidden_hook_(producer, activation) : activation;
  }

 private:
  HiddenHook hidden_hook_;
};

/// Shape of one input sample (one time step for temporal nets).
struct InputShape {
  int64_t channels = 1, height = 28, width = 28;
};

/// Names accepted by make_model's `name` key:
/// mlp, snu-mlp, lstm, gru, rnn, lenet5, cnn, resnet, resnet20, resnet32, resnet56, oren, snu-saccade
/// (the last two: oddity riddles, oddity_nets.h).
std::vector<std::string> model_names();

/// Builds the model described by `section` (keys: docs/nn.md) for inputs of shape `in` and
/// `num_classes` outputs. The key `name` (default "mlp") selects the model; every other key
/// is validated by the model, then section.finish() rejects keys that were not read.
/// Throws UserError on an unknown name (closest name suggested), a bad or unknown key, or
/// an input shape the model cannot take (e.g. too small for LeNet-5's convolutions).
std::shared_ptr<NetImpl> make_model(nc::ConfigSection section, const InputShape& in,
                                    int64_t num_classes);

/// Number of trainable (requires_grad) parameter elements of m and its submodules.
int64_t count_parameters(const torch::nn::Module& m);

}  // namespace nc::nn
