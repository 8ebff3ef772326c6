#pragma once
// Shared by the compress tests: a small ResNet-8 (1 input channel, width 4) in eval mode whose
// BatchNorm layers have non-trivial statistics and affine parameters, so that folding and
// quantization have real work to do.
#include <torch/torch.h>

#include <memory>

#include "neurocore/nn/resnet.h"

namespace nc::compress::testing {

inline std::shared_ptr<nn::ResNetImpl> small_resnet(uint64_t seed, nn::Shortcut shortcut) {
  torch::manual_seed(seed);
  auto net = std::make_shared<nn::ResNetImpl>(
      nn::ResNetOptions(8, 10).in_channels(1).width(4).shortcut(shortcut));
  torch::NoGradGuard no_grad;
  for (auto& m : net->modules()) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
    }
  }
  net->eval();
  return net;
}

}  // namespace nc::compress::testing
