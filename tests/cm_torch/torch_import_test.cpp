// The LibTorch side of the CM compiler: a neurocore model imported into the graph IR and
// evaluated with LibTorch's kernels computes what the model's own forward() computes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace {

using namespace nc;

// Max |a - b| relative to max |b|: one number that fails on any wrong element.
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// Running statistics away from their initial 0/1, so that a BatchNorm imported as identity
// (or with mean and variance swapped) is caught.
void randomise_batch_norms(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& sub : m.modules()) {
    if (auto* bn = sub->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.3, 0.3);
    }
  }
}

void expect_same_forward(nn::NetImpl& model, const nn::InputShape& in, double tol) {
  model.eval();
  const cm::Graph g = cm::import_model(model, in);
  const auto x = torch::randn({3, in.channels, in.height, in.width});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = model.forward(x);
  }
  const auto got = cm::evaluate_with_torch(g, x);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].sizes(), expected.sizes());
  EXPECT_LT(rel_err(got[0], expected), tol);
}

TEST(TorchImport, MlpEqualsForwardForEachActivation) {
  for (auto act : {nn::MLPActivation::relu, nn::MLPActivation::tanh, nn::MLPActivation::sigmoid}) {
    nn::MLP m(nn::MLPOptions(28 * 28, 10).hidden({32, 16}).activation(act));
    expect_same_forward(*m, {1, 28, 28}, 1e-6);
  }
}

TEST(TorchImport, LeNet5EqualsForward) {
  nn::LeNet5 m(nn::InputShape{1, 28, 28}, 10);
  expect_same_forward(*m, {1, 28, 28}, 1e-6);
}

TEST(TorchImport, ResNet20OptionAAndBEqualForwardAndFoldKeepsThem) {
  for (auto sc : {nn::Shortcut::A, nn::Shortcut::B}) {
    nn::ResNet m(nn::ResNetOptions(20, 10).in_channels(1).width(4).shortcut(sc));
    randomise_batch_norms(*m);
    expect_same_forward(*m, {1, 12, 12}, 1e-5);

    m->eval();
    cm::Graph g = cm::import_model(*m, {1, 12, 12});
    const auto x = torch::randn({2, 1, 12, 12});
    const auto before = cm::evaluate_with_torch(g, x)[0];
    const int folded = g.fold_batch_norms();
    // Every conv's BatchNorm folds: 19 convs, plus 2 projections for option B.
    EXPECT_EQ(folded, sc == nn::Shortcut::A ? 19 : 21);
    EXPECT_LT(rel_err(cm::evaluate_with_torch(g, x)[0], before), 1e-5);
  }
}

TEST(TorchImport, NodeNamesFollowTheModulesAndOutputIsMarked) {
  nn::ResNet m(nn::ResNetOptions(20, 10).in_channels(1).width(4));
  const cm::Graph g = cm::import_model(*m, {1, 8, 8});
  EXPECT_NO_THROW(g.find_node("stage2.0.conv1"));
  EXPECT_NO_THROW(g.find_node("stage2.0.shortcut.subsample"));
  EXPECT_NO_THROW(g.find_node("fc"));
  ASSERT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (cm::Shape{10}));
}

TEST(TorchImport, SpikingModelWithoutTimeStepsIsAUserErrorNamingIt) {
  nn::SNUMLP m(nn::SNUMLPOptions(28 * 28, 10));
  try {
    cm::import_model(*m, {1, 28, 28});
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("time steps"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(cm::import_model(*m, {1, 28, 28}, 3).temporal());  // spiking_test.cpp: the rest
}

TEST(TorchEval, ShapeOnlyGraphAndWrongInputAreUserErrors) {
  cm::Graph g;
  const auto x = g.input("x", {2, 5, 5});
  g.mark_output(g.conv2d(x, cm::Conv2dOptions(2, 3, 3), "c"));
  EXPECT_THROW(cm::evaluate_with_torch(g, torch::randn({1, 2, 5, 5})), UserError);
  EXPECT_THROW(cm::evaluate_with_torch(g, torch::randn({1, 2, 6, 5})), UserError);
}

TEST(TorchEval, AsymmetricPaddingAndStridedSliceFollowTheIrSemantics) {
  // conv with pads (top 1, left 0, bottom 2, right 1), then x[:, ::2, 1::3]: the reference is
  // written with explicit padding so the IR's asymmetric pads are checked independently.
  cm::Graph g;
  const auto x = g.input("x", {2, 7, 6});
  std::vector<float> w(3 * 2 * 3 * 3), b(3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 7) % 11) / 11.f - 0.5f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.1f * static_cast<float>(i);
  const auto c = g.conv2d(x, cm::Conv2dOptions(2, 3, 3).padding(cm::Pads(1, 0, 2, 1)), "c", w, b);
  cm::SliceOptions so;
  so.start({0, 0, 1}).step({1, 2, 3});
  g.mark_output(g.slice(c, so, "s"));

  const auto in = torch::randn({2, 2, 7, 6});
  const auto wt = torch::from_blob(w.data(), {3, 2, 3, 3}).clone();
  const auto bt = torch::from_blob(b.data(), {3}).clone();
  using torch::indexing::Slice;
  const auto expected = torch::conv2d(torch::constant_pad_nd(in, {0, 1, 1, 2}), wt, bt)
                            .index({Slice(), Slice(), Slice(0, torch::indexing::None, 2),
                                    Slice(1, torch::indexing::None, 3)});
  const auto got = cm::evaluate_with_torch(g, in)[0];
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LT(rel_err(got, expected), 1e-6);
}

}  // namespace
