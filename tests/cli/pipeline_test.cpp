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
