#pragma once
// The EfQAT backward-pass setup shared by the benchmark and the profile (efqat_bench.cpp,
// efqat_profile.cpp): ResNet-20 (1x28x28, 10 classes), BN folded, W4A4, calibrated on one
// random batch, CWPN selection at rho (rho < 0: full QAT with LibTorch's own backward).
#include <torch/torch.h>

#include <memory>

#include "neurocore/compress/efqat.h"
#include "neurocore/nn/resnet.h"

namespace nc::bench {

struct EfqatSetup {
  std::shared_ptr<nc::compress::QuantNetImpl> net;
  std::unique_ptr<nc::compress::Efqat> efqat;
  torch::Tensor x, y;

  // quant = false turns every fake quantizer off (same graph otherwise).
  EfqatSetup(double rho, int64_t batch, bool quant) {
    torch::manual_seed(0);
    auto model = std::make_shared<nc::nn::ResNetImpl>(nc::nn::ResNetOptions(20, 10).in_channels(1));
    model->eval();
    nc::compress::QuantConfig cfg;
    cfg.bits = nc::compress::parse_bits("W4A4");
    net = std::make_shared<nc::compress::QuantNetImpl>(model, cfg);
    x = torch::randn({batch, 1, 28, 28});
    y = torch::randint(10, {batch}, torch::kLong);
    net->calibrate({x}, false);
    net->set_quantization(quant);
    if (rho >= 0) {
      efqat = std::make_unique<nc::compress::Efqat>(
          *net, nc::compress::EfqatOptions{nc::compress::SelectMode::cwpn, rho, 4096, true, true});
      efqat->reselect(nullptr);
      net->set_partial_backward(true);
    }
    net->train();
  }

  // The loss of one forward pass, with every parameter's gradient cleared.
  torch::Tensor loss() {
    for (auto p : net->parameters()) p.mutable_grad().reset();
    return torch::nn::functional::cross_entropy(net->forward(x), y);
  }
};

}  // namespace nc::bench
