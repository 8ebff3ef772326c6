// The sweep's plan (grid, settings, run arguments) and its statistics, against hand
// computations on fixed metrics files.
#include "neurocore/learn/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "neurocore/core/error.h"
#include "neurocore/learn/sweep_report.h"
#include "neurocore/learn/sweep_stats.h"

namespace {

namespace fs = std::filesystem;
using namespace nc::learn;

TEST(SweepStats, MeanSampleStdAndTInterval) {
  // 80, 82, 84: mean 82, s^2 = (4 + 0 + 4) / 2 = 4, s = 2, t_{0.975,2} = 4.303,
  // half width 4.303 * 2 / sqrt(3).
  const auto s = summarize({80, 82, 84});
  EXPECT_EQ(s.n, 3);
  EXPECT_DOUBLE_EQ(s.mean, 82);
  EXPECT_DOUBLE_EQ(s.std, 2);
  EXPECT_NEAR(s.ci_low, 82 - 4.303 * 2 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(s.ci_high, 82 + 4.303 * 2 / std::sqrt(3.0), 1e-12);
  const auto one = summarize({5});
  EXPECT_DOUBLE_EQ(one.mean, 5);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_THROW(summarize({}), nc::UserError);
}

TEST(SweepStats, TQuantileTableAndLargeDf) {
  EXPECT_DOUBLE_EQ(t_quantile_975(1), 12.706);
  EXPECT_DOUBLE_EQ(t_quantile_975(30), 2.042);
  EXPECT_NEAR(t_quantile_975(40), 2.021, 1e-3);
  EXPECT_NEAR(t_quantile_975(120), 1.980, 1e-3);
  EXPECT_THROW(t_quantile_975(0), nc::UserError);
}

TEST(SweepPlan, AxesSettingsAndArguments) {
  EXPECT_EQ(parse_axis("model.hidden=[8, 8],[16,16]", "--grid").values,
            (std::vector<std::string>{"[8, 8]", "[16,16]"}));
  EXPECT_THROW(parse_axis("train.learning_rate", "--grid"), nc::UserError);
  EXPECT_THROW(parse_axis("a=1,,2", "--grid"), nc::UserError);

  SweepSpec spec;
  spec.target = "c.yaml";
  spec.sets = {"data.validation=true"};
  spec.grid = {parse_axis("train.learning_rate=0.1,0.2", "--grid"), parse_axis("--lr=1,2,3", "--grid")};
  spec.finalize();
  EXPECT_EQ(spec.out, "sweeps/c");
  EXPECT_EQ(spec.select, "valid_acc");
  EXPECT_EQ(spec.select_mode, "max");
  EXPECT_EQ(spec.test_metric, "test_acc");
  const auto settings = sweep_settings(spec);
  ASSERT_EQ(settings.size(), 6u);
  EXPECT_EQ(settings[1].id, "s1");
  EXPECT_EQ(settings[1].values[0].second, "0.1");  // the last axis varies fastest
  EXPECT_EQ(settings[1].values[1].second, "2");
  EXPECT_EQ(run_arguments(spec, settings[1], 7, "sw/runs/s1-seed7"),
            (std::vector<std::string>{"train", "c.yaml", "--set", "data.validation=true", "--set",
                                      "train.learning_rate=0.1", "--lr=2", "--set", "seed=7",
                                      "--set", "runs_dir=sw/runs", "--set", "name=s1-seed7"}));
  spec.command = "quantize";
  const auto q = run_arguments(spec, settings[0], 1, "sw/runs/s0-seed1");
  EXPECT_EQ(std::vector<std::string>(q.end() - 2, q.end()),
            (std::vector<std::string>{"--out", "sw/runs/s0-seed1"}));

  SweepSpec bad = spec;
  bad.command = "trian";
  try {
    bad.finalize();
    FAIL();
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'train'"), std::string::npos) << e.what();
  }
  bad = spec;
  bad.grid.push_back(parse_axis("seed=1,2", "--grid"));
  EXPECT_THROW(bad.finalize(), nc::UserError);
  SweepSpec lm;
  lm.command = "lm";
  lm.target = "lm.yaml";
  lm.finalize();
  EXPECT_EQ(lm.select, "valid_bpc");
  EXPECT_EQ(lm.select_mode, "min");
  EXPECT_EQ(lm.test_metric, "test_bpc");
}

// A run directory with fixed metrics (two epochs) and a completion marker.
void write_run(const fs::path& dir, double valid1, double valid2, double test2, const std::string& commit) {
  fs::create_directories(dir);
  std::ofstream(dir / "metrics.jsonl")
      << R"({"kind":"epoch","epoch":1,"valid_acc":)" << valid1 << R"(,"test_acc":50})" << "\n"
      << R"({"kind":"epoch","epoch":2,"valid_acc":)" << valid2 << R"(,"test_acc":)" << test2 << "}\n";
  std::ofstream(dir / "config.yaml") << "seed: 1\n";
  std::ofstream(dir / kSweepMarker) << R"({"commit":")" << commit << R"(","args":["train"]})";
}

TEST(SweepReport, StatisticsEqualAHandComputation) {
  const fs::path out = fs::temp_directory_path() / ("nc_learn_sweep_" + std::to_string(getpid()));
  fs::remove_all(out);
  SweepSpec spec;
  spec.target = "c.yaml";
  spec.out = out.string();
  spec.seeds = 3;
  spec.grid = {parse_axis("train.learning_rate=0.1,0.2", "--grid")};
  spec.finalize();
  const auto settings = sweep_settings(spec);
  // s0: final valid 70, 72, 74 (mean 72, s 2); test 60, 61, 65 (mean 62, s = sqrt(7)).
  // s1: final valid 80, 81 (third run pending): mean 80.5, s = sqrt(0.5); test 70, 72.
  write_run(out / "runs" / "s0-seed1", 10, 70, 60, "abc");
  write_run(out / "runs" / "s0-seed2", 20, 72, 61, "abc");
  write_run(out / "runs" / "s0-seed3", 30, 74, 65, "abc");
  write_run(out / "runs" / "s1-seed1", 40, 80, 70, "abc");
  write_run(out / "runs" / "s1-seed2", 50, 81, 72, "def");
  std::vector<std::vector<SweepRunStatus>> runs(2);
  for (int s = 0; s < 2; ++s) {
    for (int k = 1; k <= 3; ++k) {
      const std::string name = "s" + std::to_string(s) + "-seed" + std::to_string(k);
      runs[s].push_back({name, k, s == 1 && k == 3 ? "pending" : "done", (out / "logs" / (name + ".log")).string()});
    }
  }
  const auto j = summarize_sweep(spec, settings, runs, "abc");
  const auto& v0 = j["settings"][0]["metrics"]["valid_acc"];
  EXPECT_EQ(v0["n"], 3);
  EXPECT_DOUBLE_EQ(v0["mean"].get<double>(), 72);
  EXPECT_DOUBLE_EQ(v0["std"].get<double>(), 2);
  EXPECT_NEAR(v0["ci95"][0].get<double>(), 72 - 4.303 * 2 / std::sqrt(3.0), 1e-9);
  const auto& t0 = j["settings"][0]["metrics"]["test_acc"];
  EXPECT_DOUBLE_EQ(t0["mean"].get<double>(), 62);
  EXPECT_NEAR(t0["std"].get<double>(), std::sqrt(7.0), 1e-12);
  const auto& v1 = j["settings"][1]["metrics"]["valid_acc"];
  EXPECT_EQ(v1["n"], 2);
  EXPECT_DOUBLE_EQ(v1["mean"].get<double>(), 80.5);
  EXPECT_NEAR(v1["std"].get<double>(), std::sqrt(0.5), 1e-12);
  EXPECT_NEAR(v1["ci95"][1].get<double>(), 80.5 + 12.706 * std::sqrt(0.5) / std::sqrt(2.0), 1e-9);
  // The curves: the mean over seeds per epoch (epoch 1 of s0: 10, 20, 30).
  EXPECT_DOUBLE_EQ(j["settings"][0]["curves"]["valid_acc"]["mean"][0].get<double>(), 20);
  EXPECT_DOUBLE_EQ(j["settings"][0]["curves"]["valid_acc"]["std"][0].get<double>(), 10);
  // The best on valid_acc is s1, its test accuracy reported with it.
  EXPECT_EQ(j["best"]["setting"], "s1");
  EXPECT_DOUBLE_EQ(j["best"]["test_acc"]["mean"].get<double>(), 71);
  // s1 mixes two commits: flagged, per setting and overall.
  EXPECT_FALSE(j["settings"][0]["mixed_commits"].get<bool>());
  EXPECT_TRUE(j["settings"][1]["mixed_commits"].get<bool>());
  EXPECT_TRUE(j["mixed_commits"].get<bool>());
  EXPECT_EQ(j["runs"]["done"], 5);
  EXPECT_EQ(j["settings"][0]["runs"][0]["config"], "runs/s0-seed1/config.yaml");

  write_sweep_report(spec, settings, j);
  std::ifstream md(out / "report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("72 ± 2 ["), std::string::npos) << text;
  EXPECT_NE(text.find("different commits"), std::string::npos) << text;
  EXPECT_NE(text.find("**s1**"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(out / "sweep.json"));
  fs::remove_all(out);
}

}  // namespace
