#include "neurocore/core/run_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>

#include "neurocore/core/build_info.h"
#include "neurocore/core/io.h"

namespace fs = std::filesystem;

namespace {

// `git rev-parse HEAD` of the source tree, or "" without git.
std::string source_head() {
  FILE* p = popen("git -C '" NC_SOURCE_DIR "' rev-parse HEAD 2>/dev/null", "r");
  if (!p) return "";
  char buf[64] = {};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  pclose(p);
  std::string head = got ? buf : "";
  while (!head.empty() && head.back() == '\n') head.pop_back();
  return head;
}

}  // namespace

TEST(BuildInfo, NamesTheCommitOfTheSourcesItWasBuiltFrom) {
  const std::string commit = nc::build_commit();
  const std::string head = source_head();
  if (head.empty()) {
    EXPECT_EQ(commit, "unknown");
    return;
  }
  // The build records HEAD at build time: a test run after a new commit without a rebuild
  // tests a stale binary, which this is right to report.
  EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{40}(-dirty)?"))) << commit;
  EXPECT_EQ(commit.substr(0, 40), head);
}

TEST(RunDir, RecordsTheBuildCommitWhenCreated) {
  const auto base = fs::temp_directory_path() / ("nc_rundir_" + std::to_string(getpid()));
  fs::remove_all(base);
  const auto run = nc::RunDir::create(base.string(), "r");
  const auto j = nlohmann::json::parse(nc::read_file(run.file("provenance.json")));
  EXPECT_EQ(j.at("commit").get<std::string>(), nc::build_commit());
  EXPECT_TRUE(std::regex_match(j.at("created").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_TRUE(fs::is_directory(run.checkpoints()));
  fs::remove_all(base);
}
