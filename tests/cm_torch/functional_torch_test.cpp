// The compiler's numeric oracles against LibTorch: the plain reference evaluator equals
// LibTorch's kernels on the same graph, and the functional simulation of a mapped network
// equals LibTorch's forward pass of the model it was compiled from.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/onnx_import.h"
#include "neurocore/cm/poly.h"
#include "neurocore/cm/reference_eval.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/resnet.h"

namespace {

using namespace nc;

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Reference evaluator vs LibTorch on `g`, image by image.
void expect_reference_equals_torch(const cm::Graph& g, const torch::Tensor& x) {
  const auto expected = cm::evaluate_with_torch(g, x)[0];
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto got = cm::evaluate(g, to_vector(x[i]));
    EXPECT_LT(cm::max_relative_error(got, to_vector(expected[i])), 1e-5) << "image " << i;
  }
}

TEST(ReferenceEval, EqualsLibTorchOnTheImportedOnnxResNet20) {
  const cm::OnnxImport imp =
      cm::import_onnx(std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx");
  expect_reference_equals_torch(imp.graph, torch::randn({2, 3, 32, 32}));
}

TEST(ReferenceEval, EqualsLibTorchOnANeurocoreResNet20WithBatchNorms) {
  nn::ResNet m(nn::ResNetOptions(20, 10).in_channels(1).width(4).shortcut(nn::Shortcut::B));
  m->eval();
  cm::Graph g = cm::import_model(*m, {1, 12, 12});  // BatchNorms kept: they are evaluated too
  expect_reference_equals_torch(g, torch::randn({2, 1, 12, 12}));
}

TEST(FunctionalSimulation, StreamedLeNet5EqualsLibTorchForwardInFeedOrder) {
  nn::LeNet5 m(nn::InputShape{1, 28, 28}, 10);
  m->eval();
  cm::Graph g = cm::import_model(*m, {1, 28, 28});
  g.fold_batch_norms();
  const cm::Hardware hw;  // 256x256 crossbars
  const cm::Mapping mapping = cm::map_graph(g, hw);
  const cm::PolyModel poly(g);
  cm::FunctionalSimulator sim(g, mapping, poly, hw);
  const auto x = torch::randn({3, 1, 28, 28});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = m->forward(x);
  }
  std::vector<std::vector<float>> images;
  for (int64_t i = 0; i < 3; ++i) images.push_back(to_vector(x[i]));
  const auto out = sim.run(images);
  ASSERT_EQ(out.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_LT(cm::max_relative_error(out[static_cast<std::size_t>(i)], to_vector(expected[i])), 1e-4)
        << "image " << i;
  }
}

TEST(FunctionalSimulation, ImportedOnnxResNet20EqualsLibTorch) {
  cm::OnnxImport imp =
      cm::import_onnx(std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx");
  const cm::Hardware hw;
  const cm::Mapping mapping = cm::map_graph(imp.graph, hw);
  const cm::PolyModel poly(imp.graph);
  cm::FunctionalSimulator sim(imp.graph, mapping, poly, hw);
  const auto x = torch::randn({1, 3, 32, 32});
  const auto expected = cm::evaluate_with_torch(imp.graph, x)[0];
  const auto out = sim.run({to_vector(x[0])});
  EXPECT_LT(cm::max_relative_error(out[0], to_vector(expected[0])), 1e-4);
}

}  // namespace
