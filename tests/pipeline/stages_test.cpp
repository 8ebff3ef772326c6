// StageRunner: a stage runs when its key (own settings chained to the stages before it) is new
// and is skipped, returning its stored summary, when its finished outputs carry the same key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "neurocore/core/io.h"
#include "neurocore/pipeline/stages.h"

namespace {

namespace fs = std::filesystem;
using nc::pipeline::StageRunner;
using json = nlohmann::json;

fs::path fresh_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("nc_stages_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(p);
  return p;
}

// Runs stages a, b, c with the given settings; counts how often each body ran.
std::vector<std::string> run_abc(const fs::path& dir, const std::string& sa, const std::string& sb,
                                 const std::string& sc) {
  StageRunner r(dir.string());
  int value = 0;
  for (const auto& [name, settings] :
       std::vector<std::pair<std::string, std::string>>{{"a", sa}, {"b", sb}, {"c", sc}}) {
    const json s = r.run(name, settings, [&](const std::string& out) {
      nc::write_file_atomic((fs::path(out) / "out.txt").string(), name + settings);
      return json{{"value", value + 1}};
    });
    value = s["value"].get<int>();
  }
  EXPECT_EQ(value, 3);  // summaries chain through skipped stages too
  return r.ran();
}

TEST(StageRunner, SkipsUpToDateStagesAndRerunsFromTheFirstChangedOne) {
  const auto dir = fresh_dir("chain");
  EXPECT_EQ(run_abc(dir, "1", "1", "1"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(run_abc(dir, "1", "1", "1").empty());
  EXPECT_EQ(run_abc(dir, "1", "1", "2"), (std::vector<std::string>{"c"}));
  // Changing b re-runs b and c, even though c's own settings are the same as before.
  EXPECT_EQ(run_abc(dir, "1", "2", "2"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(nc::read_file((dir / "b" / "out.txt").string()), "b2");
  EXPECT_EQ(run_abc(dir, "0", "2", "2"), (std::vector<std::string>{"a", "b", "c"}));
  fs::remove_all(dir);
}

TEST(StageRunner, InterruptedStageLeavesNoFinishedDirectoryAndRunsAgain) {
  const auto dir = fresh_dir("interrupt");
  {
    StageRunner r(dir.string());
    r.run("a", "x", [](const std::string&) { return json{{"value", 1}}; });
    EXPECT_THROW(r.run("b", "x", [](const std::string& out) -> json {
      nc::write_file_atomic((fs::path(out) / "half.txt").string(), "half");
      throw std::runtime_error("killed");
    }), std::runtime_error);
  }
  EXPECT_FALSE(fs::exists(dir / "b"));
  StageRunner again(dir.string());
  again.run("a", "x", [](const std::string&) { return json{{"value", 1}}; });
  again.run("b", "x", [](const std::string&) { return json{{"value", 2}}; });
  EXPECT_EQ(again.ran(), (std::vector<std::string>{"b"}));
  EXPECT_FALSE(fs::exists(dir / "b" / "half.txt"));
  // The log holds one line per stage event, in order.
  std::ifstream log(dir / "pipeline.log");
  std::vector<std::string> kinds;
  for (std::string kind, name, key; log >> kind >> name >> key;) kinds.push_back(kind + " " + name);
  EXPECT_EQ(kinds, (std::vector<std::string>{"run a", "skip a", "run b"}));
  fs::remove_all(dir);
}

TEST(StageRunner, CorruptManifestMakesTheStageRunAgain) {
  const auto dir = fresh_dir("corrupt");
  {
    StageRunner r(dir.string());
    r.run("a", "x", [](const std::string&) { return json{{"value", 1}}; });
  }
  nc::write_file_atomic((dir / "a" / "stage.json").string(), "{not json");
  StageRunner r(dir.string());
  r.run("a", "x", [](const std::string&) { return json{{"value", 1}}; });
  EXPECT_EQ(r.ran(), (std::vector<std::string>{"a"}));
  fs::remove_all(dir);
}

TEST(Fingerprint, IsFnv1aAndStable) {
  // FNV-1a 64 of the empty string and of "a" (published test vectors).
  EXPECT_EQ(nc::pipeline::fingerprint(""), "cbf29ce484222325");
  EXPECT_EQ(nc::pipeline::fingerprint("a"), "af63dc4c8601ec8c");
}

}  // namespace
