#pragma once
// A small plain CNN: the "small CNN" of the ESSOP protocol (specs/essop.md §10) by default, and
// with channels {32, 64} the per-frame CNN baseline of ST-STDP (specs/st-stdp.md §7).
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "neurocore/nn/net.h"

namespace nc::nn {

/// Per entry c of `channels`: conv 3x3 (padding `padding`, 0 or 1) -> c, ReLU, max-pool 2
/// (floor); then flatten and,
/// per entry h of `hidden`, Linear -> h, ReLU; then Linear -> classes. Every layer has a bias.
/// The default {16, 32} / {128} on 1x28x28 is the spec's conv 3x3 16 -> pool -> conv 3x3 32 ->
/// pool -> FC 128 -> 10 (206,922 parameters). x: [B, C, H, W] -> logits [B, classes].
/// Neither spec gives the padding [guess]: 1 ("same") by default, 0 the "valid" variant.
/// Throws UserError (constructor) when a width is < 1, `channels` is empty, padding is not 0 or
/// 1 or the input is too small for its convolutions and pools (H, W >= 2^len(channels) with
/// padding 1); (forward) when x is not [B, C, H, W] of the constructed shape.
class SmallCNNImpl : public NetImpl {
 public:
  SmallCNNImpl(const InputShape& in, int64_t classes,
               std::vector<int64_t> channels = std::vector<int64_t>{16, 32},
               std::vector<int64_t> hidden = std::vector<int64_t>{128}, int64_t padding = 1);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// Every convolution, then every hidden Linear.
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  InputShape input;
  int64_t padding;
  std::vector<torch::nn::Conv2d> convs;
  std::vector<torch::nn::Linear> fcs;  // hidden layers, then the output layer
};
TORCH_MODULE(SmallCNN);

}  // namespace nc::nn
