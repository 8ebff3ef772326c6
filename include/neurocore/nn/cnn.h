#pragma once
// A small plain CNN: the "small CNN" of the ESSOP protocol (specs/essop.md §10).
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "neurocore/nn/net.h"

namespace nc::nn {

/// Per entry c of `channels`: conv 3x3 pad 1 -> c, ReLU, max-pool 2 (floor); then flatten and,
/// per entry h of `hidden`, Linear -> h, ReLU; then Linear -> classes. Every layer has a bias.
/// The default {16, 32} / {128} on 1x28x28 is the spec's conv 3x3 16 -> pool -> conv 3x3 32 ->
/// pool -> FC 128 -> 10 (206,922 parameters). x: [B, C, H, W] -> logits [B, classes].
/// Throws UserError (constructor) when a width is < 1, `channels` is empty or the input is
/// too small for its pools (H, W >= 2^len(channels)); (forward) when x is not [B, C, H, W] of
/// the constructed shape.
class SmallCNNImpl : public NetImpl {
 public:
  SmallCNNImpl(const InputShape& in, int64_t classes,
               std::vector<int64_t> channels = std::vector<int64_t>{16, 32},
               std::vector<int64_t> hidden = std::vector<int64_t>{128});
  torch::Tensor forward(const torch::Tensor& x) override;
  /// Every convolution, then every hidden Linear.
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  InputShape input;
  std::vector<torch::nn::Conv2d> convs;
  std::vector<torch::nn::Linear> fcs;  // hidden layers, then the output layer
};
TORCH_MODULE(SmallCNN);

}  // namespace nc::nn
