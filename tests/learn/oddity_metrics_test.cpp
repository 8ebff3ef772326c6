// Per-riddle accuracy of oddity runs (oddity_metrics.h) against a sample-by-sample count.
#include "neurocore/learn/oddity_metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/data/oddity_set.h"
#include "neurocore/learn/trainer.h"

namespace {

TEST(OddityMetrics, PerRiddleAccuracyCountsEachSampleOnce) {
  auto c = nc::Config::from_string(
      "threads: 1\ndata: {name: oddity, limit_train: 8, limit_test: 60, oddity: {resolution: 20, riddles: [3, 7, 40]}}\n"
      "model: {name: oren, channels: 4, embedding: 8, g_width: 8}\ntrain: {eval_batch_size: 7}\n",
      "t.yaml");
  auto exp = nc::learn::Experiment::build(c);
  const auto r = nc::learn::riddle_accuracy(exp, exp.test_set);
  ASSERT_EQ(r.accuracy.size(), 45u);
  // Brute force: one sample at a time, riddle ids from the samples themselves.
  torch::NoGradGuard no_grad;
  exp.model->eval();
  std::vector<int64_t> right(45, 0), count(45, 0);
  for (int64_t i = 0; i < exp.test_set.size(); ++i) {
    const auto s = nc::data::oddity::split_sample(nc::data::oddity::kCombined, nc::data::oddity::Split::test, i, exp.data.oddity);
    const auto x = (exp.test_set.images.slice(0, i, i + 1) - exp.norm.mean) / exp.norm.std;
    const auto pred = exp.model->forward(x).argmax(1).item<int64_t>();
    ++count[s.riddle];
    right[s.riddle] += pred == exp.test_set.labels[i].item<int64_t>();
  }
  int64_t total = 0;
  for (int id = 0; id < 45; ++id) {
    EXPECT_EQ(r.count[id], count[id]) << id;
    total += r.count[id];
    if (count[id] == 0) {
      EXPECT_TRUE(std::isnan(r.accuracy[id])) << id;
    } else {
      EXPECT_NEAR(r.accuracy[id], 100.0 * right[id] / count[id], 1e-9) << id;
    }
  }
  EXPECT_EQ(total, 60);
  EXPECT_GT(r.count[3] + r.count[7] + r.count[40], 0);
}

TEST(OddityMetrics, OtherDataIsAUserError) {
  nc::learn::Experiment exp;
  exp.data.name = "mnist-10k";
  EXPECT_THROW(nc::learn::riddle_accuracy(exp, nc::data::Dataset{}), nc::UserError);
}

}  // namespace
