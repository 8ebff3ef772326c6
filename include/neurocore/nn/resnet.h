#pragma once
// CIFAR-style residual networks (He et al., "Deep Residual Learning for Image Recognition",
// 2016, §4.2): ResNet-20/32/56 and any depth 6n + 2.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "neurocore/nn/net.h"

namespace nc::nn {

/// How a block's shortcut matches a change of shape (stride 2, more channels):
///   A: parameter-free: subsample with stride 2 and zero-pad the new channels (the paper's
///      CIFAR choice; default);
///   B: projection: 1x1 convolution with the block's stride, then batch norm.
enum class Shortcut { A, B };

struct ResNetOptions {
  ResNetOptions(int64_t depth, int64_t classes) : depth_(depth), classes_(classes) {}
  /// 6n + 2 layers: n basic blocks per stage.
  TORCH_ARG(int64_t, depth);
  TORCH_ARG(int64_t, classes);
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Channels of the first stage; the stages have width, 2 width, 4 width.
  TORCH_ARG(int64_t, width) = 16;
  TORCH_ARG(Shortcut, shortcut) = Shortcut::A;
  /// Explicit output channels of every convolution (a channel-pruned, shrunk network,
  /// docs/prune.md): the stem, then conv1 and conv2 of each block in order (1 + 6n values);
  /// empty: the uniform widths above. With shortcut A, a block whose shape changes then adds a
  /// frozen 1x1 "select" convolution (0/1 weights, stride of the block, no bias, no BN) instead
  /// of the zero padding; a fresh one maps input channel j to output channel j + (out - in) / 2
  /// as the padding does, a shrunk one maps each kept channel to where it went.
  TORCH_ARG(std::vector<int64_t>, channels) = std::vector<int64_t>{};
};

/// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); 3x3 convolutions without bias,
/// conv1 with the block's stride and `mid` output channels (-1: planes). `select`: a shape
/// change with shortcut A uses a frozen 1x1 select convolution (projection of size 1) instead
/// of the zero padding (ResNetOptions::channels).
class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride, Shortcut shortcut,
                 int64_t mid = -1, bool select = false);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  /// As forward, passing relu(bn1(conv1 x)) and bn2(conv2 .) (before the residual addition)
  /// through `hook` when it is set (NetImpl's hidden-layer hook point).
  torch::Tensor forward_with(const torch::Tensor& x, const NetImpl::HiddenHook& hook);

  int64_t in_planes, planes, stride, mid;
  Shortcut shortcut_kind;
  bool select;
  torch::nn::Conv2d conv1 = nullptr, conv2 = nullptr;
  torch::nn::BatchNorm2d bn1 = nullptr, bn2 = nullptr;
  // Option B when the shape changes: [1x1 conv, BN]; a select shortcut: [frozen 1x1 conv];
  // else empty.
  torch::nn::Sequential projection = nullptr;
};
TORCH_MODULE(BasicBlock);

/// conv 3x3 (in_channels -> width), BN, ReLU -> 3 stages of n blocks (widths w, 2w, 4w;
/// strides 1, 2, 2) -> global average pool -> linear (with bias) -> logits.
/// x: [B, in_channels, H, W] (any H, W >= 1) -> [B, classes]. Convolution and linear weights
/// are Kaiming-normal (fan_in, gain sqrt 2), BN starts at weight 1, bias 0.
/// Trainable parameters with 3 input channels, 10 classes, width 16:
///   option A: ResNet-20 269,722; ResNet-32 464,154; ResNet-56 853,018
///   option B: ResNet-20 272,474; ResNet-32 466,906; ResNet-56 855,770
/// (the published 0.27M / 0.46M / 0.85M).
/// Throws UserError (constructor) when depth is not 6n + 2 with n >= 1, a size is < 1 or
/// channels has neither 0 nor 1 + 6n values;
/// (forward) when x is not [B, in_channels, H, W].
class ResNetImpl : public NetImpl {
 public:
  explicit ResNetImpl(ResNetOptions options);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// The stem conv1, then conv1 and conv2 of every block (projection shortcuts excluded).
  std::vector<std::shared_ptr<torch::nn::Module>> hidden_producers() override;

  ResNetOptions options;
  torch::nn::Conv2d conv1 = nullptr;
  torch::nn::BatchNorm2d bn1 = nullptr;
  torch::nn::Sequential stage1 = nullptr, stage2 = nullptr, stage3 = nullptr;
  torch::nn::Linear fc = nullptr;
};
TORCH_MODULE(ResNet);

}  // namespace nc::nn
