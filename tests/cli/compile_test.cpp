// End-to-end checks of `neurocore compile`: the real executable on the real ResNet-20 ONNX file.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

using Result = nc::test::CliResult;
const auto& run = nc::test::run_cli;

const std::string kSource = NC_SOURCE_DIR;
const std::string kModel = kSource + "/tests/cm/data/resnet20-cifar.onnx";
const std::string kHw = kSource + "/configs/hw/default.yaml";

fs::path temp_out(const std::string& name) { return nc::test::fresh_temp_path("compile", name); }
using nc::test::slurp;

TEST(CliCompile, HelpShowsExamples) {
  auto r = run("compile --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Examples"), std::string::npos) << r.output;
}

TEST(CliCompile, ResNet20OnnxWritesTheReports) {
  const fs::path out = temp_out("r20");
  auto r = run("compile " + kModel + " --hw " + kHw + " --images 3 --emit dot,json,control --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(fs::exists(out / "report.md")) << r.output;
  ASSERT_TRUE(fs::exists(out / "report.json")) << r.output;
  EXPECT_TRUE(fs::exists(out / "graph.dot"));
  EXPECT_TRUE(fs::exists(out / "graph.json"));
  // One control program per core (36) plus the GCU's, each with isl's loops and its waits.
  int programs = 0;
  for (const auto& f : fs::directory_iterator(out / "control")) programs += f.path().extension() == ".c";
  EXPECT_EQ(programs, 37);
  const std::string core1 = slurp(out / "control" / "core_1.c");
  EXPECT_NE(core1.find("void core_1(int images)"), std::string::npos) << core1;
  EXPECT_NE(core1.find("wait_written("), std::string::npos) << core1;
  EXPECT_NE(core1.find("mvm("), std::string::npos) << core1;
  const auto j = nlohmann::json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("cores").get<int>(), 36);
  EXPECT_EQ(j.at("mapping").at("total_cores").get<int>(), 36);
  EXPECT_EQ(j.at("timing").at("images").get<int>(), 3);
  EXPECT_GT(j.at("timing").at("throughput_images_per_s").get<double>(), 0.0);
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("## Mapping"), std::string::npos);
  EXPECT_NE(md.find("latency of the first image"), std::string::npos);
  EXPECT_NE(md.find("energy per image"), std::string::npos);
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out / "occupancy.svg"));
    EXPECT_NE(md.find("](occupancy.svg)"), std::string::npos) << md;
  }

  // A second compile into the same --out does not overwrite it.
  auto r2 = run("compile " + kModel + " --hw " + kHw + " --images 1 --out " + out.string());
  ASSERT_EQ(r2.code, 0) << r2.output;
  EXPECT_TRUE(fs::exists(out.string() + "-2/report.json")) << r2.output;
  EXPECT_EQ(nlohmann::json::parse(slurp(out / "report.json")).at("images").get<int>(), 3);
  fs::remove_all(out);
  fs::remove_all(out.string() + "-2");
}

TEST(CliCompile, MissingHwFileIsAUserErrorNamingIt) {
  const fs::path out = temp_out("nohw");
  auto r = run("compile " + kModel + " --hw /nonexistent/hw.yaml --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/hw.yaml"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliCompile, UnknownEmitKindListsTheValidOnes) {
  const fs::path out = temp_out("emit");
  auto r = run("compile " + kModel + " --hw " + kHw + " --emit dot,svg --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("'svg'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("control, dot, json"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliCompile, ImagesBelowOneIsAUserError) {
  auto r = run("compile " + kModel + " --hw " + kHw + " --images 0");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--images"), std::string::npos) << r.output;
}

TEST(CliCompile, MissingModelAndOtherKindsAreUserErrors) {
  auto r = run("compile /nonexistent/model.onnx --hw " + kHw);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/model.onnx"), std::string::npos) << r.output;

  const fs::path dir = temp_out("rundir");
  fs::create_directories(dir);
  r = run("compile " + dir.string() + " --hw " + kHw);  // a directory that is no run
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("config.yaml"), std::string::npos) << r.output;

  const fs::path ts = dir / "model.pt";
  std::ofstream(ts) << "PK\x03\x04 not really a zip";
  r = run("compile " + ts.string() + " --hw " + kHw);  // no --input-shape
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--input-shape"), std::string::npos) << r.output;
  r = run("compile " + ts.string() + " --hw " + kHw + " --input-shape 1,28,28");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(ts.string() + ": cannot load it as a TorchScript module"), std::string::npos)
      << r.output;
  r = run("compile " + ts.string() + " --hw " + kHw + " --input-shape 1,x,28");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("'1,x,28'"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(CliCompile, RunDirectoryOfATrainedLeNetCompiles) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed";
  }
  const fs::path runs = temp_out("runs");
  auto r = run("train " + kSource + "/configs/lenet5-fashion.yaml --threads 1 --set runs_dir=" +
               runs.string() + " --set name=lenet --set train.epochs=1" +
               " --set data.limit_train=64 --set data.limit_test=32");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path out = temp_out("lenet_out");
  r = run("compile " + (runs / "lenet").string() + " --hw " + kHw + " --images 2 --out " +
          out.string() + " --eval fashion-mnist --eval-images 5");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("run directory: model lenet5"), std::string::npos) << md;
  EXPECT_NE(md.find("conv1"), std::string::npos) << md;
  EXPECT_NE(md.find("## Accuracy on fashion-mnist"), std::string::npos) << md;
  EXPECT_NE(md.find("the run's own"), std::string::npos) << md;  // its normalisation
  const auto j = nlohmann::json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("eval").at("accelerator_images").get<int>(), 5);
  EXPECT_EQ(j.at("eval").at("images").get<int>(), 10000);
  fs::remove_all(runs);
  fs::remove_all(out);
}

// A spiking run compiles to a temporal graph; --eval encodes the test images with the run's
// encoder and the simulator runs T frames per image.
TEST(CliCompile, RunDirectoryOfASpikingNetworkCompilesAndEvaluates) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed";
  }
  const fs::path runs = temp_out("snu_runs");
  auto r = run("train " + kSource + "/configs/snu-mlp-fashion.yaml --threads 1 --set runs_dir=" +
               runs.string() + " --set name=snu --set train.epochs=1 --set model.hidden=[32]" +
               " --set encoder.steps=3 --set data.limit_train=64 --set data.limit_test=32");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path out = temp_out("snu_out");
  r = run("compile " + (runs / "snu").string() + " --hw " + kHw + " --images 2 --out " +
          out.string() + " --eval fashion-mnist --eval-images 4");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string md = slurp(out / "report.md");
  EXPECT_NE(md.find("rate coding over 3 time steps"), std::string::npos) << md;
  EXPECT_NE(md.find("layers.0.neurons"), std::string::npos) << md;
  const auto j = nlohmann::json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("eval").at("images").get<int>(), 10000);
  EXPECT_EQ(j.at("eval").at("mvms").get<int>() % 3, 0);
  fs::remove_all(runs);
  fs::remove_all(out);
}

// A TorchScript LeNet-like module with random weights, written here and saved as a file.
fs::path save_torchscript(const fs::path& dir) {
  torch::manual_seed(4);
  torch::jit::Module m("Tiny");
  m.register_attribute("training", c10::BoolType::get(), false);
  m.register_parameter("w", torch::randn({4, 1, 5, 5}) * 0.2, false);
  m.register_parameter("b", torch::randn({4}) * 0.1, false);
  m.register_parameter("fw", torch::randn({10, 4 * 12 * 12}) * 0.05, false);
  m.register_parameter("fb", torch::randn({10}) * 0.1, false);
  m.define(R"(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.w, self.b, [1, 1], [0, 0], [1, 1], 1))
    y = torch.max_pool2d(y, [2, 2], [2, 2], [0, 0], [1, 1], False)
    return torch.linear(torch.flatten(y, 1), self.fw, self.fb)
)");
  fs::create_directories(dir);
  const fs::path path = dir / "tiny.pt";
  m.save(path.string());
  return path;
}

TEST(CliCompile, TorchScriptFileWritesTheMappingPicture) {
  const fs::path dir = temp_out("ts");
  const fs::path model = save_torchscript(dir);
  const fs::path out = dir / "out";
  auto r = run("compile " + model.string() + " --hw " + kHw + " --input-shape 1,28,28 --images 2 --out " +
               out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(slurp(out / "report.json"));
  EXPECT_EQ(j.at("model_kind").get<std::string>(), "torchscript");
  EXPECT_EQ(j.at("cores").get<int>(), 4);  // conv 25 x 4: one core; linear 576 x 10: 3 row blocks
  EXPECT_FALSE(j.contains("eval"));
  const std::string dot = slurp(out / "mapping.dot");
  EXPECT_NE(dot.find("digraph mapping"), std::string::npos) << dot;
  const std::string md = slurp(out / "report.md");
  if (std::system("command -v dot > /dev/null 2>&1") == 0) {
    EXPECT_TRUE(fs::exists(out / "mapping.svg"));
    EXPECT_NE(md.find("](mapping.svg)"), std::string::npos) << md;
  }
  fs::remove_all(dir);
}

TEST(CliCompile, EvalReportsTheAcceleratorAgainstTheFloatModel) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed";
  }
  const fs::path dir = temp_out("ts_eval");
  const fs::path model = save_torchscript(dir);
  // No --input-shape: taken from the data. --ideal: the simulation predicts as the float model.
  auto r = run("compile " + model.string() + " --hw " + kHw + " --images 1 --eval fashion-mnist " +
               "--eval-images 12 --ideal --out " + (dir / "ideal").string());
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(slurp(dir / "ideal" / "report.json")).at("eval");
  EXPECT_EQ(j.at("data").get<std::string>(), "fashion-mnist");
  EXPECT_EQ(j.at("accelerator_images").get<int>(), 12);
  EXPECT_DOUBLE_EQ(j.at("agreement").get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(j.at("accelerator_accuracy").get<double>(),
                   j.at("float_accuracy_same_images").get<double>());
  EXPECT_NE(r.output.find("functional simulation"), std::string::npos) << r.output;  // progress

  // With non-idealities (seeded): the same seed gives the same report numbers.
  const std::string noisy = "compile " + model.string() + " --hw " + kHw + " --images 1 --eval " +
                            "fashion-mnist --eval-images 12 --programming-noise 0.2 --read-noise 0.2 --seed 7 --out ";
  r = run(noisy + (dir / "n1").string());
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(run(noisy + (dir / "n2").string()).code, 0);
  const auto a = nlohmann::json::parse(slurp(dir / "n1" / "report.json")).at("eval");
  const auto b = nlohmann::json::parse(slurp(dir / "n2" / "report.json")).at("eval");
  EXPECT_EQ(a.at("accelerator_accuracy"), b.at("accelerator_accuracy"));
  EXPECT_EQ(a.at("agreement"), b.at("agreement"));
  EXPECT_NE(a.at("non_idealities").get<std::string>().find("programming noise 0.2"), std::string::npos);
  const std::string md = slurp(dir / "n1" / "report.md");
  EXPECT_NE(md.find("**functional simulation** (accelerator) | 12 |"), std::string::npos) << md;
  EXPECT_NE(md.find("from the training split"), std::string::npos) << md;
  fs::remove_all(dir);
}

TEST(CliCompile, EvalErrorsNameTheDataAndTheShapes) {
  auto r = run("compile " + kModel + " --hw " + kHw + " --eval fashion");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'fashion-mnist'"), std::string::npos) << r.output;
  r = run("compile " + kModel + " --hw " + kHw + " --eval fashion-mnist --eval-images 0");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--eval-images"), std::string::npos) << r.output;
  r = run("compile " + kModel + " --hw " + kHw + " --eval fashion-mnist --read-noise -1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--read-noise"), std::string::npos) << r.output;
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) return;
  const fs::path out = temp_out("shape");
  r = run("compile " + kModel + " --hw " + kHw + " --eval fashion-mnist --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("[1, 28, 28]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[3, 32, 32]"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
