#pragma once
// LeNet-5 (LeCun et al. 1998) adapted to 28x28 inputs with ReLU and max pooling.
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "neurocore/nn/net.h"

namespace nc::nn {

/// conv 5x5 pad 2 -> 6, ReLU, max-pool 2 -> conv 5x5 -> 16, ReLU, max-pool 2 -> flatten ->
/// 120, ReLU -> 84, ReLU -> classes. x: [B, C, H, W] -> logits [B, classes].
/// For 1x28x28 and 10 classes: 61,706 parameters. `channels`: the widths of conv1, conv2, fc1
/// and fc2 (default 6, 16, 120, 84; others describe a channel-pruned, shrunk LeNet-5,
/// docs/prune.md).
/// Throws UserError (constructor) when channels is not 4 values >= 1, when H or W < 12 (nothing left after the second pool);
/// (forward) when x is not [B, C, H, W] of the constructed shape.
class LeNet5Impl : public NetImpl {
 public:
  LeNet5Impl(const InputShape& in, int64_t classes,
             std::vector<int64_t> channels = std::vector<int64_t>{6, 16, 120, 84});
  torch::Tensor forward(const torch::Tensor& x) override;
  /// conv1, conv2, fc1, fc2.
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  InputShape input;
  std::vector<int64_t> channels;
  torch::nn::Conv2d conv1 = nullptr, conv2 = nullptr;
  torch::nn::Linear fc1 = nullptr, fc2 = nullptr, fc3 = nullptr;
};
TORCH_MODULE(LeNet5);

}  // namespace nc::nn
