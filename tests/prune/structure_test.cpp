// Costs from shapes (spec dtp.md §5) against hand counts, and the dependency groups (§7.8).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/compress/prune/structure.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress::prune {
namespace {

const PrunableLayer& layer(const ModelStructure& st, const std::string& name) {
  for (const auto& l : st.layers)
    if (l.name == name) return l;
  throw std::runtime_error("no layer " + name);
}

TEST(PruneStructure, LeNet5CostsEqualHandCount) {
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  const auto st = model_structure(net, {1, 28, 28});
  ASSERT_EQ(st.layers.size(), 5u);
  // conv1 6x1x5x5 on 28x28 outputs, conv2 16x6x5x5 on 10x10, fc1 400->120, fc2, fc3.
  EXPECT_EQ(layer(st, "conv1").positions, 28 * 28);
  EXPECT_EQ(layer(st, "conv2").positions, 10 * 10);
  EXPECT_EQ(layer(st, "fc1").positions, 1);
  const double params = 150 + 2400 + 48000 + 10080 + 840;
  const double macs = 150.0 * 784 + 2400.0 * 100 + 48000 + 10080 + 840;
  EXPECT_EQ(dense_cost(st, BudgetKind::params), params);
  EXPECT_EQ(dense_cost(st, BudgetKind::flops), macs);
  // Weights and biases: the model's own count less the 236 biases.
  EXPECT_EQ(params, nn::count_parameters(net) - 236);
  EXPECT_EQ(st.elements, 6 + 16 + 120 + 84);
  // fc1's 400 inputs are conv2's 16 channels, 25 features each.
  EXPECT_EQ(layer(st, "fc1").in_element[0], layer(st, "conv2").out_element[0]);
  EXPECT_EQ(layer(st, "fc1").in_element[399], layer(st, "conv2").out_element[15]);
  EXPECT_EQ(layer(st, "fc1").in_element[25], layer(st, "conv2").out_element[1]);
}

TEST(PruneStructure, ResNet20CostsEqualHandCount) {
  nn::ResNetImpl net(nn::ResNetOptions(20, 10));
  const auto st = model_structure(net, {3, 32, 32});
  ASSERT_EQ(st.layers.size(), 20u);
  const double stem = 16 * 3 * 9, s1 = 16 * 16 * 9, s2a = 32 * 16 * 9, s2 = 32 * 32 * 9,
               s3a = 64 * 32 * 9, s3 = 64 * 64 * 9, fc = 64 * 10;
  EXPECT_EQ(dense_cost(st, BudgetKind::params),
            stem + 6 * s1 + s2a + 5 * s2 + s3a + 5 * s3 + fc);
  EXPECT_EQ(dense_cost(st, BudgetKind::params), 268336);
  EXPECT_EQ(dense_cost(st, BudgetKind::flops), (stem + 6 * s1) * 1024 + (s2a + 5 * s2) * 256 +
                                                   (s3a + 5 * s3) * 64 + fc);
  EXPECT_EQ(dense_cost(st, BudgetKind::flops), 40551040);
  EXPECT_EQ(layer(st, "stage2.0.conv1").positions, 16 * 16);
  EXPECT_EQ(layer(st, "stage3.2.conv2").positions, 8 * 8);
}

TEST(PruneStructure, ResNetResidualChannelsShareOneElement) {
  nn::ResNetImpl net(nn::ResNetOptions(20, 10));
  const auto st = model_structure(net, {3, 32, 32});
  const auto& stem = layer(st, "conv1").out_element;
  for (const char* name : {"stage1.0.conv2", "stage1.1.conv2", "stage1.2.conv2"})
    EXPECT_EQ(layer(st, name).out_element, stem) << name;
  EXPECT_EQ(layer(st, "stage1.0.conv1").in_element, stem);
  // Stage 2 pads 8 zero channels on each side: its channel j + 8 carries stage 1's channel j.
  const auto& s2 = layer(st, "stage2.0.conv2").out_element;
  for (int j = 0; j < 16; ++j) EXPECT_EQ(s2[j + 8], stem[j]);
  EXPECT_EQ(layer(st, "stage2.2.conv2").out_element, s2);
  const auto& s3 = layer(st, "stage3.0.conv2").out_element;
  for (int j = 0; j < 32; ++j) EXPECT_EQ(s3[j + 16], s2[j]);
  EXPECT_EQ(layer(st, "fc").in_element, s3);
  // Elements: 16 residual + 16 new in stage 2 + 32 new in stage 3, and one per conv1 channel.
  EXPECT_EQ(st.elements, 64 + 3 * (16 + 32 + 64));
  EXPECT_TRUE(st.no_channels.empty());
  nn::ResNetImpl b(nn::ResNetOptions(20, 10).shortcut(nn::Shortcut::B));
  EXPECT_FALSE(model_structure(b, {3, 32, 32}).no_channels.empty());
}

TEST(PruneStructure, CostGradientEqualsFiniteDifferences) {
  torch::manual_seed(1);
  nn::ResNetImpl net(nn::ResNetOptions(8, 10));
  const auto st = model_structure(net, {3, 16, 16});
  const auto m = torch::rand({st.elements}, torch::kDouble);
  for (auto kind : {BudgetKind::params, BudgetKind::flops}) {
    const auto g = channel_cost_grad(st, m, kind);
    // The cost is bilinear, so central differences are exact up to rounding.
    const double h = 1e-3;
    for (int64_t e = 0; e < st.elements; ++e) {
      auto mp = m.clone(), mm = m.clone();
      mp[e] += h;
      mm[e] -= h;
      const double fd = (channel_cost(st, mp, kind) - channel_cost(st, mm, kind)) / (2 * h);
      EXPECT_NEAR(g[e].item<double>(), fd, 1e-7 * std::max(1.0, std::abs(fd))) << e;
    }
    EXPECT_EQ(channel_cost(st, torch::ones({st.elements}, torch::kDouble), kind),
              dense_cost(st, kind));
  }
  // A hard mask counts the shrunk shapes: keep 3 of the MLP's 5 hidden units of layer 1.
  nn::MLPImpl mlp(nn::MLPOptions(4, 2).hidden({5, 3}));
  const auto ms = model_structure(mlp, {1, 2, 2});
  auto hard = torch::ones({ms.elements}, torch::kDouble);
  hard.slice(0, 0, 2).zero_();
  EXPECT_EQ(channel_cost(ms, hard, BudgetKind::params), 3 * 4 + 3 * 3 + 2 * 3);
}

}  // namespace
}  // namespace nc::compress::prune
