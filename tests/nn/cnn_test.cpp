// The CNN as the ST-STDP per-frame baseline (nn/cnn.h, configs/cnn-omnist.yaml): the spec's layer
// shapes and parameter counts for both paddings, forward equal to the spec's layer sequence
// written with LibTorch's functions, errors. The ESSOP defaults are tested in net_test.cpp.
#include "neurocore/nn/cnn.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"

namespace {

using nc::nn::InputShape;

std::shared_ptr<nc::nn::NetImpl> build_cnn(const std::string& yaml, InputShape in = {}, int64_t classes = 10) {
  auto config = nc::Config::from_string(yaml, "t.yaml");
  return nc::nn::make_model(config.root().section("model"), in, classes);
}

const std::string kSpec = "model:\n  name: cnn\n  channels: [32, 64]\n  hidden: [128]\n";

TEST(Cnn, ShapesAndParameterCountsOfTheStStdpSpecsLayers) {
  auto same = std::dynamic_pointer_cast<nc::nn::SmallCNNImpl>(build_cnn(kSpec));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->convs[0]->weight.sizes(), torch::IntArrayRef({32, 1, 3, 3}));
  EXPECT_EQ(same->convs[1]->weight.sizes(), torch::IntArrayRef({64, 32, 3, 3}));
  EXPECT_EQ(same->fcs[0]->weight.sizes(), torch::IntArrayRef({128, 64 * 7 * 7}));  // 28 -> 14 -> 7
  EXPECT_EQ(same->fcs[1]->weight.sizes(), torch::IntArrayRef({10, 128}));
  EXPECT_EQ(nc::nn::count_parameters(*same), 320 + 18496 + (3136 * 128 + 128) + 1290);
  // Without padding: 28 -> 26 -> 13 -> 11 -> 5.
  auto valid = std::dynamic_pointer_cast<nc::nn::SmallCNNImpl>(build_cnn(kSpec + "  padding: 0\n"));
  EXPECT_EQ(valid->fcs[0]->weight.sizes(), torch::IntArrayRef({128, 64 * 5 * 5}));
  auto narrow = build_cnn("model:\n  name: cnn\n  channels: [4, 8]\n  hidden: [16]\n  padding: 0\n",
                          InputShape{3, 12, 10}, 7);
  EXPECT_EQ(narrow->forward(torch::rand({5, 3, 12, 10})).sizes(), torch::IntArrayRef({5, 7}));
  EXPECT_EQ(narrow->hidden_producers().size(), 3u);
}

TEST(Cnn, ForwardIsConvPoolConvPoolFcFcForBothPaddings) {
  torch::manual_seed(3);
  for (int64_t padding : {0, 1}) {
    auto net = std::dynamic_pointer_cast<nc::nn::SmallCNNImpl>(
        build_cnn(kSpec + "  padding: " + std::to_string(padding) + "\n"));
    const auto x = torch::rand({4, 1, 28, 28});
    namespace F = torch::nn::functional;
    const auto& c = net->convs;
    auto h = torch::max_pool2d(torch::relu(torch::conv2d(x, c[0]->weight, c[0]->bias, 1, padding)), 2);
    h = torch::max_pool2d(torch::relu(torch::conv2d(h, c[1]->weight, c[1]->bias, 1, padding)), 2);
    h = torch::relu(F::linear(h.reshape({4, -1}), net->fcs[0]->weight, net->fcs[0]->bias));
    const auto want = F::linear(h, net->fcs[1]->weight, net->fcs[1]->bias);
    EXPECT_TRUE(torch::allclose(net->forward(x), want, 1e-5, 1e-6)) << padding;
  }
}

TEST(Cnn, BadPaddingAndTooSmallInputsAreUserErrors) {
  EXPECT_THROW(build_cnn(kSpec + "  padding: 2\n"), nc::UserError);
  EXPECT_THROW(build_cnn(kSpec + "  padding: -1\n"), nc::UserError);
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  channels: [32, 0]\n"), nc::UserError);
  // Padding 0 needs H, W >= 10 for two convolutions (10 -> 8 -> 4 -> 2 -> 1).
  EXPECT_NO_THROW(build_cnn(kSpec + "  padding: 0\n", InputShape{1, 10, 10}));
  try {
    build_cnn(kSpec + "  padding: 0\n", InputShape{1, 9, 12});
    ADD_FAILURE() << "9x12 with padding 0 accepted";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("H, W >= 10"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(build_cnn(kSpec, InputShape{1, 4, 4}));  // 4 -> 2 -> 1
  auto net = build_cnn(kSpec);
  EXPECT_THROW(net->forward(torch::rand({2, 1, 32, 32})), nc::UserError);
}

}  // namespace
