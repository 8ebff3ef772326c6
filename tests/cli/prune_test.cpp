// `neurocore prune`: flag errors (exit 2, naming the flag, nothing written) and small runs
// whose pruned model `neurocore eval` and `neurocore compile` load.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;
const auto& run = nc::test::run_cli;

bool fashion_present() { return fs::exists("/usr/share/datasets/fashion-mnist"); }

TEST(Prune, BadFlagsAreUserErrorsNamingTheFlag) {
  const auto out = nc::test::fresh_temp_path("prune", "bad");
  for (const char* b : {"0", "1.5", "-0.2"}) {
    auto r = run(std::string("prune /nonexistent --budget ") + b + " --out " + out.string());
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("--budget"), std::string::npos) << r.output;
  }
  auto r = run("prune /nonexistent --method snip");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--method"), std::string::npos) << r.output;
  r = run("prune /nonexistent --granularity block");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--granularity"), std::string::npos) << r.output;
  r = run("prune /nonexistent --budget-kind bytes");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--budget-kind"), std::string::npos) << r.output;
  r = run("prune /nonexistent --rounding half");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--rounding"), std::string::npos) << r.output;
  r = run("prune /nonexistent --score-init uniform");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--score-init"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(Prune, RunsEvalAndCompileLoadThePrunedModel) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto dir = nc::test::fresh_temp_path("prune", "runs");
  fs::create_directories(dir);
  std::ofstream(dir / "mlp.yaml")
      << "name: mlp\nseed: 1\nthreads: 1\nruns_dir: " << dir.string()
      << "\ndata:\n  name: fashion-mnist\n  limit_train: 512\n  limit_test: 256\nmodel:\n  name: mlp\n"
         "  hidden: [32, 16]\ntrain:\n  epochs: 1\n  batch_size: 64\n  learning_rate: 0.05\n";
  auto r = run("train " + (dir / "mlp.yaml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string src = (dir / "mlp").string();
  // A method the granularity cannot take: exit 2, nothing written.
  r = run("prune " + src + " --method l1 --granularity weight --out " + (dir / "bad").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--method"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "bad"));

  r = run("prune " + src + " --method dtp --budget 0.2 --epochs 2 --out " + (dir / "w").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("test accuracy before"), std::string::npos) << r.output;
  const std::string report = nc::test::slurp(dir / "w" / "report.md");
  EXPECT_NE(report.find("Kept weights per layer"), std::string::npos) << report;
  EXPECT_NE(report.find("| layers.0 |"), std::string::npos) << report;
  r = run("eval " + (dir / "w").string());
  EXPECT_EQ(r.code, 0) << r.output;

  r = run("prune " + src + " --method magnitude --granularity channel --budget-kind flops --budget 0.3 "
          "--epochs 1 --out " + (dir / "c").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("(shrunk)"), std::string::npos) << r.output;
  EXPECT_NE(nc::test::slurp(dir / "c" / "config.yaml").find("hidden"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "c" / "pruned_torchscript.pt"));
  r = run("eval " + (dir / "c").string());
  EXPECT_EQ(r.code, 0) << r.output;
  const std::string hw = std::string(" --hw ") + NC_SOURCE_DIR + "/configs/hw/default.yaml";
  r = run("compile " + (dir / "c").string() + hw + " --out " + (dir / "compiled").string());
  EXPECT_EQ(r.code, 0) << r.output;
  fs::remove_all(dir);
}

}  // namespace
