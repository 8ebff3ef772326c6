// The oddity riddles through the data registry (oddity_set.h, registry.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/test_util.h"
#include "neurocore/core/config.h"
#include "neurocore/data/oddity_set.h"
#include "neurocore/data/registry.h"

namespace {

using nc::data::testing::user_error;

// `inner`: the data.oddity map's contents.
nc::data::DataOptions oddity_options(const std::string& inner) {
  auto c = nc::Config::from_string("data: {name: oddity, limit_train: 12, limit_valid: 5, limit_test: 7, "
                                   "validation: true, oddity: {" + inner + "}}\n");
  return nc::data::DataOptions::from_config(c.root().section("data"));
}

TEST(OdditySet, PerRiddleSplitsThroughTheRegistry) {
  const auto o = oddity_options("resolution: 25, riddles: [6]");
  const auto tv = nc::data::load_train_valid(o);
  ASSERT_EQ(tv.train.images.sizes(), (std::vector<int64_t>{12, 6, 25, 25}));
  ASSERT_EQ(tv.valid.size(), 5);
  const auto test = nc::data::load_dataset(o, "test");
  ASSERT_EQ(test.size(), 7);
  EXPECT_EQ(tv.train.num_classes, 6);
  EXPECT_TRUE(torch::all(nc::data::oddity_riddle_ids(o.oddity, nc::data::oddity::Split::train, 12) == 6).item<bool>());
  EXPECT_TRUE(torch::all((tv.train.labels >= 0) & (tv.train.labels < 6)).item<bool>());
  EXPECT_GE(tv.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(tv.train.images.max().item<float>(), 1.0f);
  // The splits are different samples; a split is the same on every load.
  EXPECT_FALSE(torch::equal(tv.train.images.narrow(0, 0, 5), tv.valid.images));
  EXPECT_TRUE(torch::equal(test.images, nc::data::load_dataset(o, "test").images));
  // Sample i of the registry's split is split_sample(riddle, split, i).
  const auto s = nc::data::oddity::split_sample(6, nc::data::oddity::Split::test, 3, o.oddity);
  EXPECT_EQ(test.labels[3].item<int64_t>(), s.label);
  EXPECT_NEAR(test.images[3][0][0][0].item<float>(), s.pixels[0] / 255.0f, 1e-6);
}

TEST(OdditySet, CombinedSetHasRiddleGroupsAndSizes) {
  const auto o = oddity_options("resolution: 25, riddles: [1, 2, 3]");
  const auto d = nc::data::load_dataset(o, "train");
  ASSERT_EQ(d.size(), 12);
  const auto ids = nc::data::oddity_riddle_ids(o.oddity, nc::data::oddity::Split::train, 12);
  ASSERT_EQ(ids.size(0), 12);
  EXPECT_TRUE(torch::all((ids >= 1) & (ids <= 3)).item<bool>());
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_EQ(ids[i].item<int64_t>(), nc::data::oddity::split_sample(nc::data::oddity::kCombined,
                                                                     nc::data::oddity::Split::train, i, o.oddity).riddle);
  }
  EXPECT_EQ(nc::data::oddity::split_size(true, nc::data::oddity::Split::train), 36000);
  EXPECT_EQ(nc::data::oddity::split_size(false, nc::data::oddity::Split::valid), 640);
}

TEST(OdditySet, BadConfigIsAUserError) {
  EXPECT_NE(user_error([] { oddity_options("resolution: 30"); }).find("resolution"), std::string::npos);
  EXPECT_NE(user_error([] { oddity_options("riddles: [50]"); }).find("riddles"), std::string::npos);
  EXPECT_NE(user_error([] { oddity_options("colour: 3"); }).find("colour"), std::string::npos);
  EXPECT_NE(user_error([] { nc::data::load_dataset(oddity_options("resolution: 25"), "static"); }).find("static"), std::string::npos);
}

}  // namespace
