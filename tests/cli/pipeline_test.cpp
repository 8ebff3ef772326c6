// End-to-end checks of `neurocore pipeline`: a tiny pipeline through every stage, resuming after
// an interruption, and validation before any stage runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;
const auto& run = nc::test::run_cli;
const std::string kSource = NC_SOURCE_DIR;

bool have_fashion() { return fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); }

fs::path temp_runs(const std::string& name) { return nc::test::fresh_temp_path("pipeline", name); }
using nc::test::slurp;

// A smoke pipeline: LeNet-5 on a few hundred images, every stage.
std::string smoke_args(const fs::path& runs) {
  return "pipeline " + kSource + "/configs/pipeline.yaml --threads 1 --set runs_dir=" +
         runs.string() + " --set data.limit_train=256 --set data.limit_test=128" +
         " --set simulate.images=2 --set evaluate.images=16 --set compile.hw=" + kSource + "/configs/hw/default.yaml";
}

std::vector<std::string> log_lines(const fs::path& dir) {
  std::ifstream in(dir / "pipeline.log");
  std::vector<std::string> lines;
  for (std::string kind, stage, key; in >> kind >> stage >> key;) lines.push_back(kind + " " + stage);
  return lines;
}

TEST(CliPipeline, HelpShowsExamples) {
  auto r = run("pipeline --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Examples"), std::string::npos) << r.output;
}

TEST(CliPipeline, SmokeRunFillsEveryReportFieldAndResumesAfterAnInterruption) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs("smoke");
  const auto dir = runs / "pipeline";

  // Interrupted after quantize, then resumed: only the remaining stages run.
  auto r = run(smoke_args(runs) + " --until quantize");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(log_lines(dir), (std::vector<std::string>{"run train", "run quantize"}));
  r = run(smoke_args(runs));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(log_lines(dir),
            (std::vector<std::string>{"run train", "run quantize", "skip train", "skip quantize",
                                      "run compile", "run place", "run simulate", "run evaluate"}));
  EXPECT_NE(r.output.find("report.html"), std::string::npos) << r.output;

  // The same numbers as an uninterrupted run of the same config.
  const auto fresh = temp_runs("fresh");
  auto f = run(smoke_args(fresh));
  ASSERT_EQ(f.code, 0) << f.output;
  const auto a = nlohmann::json::parse(slurp(dir / "evaluate" / "stage.json"))["summary"];
  const auto b = nlohmann::json::parse(slurp(fresh / "pipeline" / "evaluate" / "stage.json"))["summary"];
  EXPECT_EQ(a["compiled_accuracy"], b["compiled_accuracy"]);
  EXPECT_EQ(a["accelerator_accuracy"], b["accelerator_accuracy"]);

  // Every field of the report is filled.
  const std::string md = slurp(dir / "report.md");
  for (const char* field : {"float model (after train)", "compiled model", "model size", "cores used",
                            "latency of the first image", "throughput", "energy per image",
                            "maximum channel load", "topology", "placement", "simulated accelerator",
                            "non-idealities"}) {
    EXPECT_NE(md.find(field), std::string::npos) << field << "\n" << md;
  }
  EXPECT_EQ(md.find("nan"), std::string::npos) << md;
  const std::string html = slurp(dir / "report.html");
  EXPECT_NE(html.find("<table>"), std::string::npos);

  // Changing a late stage re-runs only it and the stages after it.
  r = run(smoke_args(runs) + " --set simulate.images=3");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto lines = log_lines(dir);
  EXPECT_EQ(std::vector<std::string>(lines.end() - 6, lines.end()),
            (std::vector<std::string>{"skip train", "skip quantize", "skip compile", "skip place",
                                      "run simulate", "run evaluate"}));
  fs::remove_all(runs);
  fs::remove_all(fresh);
}

// A spiking network through every stage (configs/pipeline-snu.yaml, small): trained online by
// OSTL, compiled as a temporal graph, simulated T steps per image. The compiled graph sees the
// spike trains the trained model was evaluated on, so it must score exactly the same.
std::string snu_args(const fs::path& runs) {
  return "pipeline " + kSource + "/configs/pipeline-snu.yaml --threads 1 --set runs_dir=" + runs.string() +
         " --set data.limit_train=256 --set data.limit_test=64 --set encoder.steps=5" +
         " --set simulate.images=2 --set evaluate.limit=0 --set evaluate.images=8 --set compile.hw=" +
         kSource + "/configs/hw/default.yaml";
}

TEST(CliPipeline, SpikingNetworkTrainedByOstlRunsEveryStage) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs("snu");
  const auto dir = runs / "pipeline-snu";
  auto r = run(snu_args(runs));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(log_lines(dir), (std::vector<std::string>{"run train", "run quantize", "run compile", "run place",
                                                      "run simulate", "run evaluate"}));
  auto summary = [&](const char* stage) {
    return nlohmann::json::parse(slurp(dir / stage / "stage.json"))["summary"];
  };
  const auto train = summary("train"), compile = summary("compile"), eval = summary("evaluate");
  EXPECT_EQ(compile["time_steps"].get<int64_t>(), 5);
  EXPECT_EQ(eval["images"].get<int64_t>(), 64);
  EXPECT_DOUBLE_EQ(eval["compiled_accuracy"].get<double>(), train["test_accuracy"].get<double>());
  // One MVM per tile (here one tile per core) per time step of every simulated image.
  EXPECT_EQ(eval["mvms"].get<int64_t>(), 8 * 5 * compile["cores"].get<int64_t>());
  const std::string md = slurp(dir / "report.md");
  for (const char* field : {"time steps per image", "latency of the first image", "energy per image",
                            "simulated accelerator", "maximum channel load"}) {
    EXPECT_NE(md.find(field), std::string::npos) << field << "\n" << md;
  }
  EXPECT_NE(slurp(dir / "compile" / "graph.txt").find("Spiking"), std::string::npos);
  fs::remove_all(runs);
}

TEST(CliPipeline, SpikingNetworkWhatCannotBeCompiledFailsBeforeAnyStage) {
  const auto runs = temp_runs("snu-bad");
  const std::vector<std::pair<std::string, std::string>> bad{
      {"quantize.method", " --set quantize.method=efqat"},
      {"recurrent weights", " --set model.recurrent=true"}};
  for (const auto& [message, args] : bad) {
    auto r = run(snu_args(runs) + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(runs / "pipeline-snu")) << "a stage ran before validation finished";
  }
  fs::remove_all(runs);
}

// A pipeline config from an ONNX file (model.onnx), with extra lines.
fs::path onnx_config(const fs::path& runs, const std::string& onnx, const std::string& extra) {
  fs::create_directories(runs);
  const fs::path path = runs / "onnx.yaml";
  std::ofstream(path) << "name: from-onnx\nruns_dir: " << runs.string() << "\nmodel:\n  onnx: " << onnx
                      << "\ncompile:\n  hw: " << kSource << "/configs/hw/default.yaml\nplace:\n"
                      << "  time_budget_s: 1\nsimulate:\n  images: 2\n" << extra;
  return path;
}

TEST(CliPipeline, FromAnOnnxModelSkipsTrainAndQuantize) {
  const auto runs = temp_runs("onnx");
  const auto dir = runs / "from-onnx";
  // The third-party ResNet-20 (CIFAR-10 input): no dataset of its shape, so no evaluation.
  auto r = run("pipeline " + onnx_config(runs, kSource + "/tests/cm/data/resnet20-cifar.onnx", "").string() +
               " --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(log_lines(dir), (std::vector<std::string>{"run compile", "run place", "run simulate", "run evaluate"}));
  std::string md = slurp(dir / "report.md");
  for (const char* field : {"resnet20-cifar.onnx (opset 9); train and quantize skipped", "import note",
                            "not evaluated: no dataset given", "cores used", "throughput", "energy per image",
                            "maximum channel load", "placement"}) {
    EXPECT_NE(md.find(field), std::string::npos) << field << "\n" << md;
  }
  EXPECT_EQ(md.find("float model (after train)"), std::string::npos) << md;
  fs::remove_all(runs);
}

TEST(CliPipeline, FromAnOnnxModelEvaluatesOnADatasetOfItsShape) {
  if (!have_fashion()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = temp_runs("onnx-data");
  const auto dir = runs / "from-onnx";
  // A one-layer classifier for 1x28x28 images (tests/pipeline/data/make_linear_onnx.py).
  const std::string linear = kSource + "/tests/pipeline/data/linear-28x28.onnx";
  const std::string data = "data:\n  name: fashion-mnist\n  limit_train: 64\n  limit_test: 32\nevaluate:\n  images: 4\n";
  auto r = run("pipeline " + onnx_config(runs, linear, data).string() + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto e = nlohmann::json::parse(slurp(dir / "evaluate" / "stage.json"))["summary"];
  EXPECT_EQ(e["images"], 32);
  EXPECT_EQ(e["accelerator_images"], 4);
  EXPECT_TRUE(e.contains("compiled_accuracy")) << e.dump();
  EXPECT_NE(slurp(dir / "report.md").find("simulated accelerator (with non-idealities)"), std::string::npos);
  // A changed dataset re-runs only evaluate; the ResNet-20 with this dataset is not evaluated.
  r = run("pipeline " + onnx_config(runs, linear, data).string() + " --threads 1 --set data.limit_test=16");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto lines = log_lines(dir);
  EXPECT_EQ(std::vector<std::string>(lines.end() - 4, lines.end()),
            (std::vector<std::string>{"skip compile", "skip place", "skip simulate", "run evaluate"}));
  r = run("pipeline " + onnx_config(runs, kSource + "/tests/cm/data/resnet20-cifar.onnx", data).string() +
          " --threads 1 --set name=r20");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(slurp(runs / "r20" / "report.md")
                .find("not evaluated: the dataset fashion-mnist has samples [1, 28, 28] in 10 classes, "
                      "the ONNX model takes [3, 32, 32]"),
            std::string::npos)
      << slurp(runs / "r20" / "report.md");
  fs::remove_all(runs);
}

TEST(CliPipeline, BadOnnxPipelineConfigsFailBeforeAnyStage) {
  const auto runs = temp_runs("onnx-bad");
  const std::string r20 = kSource + "/tests/cm/data/resnet20-cifar.onnx";
  const std::vector<std::pair<std::string, std::string>> bad{
      {"model.onnx: no such ONNX file", " --set model.onnx=" + (runs / "missing.onnx").string()},
      {"model: give either model.name", " --set model.name=lenet5"},
      {"train: a pipeline from an ONNX model", " --set train.epochs=1"},
      {"quantize.method: the pipeline does not quantize an ONNX model", " --set quantize.method=efqat"},
      {"model.onnx: ", " --set model.onnx=" + kSource + "/configs/pipeline.yaml"}};
  for (const auto& [message, args] : bad) {
    auto r = run("pipeline " + onnx_config(runs, r20, "").string() + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(runs / "from-onnx")) << "a stage ran before validation finished";
  }
  fs::remove_all(runs);
}

TEST(CliPipeline, BadStageConfigFailsBeforeAnyStageNamingTheField) {
  const auto runs = temp_runs("bad");
  // ctest runs in the build tree: the config's relative hardware path is made absolute.
  const std::string hw = " --set compile.hw=" + kSource + "/configs/hw/default.yaml";
  auto r = run("pipeline " + kSource + "/configs/pipeline.yaml --set runs_dir=" + runs.string() +
               " --set place.topology=hexagon" + hw);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("place.topology"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(runs / "pipeline")) << "a stage ran before validation finished";
  r = run("pipeline " + kSource + "/configs/pipeline.yaml --set runs_dir=" + runs.string() +
          " --set quantize.bits=W9A4" + hw);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("quantize.bits"), std::string::npos) << r.output;
  r = run("pipeline " + kSource + "/configs/pipeline.yaml --set runs_dir=" + runs.string() +
          " --until deploy" + hw);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(runs / "pipeline"));
  fs::remove_all(runs);
}

}  // namespace
