#pragma once
// The small per-frame CNN of the ST-STDP baselines (../shared/specs/st-stdp.md §7):
// conv 3x3 -> 32 + max-pool 2, conv 3x3 -> 64 + max-pool 2, FC 128, FC classes, ReLU.
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "neurocore/nn/net.h"

namespace nc::nn {

/// conv 3x3 (padding `padding`) -> c[0], ReLU, max-pool 2 -> conv 3x3 (padding) -> c[1], ReLU,
/// max-pool 2 -> flatten -> c[2], ReLU -> classes. x: [B, C, H, W] -> logits [B, classes].
/// The spec does not give the padding [guess]: default 1 ("same": 28 -> 14 -> 7), 0 is the
/// "valid" variant (28 -> 26 -> 13 -> 11 -> 5). For 1x28x28, 10 classes and padding 1:
/// 320 + 18,496 + 401,536 + 1,290 = 421,642 parameters.
/// Throws UserError (constructor) when channels is not 3 values >= 1, padding is not 0 or 1 or
/// nothing is left after the second pool; (forward) when x is not [B, C, H, W] of that shape.
class CnnImpl : public NetImpl {
 public:
  CnnImpl(const InputShape& in, int64_t classes, std::vector<int64_t> channels = {32, 64, 128},
          int64_t padding = 1);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// conv1, conv2, fc1.
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  InputShape input;
  std::vector<int64_t> channels;
  int64_t padding;
  torch::nn::Conv2d conv1 = nullptr, conv2 = nullptr;
  torch::nn::Linear fc1 = nullptr, fc2 = nullptr;
};
TORCH_MODULE(Cnn);

}  // namespace nc::nn
