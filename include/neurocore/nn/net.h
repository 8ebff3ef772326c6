#pragma once
// The model interface every trainer, compressor and exporter works with, and the model
// registry that builds one from the `model` section of a config.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "neurocore/core/config.h"

namespace nc::nn {

/// A classifier.
///   non-temporal: forward(x [B, C, H, W]) -> logits [B, classes]
///   temporal (spiking): forward(x [T, B, C, H, W]) -> per-step outputs [T, B, classes];
///     each step is flattened to C*H*W features; the caller averages over T (snu.md §6).
class NetImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual bool temporal() const { return false; }
};

/// Shape of one input sample (one time step for temporal nets).
struct InputShape {
  int64_t channels = 1, height = 28, width = 28;
};

/// Names accepted by make_model's `name` key:
/// mlp, snu-mlp, lenet5, resnet, resnet20, resnet32, resnet56.
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
