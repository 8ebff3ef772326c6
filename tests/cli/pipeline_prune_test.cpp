// `neurocore pipeline` with a prune stage (configs/pipeline-prune.yaml, small): train, prune
// (shrunk), quantize, compile, simulate; the report compares the chip before and after pruning.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;
const auto& run = nc::test::run_cli;
const std::string kSource = NC_SOURCE_DIR;

TEST(CliPipelinePrune, PruneStageShrinksAndTheReportComparesTheChip) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST";
  const auto runs = nc::test::fresh_temp_path("pipeline", "prune");
  const std::string args = "pipeline " + kSource + "/configs/pipeline-prune.yaml --threads 1 --set runs_dir=" +
                           runs.string() + " --set data.limit_train=256 --set data.limit_test=128" +
                           " --set simulate.images=2 --set evaluate.images=8 --set quantize.method=ptq" +
                           " --set prune.budget=0.3 --set compile.hw=" + kSource + "/configs/hw/default.yaml";
  auto r = run(args + " --until compile");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto dir = runs / "pipeline-prune";
  const auto p = nlohmann::json::parse(nc::test::slurp(dir / "prune" / "stage.json"))["summary"];
  EXPECT_TRUE(p["shrunk"].get<bool>());
  EXPECT_LE(p["flops_after"].get<double>(), 0.3 * p["flops_before"].get<double>());
  EXPECT_LT(p["chip_after"]["energy_nj"].get<double>(), p["chip_before"]["energy_nj"].get<double>());
  const std::string md = nc::test::slurp(dir / "report.md");
  for (const char* field : {"after pruning", "Pruning: the float model", "cores", "energy per image"})
    EXPECT_NE(md.find(field), std::string::npos) << field << "\n" << md;
  // Channel pruning with GRAPES (which uses the same hook) fails before any stage runs.
  const auto other = nc::test::fresh_temp_path("pipeline", "prune_bad");
  r = run("pipeline " + kSource + "/configs/pipeline-prune.yaml --threads 1 --set runs_dir=" + other.string() +
          " --set learn.modulation=grapes --set data.limit_train=16 --set data.limit_test=16" +
          " --set compile.hw=" + kSource + "/configs/hw/default.yaml");  // ctest's cwd is not the source
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("prune.granularity"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(other / "pipeline-prune" / "train"));
  fs::remove_all(runs);
  fs::remove_all(other);
}

}  // namespace
