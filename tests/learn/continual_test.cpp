#include "neurocore/learn/continual.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/data/registry.h"

namespace {

namespace fs = std::filesystem;
using nc::learn::ContinualOptions;

TEST(Continual, TaskPermutationsArePermutationsFixedBySeedAndTask) {
  ContinualOptions o;
  const auto p0 = nc::learn::task_permutation(784, o, 0);
  EXPECT_TRUE(std::get<0>(p0.sort()).equal(torch::arange(784, torch::kLong)));
  EXPECT_TRUE(p0.equal(nc::learn::task_permutation(784, o, 0)));
  EXPECT_FALSE(p0.equal(nc::learn::task_permutation(784, o, 1)));
  ContinualOptions other = o;
  other.permutation_seed = 7;
  EXPECT_FALSE(p0.equal(nc::learn::task_permutation(784, other, 0)));
  other.identity_first = true;
  EXPECT_TRUE(nc::learn::task_permutation(784, other, 0).equal(torch::arange(784, torch::kLong)));
  EXPECT_FALSE(nc::learn::task_permutation(784, other, 1).equal(torch::arange(784, torch::kLong)));
}

TEST(Continual, PermutePixelsReordersEveryImageAndKeepsLabels) {
  nc::data::Dataset d;
  d.images = torch::arange(2 * 1 * 2 * 3, torch::kFloat).view({2, 1, 2, 3});
  d.labels = torch::tensor({4, 7}, torch::kLong);
  const auto perm = torch::tensor({5, 0, 3, 1, 2, 4}, torch::kLong);
  const auto p = nc::learn::permute_pixels(d, perm);
  ASSERT_EQ(p.images.sizes(), d.images.sizes());
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t i = 0; i < 6; ++i) {
      EXPECT_EQ(p.images[n].flatten()[i].item<float>(),
                d.images[n].flatten()[perm[i].item<int64_t>()].item<float>());
    }
  }
  EXPECT_TRUE(p.labels.equal(d.labels));
}

TEST(Continual, OptionsRejectUnknownKeysAndBadValues) {
  auto c = nc::Config::from_string("continual: {tasks: 0}\n", "c.yaml");
  EXPECT_THROW(nc::learn::continual_options(c.root().section("continual")), nc::UserError);
  auto u = nc::Config::from_string("continual: {taks: 3}\n", "c.yaml");
  EXPECT_THROW(nc::learn::continual_options(u.root().section("continual")), nc::UserError);
}

// A small real run: two tasks on MNIST-10k; the matrix is consistent with each task's own
// training run and the data given to run_continual is left unpermuted.
TEST(Continual, RunsTasksInSequenceAndEvaluatesEveryTask) {
  bool available = false;
  for (const auto& d : nc::data::list_datasets()) available |= d.name == "mnist-10k" && d.available;
  if (!available) GTEST_SKIP() << "MNIST-10k not installed";
  const auto runs = fs::temp_directory_path() / ("nc_continual_" + std::to_string(getpid()));
  fs::remove_all(runs);
  auto c = nc::Config::from_string(
      "threads: 1\nname: c\nruns_dir: " + runs.string() +
          "\ndata: {name: mnist-10k, limit_train: 256, limit_test: 64}\n"
          "model: {name: mlp, hidden: [16]}\n"
          "train: {epochs: 1, batch_size: 32, learning_rate: 0.05}\n",
      "c.yaml");
  ContinualOptions o;
  o.tasks = 2;
  auto exp = nc::learn::Experiment::build(c);
  const auto before = exp.train_set.images.clone();
  auto run = nc::RunDir::create(runs.string(), "c");
  const auto r = nc::learn::run_continual(exp, o, run);

  ASSERT_EQ(r.accuracy.size(), 2u);
  for (const auto& row : r.accuracy) {
    ASSERT_EQ(row.size(), 2u);
    for (double a : row) EXPECT_TRUE(a >= 0 && a <= 100);
  }
  EXPECT_DOUBLE_EQ(r.average_seen[0], r.accuracy[0][0]);
  EXPECT_DOUBLE_EQ(r.average_seen[1], (r.accuracy[1][0] + r.accuracy[1][1]) / 2);
  // After task k the model is the one task k's run just evaluated on its own test split.
  for (int k = 0; k < 2; ++k) {
    auto task = nc::RunDir::open((fs::path(run.path()) / ("task-" + std::to_string(k + 1))).string());
    ASSERT_FALSE(task.metrics().empty());
    EXPECT_DOUBLE_EQ(task.metrics().back()["test_acc"].get<double>(), r.accuracy[k][k]);
  }
  EXPECT_GT(r.accuracy[0][0], 30.0);  // task 1 was learnt (10 classes: chance is 10 %)
  EXPECT_TRUE(exp.train_set.images.equal(before));
  const auto j = nlohmann::json::parse(nc::read_file(run.file("continual.json")));
  EXPECT_EQ(j["accuracy"][1][0].get<double>(), r.accuracy[1][0]);
  EXPECT_TRUE(fs::exists(run.file("report.md")));
  fs::remove_all(runs);
}

}  // namespace
