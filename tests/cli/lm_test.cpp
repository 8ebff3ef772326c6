// `neurocore lm`: a tiny corpus end to end, and bad fields rejected before anything is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

fs::path tiny_setup(const std::string& name, const std::string& extra) {
  const auto dir = nc::test::fresh_temp_path("lm", name);
  fs::create_directories(dir);
  std::ofstream text(dir / "t.txt");
  for (int i = 0; i < 200; ++i) text << "the cat sat.\n";
  std::ofstream(dir / "c.yaml") << "runs_dir: " << (dir / "runs").string()
                                << "\nname: tiny\nthreads: 1\ndata: {name: text, path: "
                                << (dir / "t.txt").string()
                                << "}\nmodel: {cell: ssnu, hidden: 16}\n"
                                   "train: {batch_size: 4, eval_every: 5}\nlearn: {window: 10}\n"
                                << extra;
  return dir;
}

TEST(CliLm, TinyCorpusWritesReportAndModel) {
  const auto dir = tiny_setup("ok", "");
  const auto r = nc::test::run_cli("lm " + (dir / "c.yaml").string() + " --set learn.rule=ostl");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto run = dir / "runs" / "tiny";
  EXPECT_TRUE(fs::exists(run / "model.pt"));
  std::stringstream report;
  report << std::ifstream(run / "report.md").rdbuf();
  EXPECT_NE(report.str().find("| test | "), std::string::npos) << report.str();
  EXPECT_NE(report.str().find("rule ostl"), std::string::npos) << report.str();
  std::stringstream metrics;
  metrics << std::ifstream(run / "metrics.jsonl").rdbuf();
  EXPECT_NE(metrics.str().find("\"test_bpc\""), std::string::npos) << metrics.str();
  fs::remove_all(dir);
}

TEST(CliLm, BadFieldsNameTheFieldAndWriteNothing) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"learn.rule=rtrl", "learn.rule"},
      {"model.cell=transformer", "model.cell"},
      {"train.batch_sise=3", "batch_sise"}};
  for (const auto& [set, field] : cases) {
    const auto dir = tiny_setup("bad", "");
    const auto r = nc::test::run_cli("lm " + (dir / "c.yaml").string() + " --set " + set);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(field), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir / "runs"));
    fs::remove_all(dir);
  }
}

TEST(CliLm, MissingTextFileIsAUserError) {
  const auto dir = tiny_setup("missing", "");
  const auto r = nc::test::run_cli("lm " + (dir / "c.yaml").string() + " --set data.path=" +
                                   (dir / "nope.txt").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("nope.txt not found"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "runs"));
  fs::remove_all(dir);
}

}  // namespace
