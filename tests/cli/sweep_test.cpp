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

}  // namespace
