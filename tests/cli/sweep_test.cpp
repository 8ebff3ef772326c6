// `neurocore sweep`: a bad grid key fails before any run, a restarted sweep runs only the
// unfinished runs, and the summary covers every run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;
using nc::test::run_cli;
using nc::test::slurp;

bool mnist10k_installed() {
  const char* home = std::getenv("HOME");
  const char* data = std::getenv("NC_DATA");
  const fs::path cache = data && *data ? fs::path(data) : fs::path(home ? home : ".") / ".cache/neurocore";
  return fs::exists(cache / "mnist-10k" / "digits" / "9.json");
}

// A tiny MLP on a slice of MNIST-10k with the validation split on: one run takes a second.
fs::path tiny_config(const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / "tiny.yaml")
      << "threads: 1\ndata:\n  name: mnist-10k\n  validation: true\n  limit_train: 128\n"
         "  limit_valid: 64\n  limit_test: 64\nmodel:\n  name: mlp\n  hidden: [16]\n"
         "train:\n  epochs: 1\n  batch_size: 32\n  learning_rate: 0.05\n";
  return dir / "tiny.yaml";
}

TEST(CliSweep, BadGridKeyGetsTheConfigsSuggestionBeforeAnyRun) {
  if (!mnist10k_installed()) GTEST_SKIP() << "mnist-10k not installed";
  const auto dir = nc::test::fresh_temp_path("sweep", "badkey");
  const auto cfg = tiny_config(dir);
  const auto r = run_cli("sweep " + cfg.string() + " --seeds 2 --out " + (dir / "sw").string() +
                         " --grid train.learnig_rate=0.01,0.02");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'learning_rate'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train.learnig_rate=0.01"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "sw" / "runs"));  // nothing ran
  // A value out of range: the field, the value seen and the range, also before any run.
  const auto v = run_cli("sweep " + cfg.string() + " --seeds 1 --out " + (dir / "sw").string() +
                         " --grid train.epochs=1,-1");
  EXPECT_EQ(v.code, 2) << v.output;
  EXPECT_NE(v.output.find("train.epochs must be an integer in"), std::string::npos) << v.output;
  EXPECT_FALSE(fs::exists(dir / "sw" / "runs"));
  fs::remove_all(dir);
}

TEST(CliSweep, RestartRunsOnlyTheUnfinishedRuns) {
  if (!mnist10k_installed()) GTEST_SKIP() << "mnist-10k not installed";
  const auto dir = nc::test::fresh_temp_path("sweep", "resume");
  const auto cfg = tiny_config(dir);
  const fs::path sw = dir / "sw";
  const std::string base = "sweep " + cfg.string() + " --out " + sw.string();
  auto r = run_cli(base + " --seeds 2");
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path runs = sw / "runs";
  ASSERT_TRUE(fs::exists(runs / "s0-seed1" / "sweep_run.json")) << r.output;
  ASSERT_TRUE(fs::exists(runs / "s0-seed2" / "sweep_run.json")) << r.output;
  // Run 2 "killed": its directory is there but without the marker.
  fs::remove(runs / "s0-seed2" / "sweep_run.json");
  const std::string marker1 = slurp(runs / "s0-seed1" / "sweep_run.json");
  fs::remove(sw / "logs" / "s0-seed1.log");  // reappears only if run 1 runs again

  r = run_cli(base + " --seeds 3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("1 finished, 2 to run"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(runs / "s0-seed1" / "sweep_run.json"), marker1);
  EXPECT_FALSE(fs::exists(sw / "logs" / "s0-seed1.log"));
  EXPECT_TRUE(fs::exists(runs / "s0-seed2" / "sweep_run.json"));
  EXPECT_TRUE(fs::exists(runs / "s0-seed3" / "sweep_run.json"));
  EXPECT_FALSE(fs::exists(runs / "s0-seed2-2"));  // rerun in place, not beside

  const auto j = nlohmann::json::parse(slurp(sw / "sweep.json"));
  EXPECT_EQ(j["runs"]["done"], 3);
  const auto& m = j["settings"][0]["metrics"];
  ASSERT_TRUE(m.contains("valid_acc")) << j.dump(2);
  EXPECT_EQ(m["test_acc"]["n"], 3);
  // The mean is that of the runs' own final records.
  double sum = 0;
  for (int k = 1; k <= 3; ++k) {
    const std::string text = slurp(runs / ("s0-seed" + std::to_string(k)) / "metrics.jsonl");
    sum += nlohmann::json::parse(text.substr(0, text.find('\n')))["test_acc"].get<double>();
  }
  EXPECT_NEAR(m["test_acc"]["mean"].get<double>(), sum / 3, 1e-9);
  EXPECT_EQ(j["best"]["setting"], "s0");
  EXPECT_NE(slurp(sw / "report.md").find("Best setting on `valid_acc`"), std::string::npos);

  // Nothing left: a third start runs nothing; another grid in the same directory is refused.
  r = run_cli(base + " --seeds 3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("3 finished, 0 to run"), std::string::npos) << r.output;
  r = run_cli(base + " --seeds 1 --set train.learning_rate=0.1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another sweep"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// `neurocore sweep` drives `neurocore prune` like quantize: the RUN_DIR positional, --out per
// run, a bad flag value refused by the dry runs before any run, and each run's final record
// (test_acc, valid_acc) summarised per setting.
TEST(CliSweep, PruneSweepOverBudgetsSummarisesEachSetting) {
  if (!mnist10k_installed()) GTEST_SKIP() << "mnist-10k not installed";
  const auto dir = nc::test::fresh_temp_path("sweep", "prune");
  const auto cfg = tiny_config(dir);
  auto r = run_cli("train " + cfg.string() + " --set runs_dir=" + dir.string() + " --set name=src");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string base = "sweep " + (dir / "src").string() + " --command prune --seeds 1 --out " +
                            (dir / "sw").string() + " --arg=--method=magnitude --arg=--epochs=1";

  r = run_cli(base + " --grid=--budget=0.1,1.5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("1.5"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "sw" / "runs"));  // nothing ran
  fs::remove_all(dir / "sw");

  r = run_cli(base + " --grid=--budget=0.1,0.05");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(slurp(dir / "sw" / "sweep.json"));
  ASSERT_EQ(j["settings"].size(), 2u) << j.dump(2);
  const double budgets[] = {0.1, 0.05};
  for (int i = 0; i < 2; ++i) {
    const auto& m = j["settings"][i]["metrics"];
    ASSERT_TRUE(m.contains("valid_acc")) << j.dump(2);
    ASSERT_TRUE(m.contains("test_acc")) << j.dump(2);
    EXPECT_EQ(m["test_acc"]["n"], 1);
    const fs::path run = dir / "sw" / "runs" / ("s" + std::to_string(i) + "-seed1");
    std::string text = slurp(run / "metrics.jsonl");
    text = text.substr(0, text.find_last_not_of('\n') + 1);
    const auto last = nlohmann::json::parse(text.substr(text.find_last_of('\n') + 1));
    EXPECT_EQ(last["stage"], "final");
    EXPECT_NEAR(m["test_acc"]["mean"].get<double>(), last["test_acc"].get<double>(), 1e-9);
    EXPECT_NEAR(m["valid_acc"]["mean"].get<double>(), last["valid_acc"].get<double>(), 1e-9);
    // Each run pruned under its own setting's budget.
    EXPECT_LE(last["params_after"].get<double>(), budgets[i] * last["params_before"].get<double>() + 0.5);
    EXPECT_GT(last["params_after"].get<double>(), 0.5 * budgets[i] * last["params_before"].get<double>());
  }
  fs::remove_all(dir);
}

}  // namespace
