#include "neurocore/nn/net.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/cnn.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "neurocore/nn/rnn.h"

namespace {

using nc::nn::InputShape;

std::shared_ptr<nc::nn::NetImpl> build(const std::string& yaml, InputShape in = {},
                                       int64_t classes = 10) {
  auto config = nc::Config::from_string(yaml, "t.yaml");
  return nc::nn::make_model(config.root().section("model"), in, classes);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nc::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Models, EveryModelBuildsAndHasTheDocumentedShapes) {
  torch::manual_seed(0);
  for (const auto& name : nc::nn::model_names()) {
    if (name == "oren" || name == "snu-saccade") {  // one score per panel (oddity_nets_test.cpp)
      auto net = build("model:\n  name: " + name + "\n", InputShape{6, 28, 28}, 6);
      net->eval();
      torch::NoGradGuard no_grad;
      EXPECT_EQ(net->forward(torch::rand({3, 6, 28, 28})).sizes(), torch::IntArrayRef({3, 6})) << name;
      EXPECT_NE(error_of([&] { build("model:\n  name: " + name + "\n"); }).find("one class per panel"),
                std::string::npos) << name;
      continue;
    }
    auto net = build("model:\n  name: " + name + "\n");
    net->eval();
    torch::NoGradGuard no_grad;
    if (net->temporal()) {
      EXPECT_EQ(net->forward(torch::rand({5, 3, 1, 28, 28})).sizes(),
                torch::IntArrayRef({5, 3, 10})) << name;
    } else {
      EXPECT_EQ(net->forward(torch::rand({3, 1, 28, 28})).sizes(), torch::IntArrayRef({3, 10}))
          << name;
    }
  }
}

// He et al. 2016, Table 6: ResNet-20/32/56 have 0.27M / 0.46M / 0.85M parameters. The exact
// counts (3x32x32 input, 10 classes): option A (zero-padding shortcut) has no shortcut
// parameters; option B adds 1x1 projections + BN at the two stage transitions,
// (16*32 + 2*32) + (32*64 + 2*64) = 2,752 parameters.
TEST(Models, ResNetParameterCountsMatchThePaper) {
  const InputShape cifar{3, 32, 32};
  const std::vector<std::tuple<std::string, int64_t, int64_t>> expected = {
      {"resnet20", 269722, 272474}, {"resnet32", 464154, 466906}, {"resnet56", 853018, 855770}};
  for (const auto& [name, a, b] : expected) {
    auto net_a = build("model:\n  name: " + name + "\n", cifar);
    auto net_b = build("model:\n  name: " + name + "\n  shortcut: B\n", cifar);
    EXPECT_EQ(nc::nn::count_parameters(*net_a), a) << name;
    EXPECT_EQ(nc::nn::count_parameters(*net_b), b) << name;
  }
  auto net = build("model:\n  name: resnet20\n", cifar);
  EXPECT_EQ(net->forward(torch::rand({2, 3, 32, 32})).sizes(), torch::IntArrayRef({2, 10}));
  // The generic name with depth 20 is ResNet-20; grayscale input changes only conv1 (-288).
  EXPECT_EQ(nc::nn::count_parameters(*build("model:\n  name: resnet\n  depth: 20\n", cifar)),
            269722);
  EXPECT_EQ(nc::nn::count_parameters(*build("model:\n  name: resnet20\n")), 269722 - 2 * 144);
  // Width doubles every stage's channels.
  auto wide = build("model:\n  name: resnet\n  depth: 8\n  width: 8\n", cifar);
  EXPECT_EQ(wide->forward(torch::rand({1, 3, 32, 32})).sizes(), torch::IntArrayRef({1, 10}));
}

TEST(Models, OptionBProjectsAndOptionAPadsTheShortcut) {
  nc::nn::BasicBlock a(16, 32, 2, nc::nn::Shortcut::A), b(16, 32, 2, nc::nn::Shortcut::B);
  const auto x = torch::rand({2, 16, 8, 8});
  EXPECT_EQ(a->forward(x).sizes(), torch::IntArrayRef({2, 32, 4, 4}));
  EXPECT_EQ(b->forward(x).sizes(), torch::IntArrayRef({2, 32, 4, 4}));
  EXPECT_TRUE(a->projection->is_empty());
  EXPECT_EQ(b->projection->size(), 2u);
}

TEST(Models, ParameterCountsOfSmallModels) {
  // LeNet-5 on 1x28x28: 156 + 2,416 + 48,120 + 10,164 + 850.
  EXPECT_EQ(nc::nn::count_parameters(*build("model:\n  name: lenet5\n")), 61706);
  // MLP 784-256-256-10 with biases.
  EXPECT_EQ(nc::nn::count_parameters(*build("model:\n  name: mlp\n")),
            784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  // SNU-MLP: weights and thresholds; the fixed decay is a buffer, not a parameter.
  EXPECT_EQ(nc::nn::count_parameters(*build("model:\n  name: snu-mlp\n")),
            784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  EXPECT_EQ(nc::nn::count_parameters(*build(
                "model:\n  name: snu-mlp\n  hidden: [20]\n  trainable_decay: true\n"
                "  recurrent: true\n  readout: linear\n")),
            784 * 20 + 20 * 20 + 20 + 20 + 20 * 10 + 10);
}

// The ESSOP protocol's small CNN (essop.md §10): conv 3x3 16 -> pool -> conv 3x3 32 -> pool ->
// FC 128 -> 10, recomputed here from its parameters with LibTorch's functional ops.
TEST(Models, SmallCnnIsTheSpecsNetwork) {
  torch::manual_seed(4);
  auto net = build("model:\n  name: cnn\n");
  auto* m = dynamic_cast<nc::nn::SmallCNNImpl*>(net.get());
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->convs.size(), 2u);
  ASSERT_EQ(m->fcs.size(), 2u);
  EXPECT_EQ(m->convs[0]->weight.sizes(), torch::IntArrayRef({16, 1, 3, 3}));
  EXPECT_EQ(m->convs[1]->weight.sizes(), torch::IntArrayRef({32, 16, 3, 3}));
  EXPECT_EQ(m->fcs[0]->weight.sizes(), torch::IntArrayRef({128, 32 * 7 * 7}));
  EXPECT_EQ(m->fcs[1]->weight.sizes(), torch::IntArrayRef({10, 128}));
  EXPECT_EQ(nc::nn::count_parameters(*net),
            (16 * 9 + 16) + (32 * 16 * 9 + 32) + (1568 * 128 + 128) + (128 * 10 + 10));
  EXPECT_EQ(net->hidden_producers().size(), 3u);
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 1, 28, 28});
  auto h = torch::max_pool2d(torch::relu(torch::conv2d(x, m->convs[0]->weight, m->convs[0]->bias, 1, 1)), 2);
  h = torch::max_pool2d(torch::relu(torch::conv2d(h, m->convs[1]->weight, m->convs[1]->bias, 1, 1)), 2);
  h = torch::relu(torch::linear(h.flatten(1), m->fcs[0]->weight, m->fcs[0]->bias));
  const auto want = torch::linear(h, m->fcs[1]->weight, m->fcs[1]->bias);
  EXPECT_TRUE(torch::allclose(net->forward(x), want, 1e-5, 1e-6));
  // Other widths, odd sizes (floor pooling), three convolutions, no hidden FC.
  auto small = build("model:\n  name: cnn\n  channels: [4, 5, 6]\n  hidden: []\n",
                     InputShape{3, 17, 9}, 7);
  EXPECT_EQ(small->forward(torch::rand({2, 3, 17, 9})).sizes(), torch::IntArrayRef({2, 7}));
  EXPECT_EQ(nc::nn::count_parameters(*small),
            (4 * 27 + 4) + (5 * 36 + 5) + (6 * 45 + 6) + (6 * 2 * 1 * 7 + 7));
}

// The Elman model (st-stdp.md §7's RNN baseline): h_t = tanh(W x_t + b + U h_{t-1} + b') from
// h_0 = 0, scores = readout(h_t) at every step, recomputed here from the parameters.
TEST(Models, RnnIsTheElmanRecurrenceWithAReadoutAtEveryStep) {
  torch::manual_seed(3);
  auto net = build("model:\n  name: rnn\n  hidden: 4\n", InputShape{1, 2, 3}, 5);
  auto* m = dynamic_cast<nc::nn::RNNClassifierImpl*>(net.get());
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->rnn);
  EXPECT_EQ(nc::nn::count_parameters(*net), 6 * 4 + 4 * 4 + 4 + 4 + 4 * 5 + 5);
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({3, 2, 1, 2, 3});
  const auto out = net->forward(x);
  auto h = torch::zeros({2, 4});
  for (int64_t t = 0; t < 3; ++t) {
    h = torch::tanh(x[t].flatten(1).matmul(m->rnn->weight_ih.t()) + m->rnn->bias_ih +
                    h.matmul(m->rnn->weight_hh.t()) + m->rnn->bias_hh);
    const auto expected = h.matmul(m->readout->weight.t()) + m->readout->bias;
    EXPECT_TRUE(torch::allclose(out[t], expected, 1e-5, 1e-6)) << "step " << t;
  }
  EXPECT_NE(error_of([&] { net->forward(torch::rand({3, 2, 7})); }).find("rnn: input must be"), std::string::npos);
}

TEST(Models, SnuMlpReadsEveryNeuronKey) {
  auto net = build(
      "model:\n  name: snu-mlp\n  hidden: [32]\n  soft: true\n  decay: 0.9\n"
      "  g: leaky_relu\n  g_slope: 0.2\n  surrogate: arctan\n  surrogate_param: 3\n"
      "  threshold: 0.5\n  lateral_inhibition: true\n  detach_reset: true\n");
  auto* mlp = dynamic_cast<nc::nn::SNUMLPImpl*>(net.get());
  ASSERT_NE(mlp, nullptr);
  const auto& o = mlp->options.neuron();
  EXPECT_TRUE(o.soft());
  EXPECT_EQ(o.decay(), 0.9);
  EXPECT_EQ(o.g(), nc::nn::Activation::leaky_relu);
  EXPECT_EQ(o.g_slope(), 0.2);
  EXPECT_EQ(o.surrogate().kind, nc::nn::SurrogateKind::arctan);
  EXPECT_EQ(o.surrogate().param, 3);
  EXPECT_EQ(o.threshold_init(), 0.5);
  EXPECT_TRUE(o.lateral_inhibition());
  EXPECT_TRUE(o.detach_reset());
  EXPECT_EQ(mlp->layers->size(), 2u);
  const auto y = net->forward(torch::rand({4, 2, 784}));
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({4, 2, 10}));
}

TEST(Models, RejectsUnknownKeysNamesAndBadValues) {
  auto msg = error_of([] { build("model:\n  name: mlp\n  hiden: [10]\n"); });
  EXPECT_NE(msg.find("unknown key 'hiden'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'hidden'"), std::string::npos) << msg;

  msg = error_of([] { build("model:\n  name: resnet2O\n"); });
  EXPECT_NE(msg.find("did you mean 'resnet20'"), std::string::npos) << msg;
  msg = error_of([] { build("model:\n  name: snumlp\n"); });
  EXPECT_NE(msg.find("did you mean 'snu-mlp'"), std::string::npos) << msg;

  // A key valid for another model is unknown here.
  EXPECT_THROW(build("model:\n  name: resnet20\n  depth: 32\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: lenet5\n  hidden: [3]\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: resnet\n  depth: 21\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: resnet\n  shortcut: C\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: snu-mlp\n  surrogate: tan\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: snu-mlp\n  decay: 0\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: snu-mlp\n  decay: 1\n  trainable_decay: true\n"),
               nc::UserError);
  EXPECT_THROW(build("model:\n  name: snu-mlp\n  readout: dense\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: mlp\n  hidden: [0]\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: lenet5\n", InputShape{1, 8, 8}), nc::UserError);
  EXPECT_THROW(build("model:\n  name: cnn\n  channels: []\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: cnn\n  channels: [0]\n"), nc::UserError);
  EXPECT_THROW(build("model:\n  name: cnn\n  depth: 3\n"), nc::UserError);
  msg = error_of([] { build("model:\n  name: cnn\n  channels: [4, 4, 4]\n", InputShape{1, 4, 4}); });
  EXPECT_NE(msg.find("H, W >= 8"), std::string::npos) << msg;

  auto mlp = build("model:\n  name: mlp\n");
  EXPECT_THROW(mlp->forward(torch::rand({2, 3, 28, 28})), nc::UserError);
  auto lenet = build("model:\n  name: lenet5\n");
  EXPECT_THROW(lenet->forward(torch::rand({2, 1, 32, 32})), nc::UserError);
}

}  // namespace
