// cm::load_graph's LibTorch kinds (cm/torch/loaders.h): a TorchScript file through the one
// loader gives the importer's graph, and compile() of it the same mapping.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/torch/loaders.h"
#include "neurocore/cm/torch/torchscript_import.h"
#include "neurocore/core/error.h"

namespace {

using namespace nc;

std::string saved_linear_module() {
  torch::jit::Module m("Linear");
  m.register_attribute("training", c10::BoolType::get(), false);
  torch::manual_seed(3);
  m.register_parameter("w", torch::randn({10, 784}) * 0.05, false);
  m.register_parameter("b", torch::randn({10}) * 0.1, false);
  m.define(R"(
def forward(self, x):
    return torch.linear(x.view(x.size(0), -1), self.w, self.b)
)");
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("nc_load_graph_" + std::to_string(getpid()) + ".pt")).string();
  m.save(path);
  return path;
}

TEST(CmTorchLoadGraph, TorchScriptThroughTheOneLoader) {
  cm::register_torch_loaders();
  const std::string path = saved_linear_module();
  cm::ModelSource s(path);
  EXPECT_THROW(cm::load_graph(s), UserError);  // no input shape
  s.input_shape = {1, 28, 28};
  const cm::LoadedGraph loaded = cm::load_graph(s);
  EXPECT_EQ(loaded.kind, cm::SourceKind::kTorchScript);
  EXPECT_EQ(loaded.graph.to_string(), cm::import_torchscript(path, {1, 28, 28}).graph.to_string());
  const cm::Compiled c = cm::compile(s, cm::Hardware{});
  EXPECT_EQ(c.mapping().total_cores, 4);  // 784 rows on 256-row crossbars: 4 row blocks
  std::filesystem::remove(path);
}

}  // namespace
