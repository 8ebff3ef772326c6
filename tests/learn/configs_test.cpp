// Every shipped config in configs/ (but hardware specs and pipeline configs, checked by
// tests/pipeline) is valid: it builds an experiment, or for `neurocore lm` configs (lm-*),
// its sections pass the language-model readers; sweep files (sweep-*) read as sweeps of an
// existing config.
#include <gtest/gtest.h>

#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/data/registry.h"
#include "neurocore/data/text.h"
#include "neurocore/learn/charlm.h"
#include "neurocore/learn/continual.h"
#include "neurocore/learn/experiment.h"
#include "neurocore/learn/stdp_experiment.h"
#include "neurocore/learn/sweep.h"

namespace {

namespace fs = std::filesystem;

TEST(Configs, EveryShippedExperimentConfigIsValid) {
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(NC_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    if (entry.path().filename().string().rfind("pipeline", 0) == 0) continue;
    if (entry.path().filename().string().rfind("sweep-", 0) == 0) {
      auto spec = nc::learn::SweepSpec::from_file(entry.path().string());
      EXPECT_NO_THROW(spec.finalize()) << entry.path();
      EXPECT_TRUE(fs::exists(spec.target)) << entry.path() << ": " << spec.target;
      ++checked;
      continue;
    }
    auto c = nc::Config::load(entry.path().string());
    if (entry.path().filename().string().rfind("lm-", 0) == 0) {
      auto r = c.root();
      EXPECT_NO_THROW(nc::data::TextOptions::from_config(r.section("data"))) << entry.path();
      EXPECT_NO_THROW(nc::learn::lm_options(r.section("model"), r.section("learn"),
                                            r.section("train")))
          << entry.path();
      ++checked;
      continue;
    }
    c.set("data.limit_train=16");
    c.set("data.limit_test=16");
    c.set("threads=1");
    const std::string data = c.root().section("data").string("name", "fashion-mnist");
    bool available = false;
    for (const auto& d : nc::data::list_datasets()) available |= d.name == data && d.available;
    if (!available) continue;
    // learn.rule stdp has its own experiment (stdp_experiment.h).
    if (nc::learn::is_stdp_config(c)) {
      EXPECT_NO_THROW(nc::learn::StdpExperiment::build(c)) << entry.path();
      ++checked;
      continue;
    }
    // Continual configs add a `continual` section, read by its own reader.
    if (entry.path().filename().string().rfind("continual", 0) == 0) {
      EXPECT_NO_THROW(nc::learn::continual_options(c.root().section("continual")))
          << entry.path();
      EXPECT_NO_THROW(nc::learn::Experiment::build(c, {"continual"})) << entry.path();
    } else {
      EXPECT_NO_THROW(nc::learn::Experiment::build(c)) << entry.path();
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no dataset installed";
}

}  // namespace

namespace {

TEST(Configs, OstlTakesPropagatingGrapesAndRefusesTheLocalVersion) {
  bool available = false;
  for (const auto& d : nc::data::list_datasets()) available |= d.name == "mnist-10k" && d.available;
  if (!available) GTEST_SKIP() << "MNIST-10k not installed";
  const std::string base =
      "threads: 1\ndata: {name: mnist-10k, limit_train: 16, limit_test: 16}\n"
      "model: {name: snu-mlp, hidden: [8], readout: linear}\n";
  auto ok = nc::Config::from_string(base + "learn: {rule: ostl, modulation: grapes}\n", "t.yaml");
  EXPECT_EQ(nc::learn::Experiment::build(ok).modulation->name(), "grapes");
  auto local = nc::Config::from_string(
      base + "learn: {rule: ostl, modulation: grapes, grapes: {version: local}}\n", "t.yaml");
  try {
    nc::learn::Experiment::build(local);
    FAIL() << "expected a UserError";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("local is not supported with learn.rule: ostl"),
              std::string::npos)
        << e.what();
  }
}

// The Elman `rnn` model has no OSTL layer: learn.rule ostl names it and the way out.
TEST(Configs, OstlRefusesTheElmanRnnNamingTheModel) {
  bool available = false;
  for (const auto& d : nc::data::list_datasets()) available |= d.name == "mnist-10k" && d.available;
  if (!available) GTEST_SKIP() << "MNIST-10k not installed";
  auto c = nc::Config::from_string(
      "threads: 1\ndata: {name: mnist-10k, limit_train: 16, limit_test: 16}\n"
      "model: {name: rnn, hidden: 8}\nlearn: {rule: ostl}\n", "t.yaml");
  try {
    nc::learn::Experiment::build(c);
    FAIL() << "expected a UserError";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("does not support model 'rnn'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("learn.rule: bptt"), std::string::npos) << e.what();
  }
}

}  // namespace
