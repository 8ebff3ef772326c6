// The ST-STDP per-frame CNN baseline (nn/cnn.h): layer shapes and parameter counts for both
// paddings, forward equal to the spec's layer sequence written with LibTorch's functions, errors.
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

TEST(Cnn, ShapesAndParameterCountsOfTheSpecsLayers) {
  auto same = std::dynamic_pointer_cast<nc::nn::CnnImpl>(build_cnn("model:\n  name: cnn\n"));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->conv1->weight.sizes(), torch::IntArrayRef({32, 1, 3, 3}));
  EXPECT_EQ(same->conv2->weight.sizes(), torch::IntArrayRef({64, 32, 3, 3}));
  EXPECT_EQ(same->fc1->weight.sizes(), torch::IntArrayRef({128, 64 * 7 * 7}));  // 28 -> 14 -> 7
  EXPECT_EQ(same->fc2->weight.sizes(), torch::IntArrayRef({10, 128}));
  EXPECT_EQ(nc::nn::count_parameters(*same), 320 + 18496 + (3136 * 128 + 128) + 1290);
  // Without padding: 28 -> 26 -> 13 -> 11 -> 5.
  auto valid = std::dynamic_pointer_cast<nc::nn::CnnImpl>(build_cnn("model:\n  name: cnn\n  padding: 0\n"));
  EXPECT_EQ(valid->fc1->weight.sizes(), torch::IntArrayRef({128, 64 * 5 * 5}));
  auto narrow = build_cnn("model:\n  name: cnn\n  channels: [4, 8, 16]\n", InputShape{3, 12, 10}, 7);
  EXPECT_EQ(narrow->forward(torch::rand({5, 3, 12, 10})).sizes(), torch::IntArrayRef({5, 7}));
  EXPECT_EQ(narrow->hidden_producers().size(), 3u);
}

TEST(Cnn, ForwardIsConvPoolConvPoolFcFc) {
  torch::manual_seed(3);
  for (int64_t padding : {0, 1}) {
    auto net = std::dynamic_pointer_cast<nc::nn::CnnImpl>(
        build_cnn("model:\n  name: cnn\n  padding: " + std::to_string(padding) + "\n"));
    const auto x = torch::rand({4, 1, 28, 28});
    namespace F = torch::nn::functional;
    auto h = torch::conv2d(x, net->conv1->weight, net->conv1->bias, 1, padding);
    h = torch::max_pool2d(torch::relu(h), 2);
    h = torch::max_pool2d(torch::relu(torch::conv2d(h, net->conv2->weight, net->conv2->bias, 1, padding)), 2);
    h = torch::relu(F::linear(h.reshape({4, -1}), net->fc1->weight, net->fc1->bias));
    const auto want = F::linear(h, net->fc2->weight, net->fc2->bias);
    EXPECT_TRUE(torch::allclose(net->forward(x), want, 1e-5, 1e-6)) << padding;
  }
}

TEST(Cnn, BadOptionsAndShapesAreUserErrors) {
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  channels: [32, 64]\n"), nc::UserError);
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  channels: [32, 0, 128]\n"), nc::UserError);
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  padding: 2\n"), nc::UserError);
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  hidden: [3]\n"), nc::UserError);
  EXPECT_THROW(build_cnn("model:\n  name: cnn\n  padding: 0\n", InputShape{1, 5, 5}), nc::UserError);
  EXPECT_NO_THROW(build_cnn("model:\n  name: cnn\n", InputShape{1, 4, 4}));  // 4 -> 2 -> 1
  auto net = build_cnn("model:\n  name: cnn\n");
  EXPECT_THROW(net->forward(torch::rand({2, 1, 32, 32})), nc::UserError);
}

}  // namespace
