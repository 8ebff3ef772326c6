// End-to-end checks of the `neurocore` executable: exit codes and messages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

using Result = nc::test::CliResult;
const auto& run = nc::test::run_cli;

std::string write_config(const std::string& name, const std::string& text) {
  auto path = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

TEST(Cli, HelpExitsZeroAndShowsExamples) {
  auto r = run("train --help");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("Examples"), std::string::npos) << r.output;
}

TEST(Cli, UnknownSubcommandIsAUserError) { EXPECT_EQ(run("trian").code, 2); }

TEST(Cli, MissingConfigFileIsAUserError) {
  auto r = run("train /nonexistent/config.yaml");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(Cli, TypoInConfigSuggestsTheKey) {
  auto cfg = write_config("typo", "train:\n  learnig_rate: 0.1\n");
  auto r = run("train " + cfg);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'learning_rate'"), std::string::npos) << r.output;
  fs::remove(cfg);
}

TEST(Cli, BadSetValueNamesTheField) {
  auto cfg = write_config("bad_set", "train:\n  epochs: 1\n");
  auto r = run("train " + cfg + " --set train.epochs=many");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("train.epochs must be an integer"), std::string::npos) << r.output;
  fs::remove(cfg);
}

TEST(Cli, EvalOfAMissingRunIsAUserError) {
  auto r = run("eval /nonexistent/run");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/run"), std::string::npos) << r.output;
}

TEST(Cli, InfoReportsThreadsAndBlas) {
  auto r = run("info --threads 1");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("threads   1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("BLAS"), std::string::npos) << r.output;
}

}  // namespace
