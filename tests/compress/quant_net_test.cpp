// BN folding (efqat.md §10.9), QuantNet's forward against the models' own, PTQ calibration.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/compress/quant_net.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "neurocore/nn/snu.h"
#include "compress/resnet_testing.h"

namespace nc::compress {
namespace {

std::shared_ptr<nn::ResNetImpl> small_resnet(nn::Shortcut shortcut) {
  return nc::compress::testing::small_resnet(5, shortcut);
}

TEST(FoldBatchNorm, FoldedResNetEqualsUnfoldedInEvalMode) {
  for (auto shortcut : {nn::Shortcut::A, nn::Shortcut::B}) {
    auto net = small_resnet(shortcut);
    const auto x = torch::randn({3, 1, 12, 12});
    torch::NoGradGuard no_grad;
    const auto before = net->forward(x);
    const int folded = fold_batchnorm(*net);
    EXPECT_EQ(folded, shortcut == nn::Shortcut::A ? 7 : 9);
    const auto after = net->forward(x);
    EXPECT_TRUE(torch::allclose(before, after, 1e-5, 1e-5)) << (before - after).abs().max();
  }
}

void expect_same_float_forward(std::shared_ptr<nn::NetImpl> net, const torch::Tensor& x) {
  net->eval();
  torch::NoGradGuard no_grad;
  const auto ref = net->forward(x);
  QuantNet q(net, QuantConfig{});
  q->eval();
  q->set_quantization(false);
  const auto out = q->forward(x);
  EXPECT_TRUE(torch::allclose(ref, out, 1e-5, 1e-5)) << (ref - out).abs().max();
}

TEST(QuantNet, FloatForwardEqualsTheModelsOwn) {
  torch::manual_seed(6);
  expect_same_float_forward(
      std::make_shared<nn::MLPImpl>(nn::MLPOptions(16, 4).hidden({12, 8})),
      torch::randn({5, 1, 4, 4}));
  expect_same_float_forward(
      std::make_shared<nn::MLPImpl>(
          nn::MLPOptions(16, 4).hidden({12}).activation(nn::MLPActivation::tanh)),
      torch::randn({5, 1, 4, 4}));
  expect_same_float_forward(std::make_shared<nn::LeNet5Impl>(nn::InputShape{1, 28, 28}, 10),
                            torch::randn({2, 1, 28, 28}));
  expect_same_float_forward(small_resnet(nn::Shortcut::A), torch::randn({2, 1, 12, 12}));
  expect_same_float_forward(small_resnet(nn::Shortcut::B), torch::randn({2, 1, 12, 12}));
}

TEST(QuantNet, RefusesSpikingModels) {
  auto snu = std::make_shared<nn::SNUMLPImpl>(nn::SNUMLPOptions(16, 4));
  try {
    QuantNet q(snu, QuantConfig{});
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("mlp, lenet5 and resnet"), std::string::npos);
  }
}

TEST(QuantNet, CalibrationQuantizesEveryLayerAtItsBits) {
  auto net = small_resnet(nn::Shortcut::B);
  QuantConfig cfg;
  cfg.bits = parse_bits("W4A4");
  QuantNet q(net, cfg);
  auto& layers = q->layers();
  ASSERT_EQ(layers.size(), 1u + 3 * 2 + 2 + 1);  // stem, 3 blocks x 2 convs, 2 projections, fc
  EXPECT_EQ(layers.front().name, "conv1");
  EXPECT_EQ(layers.back().name, "fc");
  std::vector<torch::Tensor> batches{torch::randn({4, 1, 12, 12}), torch::randn({4, 1, 12, 12})};
  q->calibrate(batches, true);
  for (size_t i = 0; i < layers.size(); ++i) {
    auto& l = layers[i];
    const bool edge = i == 0 || i + 1 == layers.size();
    EXPECT_EQ(l.weight_q->spec().bits, edge ? 8 : 4) << l.name;
    EXPECT_EQ(l.input_q->spec().bits, edge ? 8 : 4) << l.name;
    EXPECT_TRUE(l.input_q->calibrated);
    // The stem sees the signed image (zero point); every other input follows a ReLU.
    EXPECT_EQ(l.input_q->spec().symmetric, i != 0) << l.name;
    torch::NoGradGuard no_grad;
    const auto wq = l.weight_q->forward(l.weight());
    for (int64_t c = 0; c < wq.size(0); ++c) {
      EXPECT_LE(std::get<0>(torch::_unique(wq[c])).numel(), int64_t{1} << l.weight_q->spec().bits);
    }
  }
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 1, 12, 12});
  const auto quantized = q->forward(x);
  q->set_quantization(false);
  const auto fp = q->forward(x);
  EXPECT_FALSE(torch::equal(quantized, fp));
  EXPECT_LT((quantized - fp).abs().max().item<double>(), fp.abs().max().item<double>() + 1);
  const auto table = q->summary();
  EXPECT_NE(table.find("stage2.0.projection.0"), std::string::npos) << table;
  EXPECT_NE(table.find("| fc | Linear |"), std::string::npos) << table;
}

}  // namespace
}  // namespace nc::compress
