// Every shipped config in configs/ (but hardware specs) is valid: it builds an experiment.
#include <gtest/gtest.h>

#include <filesystem>

#include "neurocore/data/registry.h"
#include "neurocore/learn/experiment.h"

namespace {

namespace fs = std::filesystem;

TEST(Configs, EveryShippedExperimentConfigIsValid) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(NC_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    auto c = nc::Config::load(entry.path().string());
    c.set("data.limit_train=16");
    c.set("data.limit_test=16");
    c.set("threads=1");
    const std::string data = c.root().section("data").string("name", "fashion-mnist");
    bool available = false;
    for (const auto& d : nc::data::list_datasets()) available |= d.name == data && d.available;
    if (!available) continue;
    EXPECT_NO_THROW(nc::learn::Experiment::build(c)) << entry.path();
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no dataset installed";
}

}  // namespace
