#include "neurocore/learn/options.h"

#include <gtest/gtest.h>

#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/loss.h"

TEST(TrainOptions, ScheduleIsAFunctionOfTheEpoch) {
  nc::learn::TrainOptions o;
  o.learning_rate = 0.1;
  o.schedule = "step";
  o.step_size = 2;
  o.gamma = 0.5;
  EXPECT_DOUBLE_EQ(nc::learn::learning_rate_at(o, 0), 0.1);
  EXPECT_DOUBLE_EQ(nc::learn::learning_rate_at(o, 1), 0.1);
  EXPECT_DOUBLE_EQ(nc::learn::learning_rate_at(o, 2), 0.05);
  o.schedule = "cosine";
  o.epochs = 4;
  o.min_lr = 0.0;
  EXPECT_DOUBLE_EQ(nc::learn::learning_rate_at(o, 0), 0.1);
  EXPECT_NEAR(nc::learn::learning_rate_at(o, 2), 0.05, 1e-15);
}

TEST(TrainOptions, RejectsBadValuesAndUnknownKeys) {
  auto bad = nc::Config::from_string("train: {optimizer: sdg}\n", "t.yaml");
  EXPECT_THROW(nc::learn::TrainOptions::from_config(bad.root().section("train")), nc::UserError);
  auto typo = nc::Config::from_string("train: {learnig_rate: 0.1}\n", "t.yaml");
  try {
    nc::learn::TrainOptions::from_config(typo.root().section("train"));
    FAIL();
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'learning_rate'"), std::string::npos);
  }
  auto neg = nc::Config::from_string("train: {epochs: 0}\n", "t.yaml");
  EXPECT_THROW(nc::learn::TrainOptions::from_config(neg.root().section("train")), nc::UserError);
}

TEST(Loss, MseRateIsTheMeanSquaredErrorOfTheTimeAverage) {
  auto out = torch::tensor({0.0, 1.0, 1.0, 1.0}, torch::kDouble).view({2, 1, 2});  // [T=2,B=1,C=2]
  auto scores = nc::learn::class_scores(out, true, "mse_rate");
  EXPECT_TRUE(torch::allclose(scores, torch::tensor({{0.5, 1.0}}, torch::kDouble)));
  auto loss = nc::learn::classification_loss(scores, torch::tensor({1}, torch::kLong), "mse_rate");
  EXPECT_DOUBLE_EQ(loss.item<double>(), (0.25 + 0.0) / 2);
}
