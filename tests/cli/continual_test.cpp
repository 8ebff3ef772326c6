// `neurocore continual`: a bad continual section is rejected before any data is loaded and
// nothing is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/run_cli.h"

namespace {

namespace fs = std::filesystem;

TEST(CliContinual, BadTaskCountNamesTheFieldAndWritesNothing) {
  const auto dir = nc::test::fresh_temp_path("continual", "bad");
  fs::create_directories(dir);
  const auto cfg = dir / "c.yaml";
  std::ofstream(cfg) << "runs_dir: " << (dir / "runs").string()
                     << "\ndata: {name: mnist-10k}\ncontinual: {tasks: 0}\n";
  const auto r = nc::test::run_cli("continual " + cfg.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("continual.tasks"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "runs"));
  fs::remove_all(dir);
}

TEST(CliContinual, UnknownKeySuggestsTheValidOne) {
  const auto dir = nc::test::fresh_temp_path("continual", "typo");
  fs::create_directories(dir);
  const auto cfg = dir / "c.yaml";
  std::ofstream(cfg) << "runs_dir: " << (dir / "runs").string() << "\ncontinual: {taks: 3}\n";
  const auto r = nc::test::run_cli("continual " + cfg.string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("did you mean 'tasks'"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

}  // namespace
