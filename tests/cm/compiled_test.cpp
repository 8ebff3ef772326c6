// cm::Compiled, cm::compile and cm::load_graph (compiled.h, model_source.h): the one compile
// flow gives what the passes give when called one by one, and a Compiled refuses parts that do
// not belong together.
#include "neurocore/cm/compiled.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "neurocore/cm/control.h"
#include "neurocore/cm/fabric.h"
#include "neurocore/cm/functional.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/reference_eval.h"
#include "neurocore/cm/timing.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

namespace fs = std::filesystem;

const std::string kOnnx = std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx";

Graph two_layers(int64_t hidden, const std::string& second = "fc2") {
  Graph g;
  auto x = g.input("x", {1, 4, 4});
  x = g.conv2d(x, Conv2dOptions(1, hidden, 3).padding(Pads(1)), "conv1", std::vector<float>(9 * hidden, 0.1f),
               std::vector<float>(hidden, 0.0f));
  x = g.flatten(x, "flat");
  x = g.linear(x, LinearOptions(hidden * 16, 3), second, std::vector<float>(hidden * 16 * 3, 0.01f),
               std::vector<float>(3, 0.0f));
  g.mark_output(x);
  return g;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(CmCompiled, RejectsAMappingOfAnotherGraph) {
  const Hardware hw;
  const Graph a = two_layers(4), b = two_layers(4, "head");
  const Mapping ma = map_graph(a, hw);
  const std::string msg = message_of([&] { Compiled(b, hw, ma); });
  EXPECT_NE(msg.find("'fc2'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("map the same graph"), std::string::npos) << msg;
  // A graph with an unmapped matrix node.
  Mapping partial = ma;
  partial.layers.pop_back();
  const std::string msg2 = message_of([&] { Compiled(a, hw, partial); });
  EXPECT_NE(msg2.find("'fc2' (Linear) has no mapping"), std::string::npos) << msg2;
  EXPECT_NO_THROW(Compiled(a, hw, ma));
}

TEST(CmCompiled, RejectsAMappingForOtherCrossbars) {
  Hardware hw, other;
  other.crossbar_rows = other.crossbar_cols = 512;
  const Graph g = two_layers(4);
  const std::string msg = message_of([&] { Compiled(g, hw, map_graph(g, other)); });
  EXPECT_NE(msg.find("512x512"), std::string::npos) << msg;
  EXPECT_NE(msg.find("256x256"), std::string::npos) << msg;
}

// compile(zoo resnet20) is load + fold + map + isl model: every consumer gives what it gives
// on the parts built by hand.
TEST(CmCompiled, CompileEqualsThePassesCalledOneByOne) {
  const Hardware hw;
  const Compiled c = compile(ModelSource("resnet20"), hw);
  Graph g = resnet_cifar(20);
  fill_random(g, 1);
  const int folded = g.fold_batch_norms();
  EXPECT_EQ(c.folded_batch_norms, folded);
  EXPECT_GT(folded, 0);
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  EXPECT_EQ(c.kind, SourceKind::kZoo);
  EXPECT_EQ(c.mapping().to_json(), m.to_json());
  EXPECT_EQ(c.poly().to_string(), poly.to_string());
  TimingOptions to;
  to.images = 2;
  EXPECT_EQ(simulate_timing(c, to).to_json(), simulate_timing(g, m, poly, hw, to).to_json());
  EXPECT_EQ(build_core_graph(c).total_bits(), build_core_graph(g, m, hw).total_bits());
  // The functional simulator on the compiled model equals the reference forward pass.
  std::vector<float> image(static_cast<std::size_t>(numel(g.value(g.inputs()[0]).shape)));
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 37) % 101) / 101.0f - 0.5f;
  FunctionalSimulator sim(c);
  EXPECT_LT(max_relative_error(sim.run({image})[0], evaluate(g, image)), 1e-4);
}

TEST(CmCompiled, DependencyAnalysisCanWaitForFirstUse) {
  CompileOptions o;
  o.dependency_analysis = false;
  const Compiled c = compile(ModelSource("resnet20"), Hardware{}, o);
  EXPECT_EQ(c.poly_seconds(), 0.0);
  EXPECT_GT(c.poly().edges().size(), 0u);
}

TEST(CmLoadGraph, ZooAndOnnxByName) {
  const LoadedGraph zoo = load_graph(ModelSource("resnet32"));
  EXPECT_EQ(zoo.kind, SourceKind::kZoo);
  EXPECT_FALSE(zoo.graph.nodes()[1].weight.empty());  // random weights filled
  const LoadedGraph onnx = load_graph(ModelSource(kOnnx));
  EXPECT_EQ(onnx.kind, SourceKind::kOnnx);
  EXPECT_GT(onnx.opset, 0);
  // The ONNX importer folds BatchNorms; the same file through compile maps 36 cores.
  EXPECT_EQ(compile(ModelSource(kOnnx), Hardware{}).mapping().total_cores, 36);
}

TEST(CmLoadGraph, KindsByPath) {
  const fs::path dir = fs::temp_directory_path() / ("nc_load_graph_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "m.pt") << "PK";
  EXPECT_EQ(resolve_kind(ModelSource(dir.string())), SourceKind::kRunDir);
  EXPECT_EQ(resolve_kind(ModelSource((dir / "m.pt").string())), SourceKind::kTorchScript);
  EXPECT_EQ(resolve_kind(ModelSource(kOnnx)), SourceKind::kOnnx);
  EXPECT_EQ(resolve_kind(ModelSource("densenet121")), SourceKind::kZoo);
  fs::remove_all(dir);
}

TEST(CmLoadGraph, UnknownModelNamesTheClosestZooModel) {
  const std::string msg = message_of([] { load_graph(ModelSource("resnet21")); });
  EXPECT_NE(msg.find("'resnet21'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'resnet20'"), std::string::npos) << msg;
}

// This test binary links no LibTorch and registers no loader: a run directory is refused
// with a message saying why, not a crash.
TEST(CmLoadGraph, LibTorchKindsWithoutALoaderAreAUserError) {
  const fs::path dir = fs::temp_directory_path() / ("nc_load_graph_run_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string msg = message_of([&] { load_graph(ModelSource(dir.string())); });
  EXPECT_NE(msg.find("needs LibTorch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ONNX"), std::string::npos) << msg;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nc::cm
