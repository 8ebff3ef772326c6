// TorchScript import (torchscript_import.h): modules written in TorchScript here, saved to a
// file, imported, and the imported graph evaluated with LibTorch compared with the module's own
// forward on the same input.
#include "neurocore/cm/torch/torchscript_import.h"

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/core/error.h"

namespace {

using namespace nc;

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("nc_ts_" + name + "_" + std::to_string(getpid()) + ".pt"))
      .string();
}

torch::jit::Module new_module(const std::string& name) {
  torch::jit::Module m(name);
  m.register_attribute("training", c10::BoolType::get(), false);
  return m;
}

std::vector<float> to_vector(const torch::Tensor& t) {
  const auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Imports `m` (saved to a file) and checks the graph against m.forward, before and after
// folding the BatchNorms.
cm::Graph expect_import_equals_forward(torch::jit::Module& m, const cm::Shape& shape,
                                       const std::string& file) {
  const std::string path = temp_file(file);
  m.save(path);
  cm::Graph g = cm::import_torchscript(path, shape).graph;
  std::filesystem::remove(path);
  std::vector<int64_t> batch{3};
  batch.insert(batch.end(), shape.begin(), shape.end());
  const torch::Tensor x = torch::randn(batch);
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = m.forward({x}).toTensor();
  }
  EXPECT_LT(cm::max_relative_error(to_vector(cm::evaluate_with_torch(g, x)[0]), to_vector(expected)), 1e-5)
      << g.to_string();
  g.fold_batch_norms();
  EXPECT_LT(cm::max_relative_error(to_vector(cm::evaluate_with_torch(g, x)[0]), to_vector(expected)), 1e-5)
      << g.to_string();
  return g;
}

int count_kind(const cm::Graph& g, cm::OpKind k) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node.kind == k;
  return n;
}

TEST(TorchScriptImport, LeNetLikeWithASubmoduleEqualsForward) {
  torch::manual_seed(1);
  torch::jit::Module fc = new_module("Head");
  fc.register_parameter("w", torch::randn({10, 6 * 12 * 12}) * 0.05, false);
  fc.register_parameter("b", torch::randn({10}) * 0.1, false);
  fc.define(R"(
def forward(self, x):
    return torch.linear(x, self.w, self.b)
)");
  torch::jit::Module m = new_module("LeNetLike");
  m.register_parameter("w", torch::randn({6, 1, 5, 5}) * 0.2, false);
  m.register_parameter("b", torch::randn({6}) * 0.1, false);
  m.register_module("fc", fc);
  m.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w, self.b, [1, 1], [0, 0], [1, 1], 1))
    y = torch.max_pool2d(y, [2, 2], [2, 2], [0, 0], [1, 1], False)
    y = y.view(y.size(0), -1)
    return self.fc.forward(y)
)");
  const cm::Graph g = expect_import_equals_forward(m, {1, 28, 28}, "lenet");
  EXPECT_EQ(count_kind(g, cm::OpKind::kConv2d), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kMaxPool), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kFlatten), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kLinear), 1);
}

TEST(TorchScriptImport, ResidualConcatPoolsAndMatrixFormsEqualForward) {
  torch::manual_seed(2);
  torch::jit::Module m = new_module("Block");
  m.register_parameter("w1", torch::randn({8, 3, 3, 3}) * 0.3, false);
  m.register_parameter("g1", torch::rand({8}) + 0.5, false);
  m.register_parameter("b1", torch::randn({8}) * 0.1, false);
  m.register_buffer("m1", torch::randn({8}) * 0.1);
  m.register_buffer("v1", torch::rand({8}) + 0.5);
  m.register_parameter("w2", torch::randn({8, 8, 3, 3}) * 0.2, false);
  m.register_parameter("c2", torch::randn({8}) * 0.1, false);
  m.register_parameter("w3", torch::randn({8, 8, 3, 3}) * 0.2, false);
  m.register_parameter("c3", torch::randn({8}) * 0.1, false);
  m.register_parameter("hw", torch::randn({8, 6}) * 0.3, false);   // addmm: x @ hw
  m.register_parameter("hb", torch::randn({6}) * 0.1, false);
  m.register_parameter("ow", torch::randn({6, 4}) * 0.3, false);   // matmul + add
  m.register_parameter("ob", torch::randn({4}) * 0.1, false);
  m.define(R"(
def forward(self, x):
    a = torch.conv2d(x, self.w1, None, [1, 1], [1, 1], [1, 1], 1)
    a = torch.batch_norm(a, self.g1, self.b1, self.m1, self.v1, False, 0.1, 1e-5, False)
    a = torch.hardtanh(a, 0.0, 6.0)
    b = torch.conv2d(a, self.w2, self.c2, [1, 1], [1, 1], [1, 1], 1)
    c = torch.leaky_relu(a + b, 0.1)
    d = torch.cat([c, torch.sigmoid(a)], 1)
    d = torch.avg_pool2d(d, [2, 2], [2, 2], [0, 0], False, True, None)
    e = torch.conv2d(d, self.w3, self.c3, [2, 2], [1, 1], [1, 1], 2)
    f = torch.adaptive_avg_pool2d(torch.tanh(e), [1, 1])
    f = torch.flatten(f, 1)
    h = torch.relu(torch.addmm(self.hb, f, self.hw))
    return torch.matmul(h, self.ow) + self.ob
)");
  const cm::Graph g = expect_import_equals_forward(m, {3, 12, 12}, "block");
  EXPECT_EQ(count_kind(g, cm::OpKind::kConv2d), 3);
  EXPECT_EQ(count_kind(g, cm::OpKind::kAdd), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kConcat), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kAvgPool), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kGlobalAvgPool), 1);
  EXPECT_EQ(count_kind(g, cm::OpKind::kLinear), 2);  // addmm; matmul + bias as one
  EXPECT_EQ(g.nodes()[static_cast<std::size_t>(g.value(g.outputs()[0]).producer)].bias.size(), 4u);
}

TEST(TorchScriptImport, UnsupportedOpsAreListedTogether) {
  torch::jit::Module m = new_module("Odd");
  m.define(R"(
def forward(self, x):
    return torch.sin(x) * torch.exp(x)
)");
  const std::string path = temp_file("odd");
  m.save(path);
  try {
    cm::import_torchscript(path, {4});
    FAIL() << "no error";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("2 unsupported"), std::string::npos) << msg;
    EXPECT_NE(msg.find("aten::sin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("aten::exp"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("aten::mul"), std::string::npos) << msg;  // downstream: not repeated
  }
  std::filesystem::remove(path);
}

TEST(TorchScriptImport, NotATorchScriptFileIsAUserErrorNamingIt) {
  const std::string path = temp_file("junk");
  std::ofstream(path) << "PK\x03\x04 not a zip";
  try {
    cm::import_torchscript(path, {1, 28, 28});
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
