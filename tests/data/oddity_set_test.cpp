// The oddity riddles through the data registry (oddity_set.h, registry.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "data/test_util.h"
#include "neurocore/core/config.h"
#include "neurocore/data/oddity_file.h"
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

// A temp path unique to this process.
std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("nc_oddity_" + std::to_string(getpid()) + "_" + name)).string();
}

TEST(OdditySet, SplitsReadFromOdd1FilesEqualTheGeneratedOnes) {
  using nc::data::oddity::Split;
  const auto gen = oddity_options("resolution: 25, riddles: [1, 2, 3]");
  const auto path = temp_file("valid.odd1");
  ASSERT_EQ(nc::data::oddity::write_odd1(path, gen.oddity, Split::valid, 9), 9);
  const auto expected = nc::data::oddity_dataset(gen.oddity, Split::valid, 9);
  const auto expected_ids = nc::data::oddity_riddle_ids(gen.oddity, Split::valid, 9);

  // The registry's valid split (limit_valid 5) from the file: the file's first 5 samples.
  const auto from_file = oddity_options("resolution: 25, riddles: [1, 2, 3], files: {valid: " + path + "}");
  const auto valid = nc::data::load_dataset(from_file, "valid");
  ASSERT_EQ(valid.size(), 5);
  EXPECT_TRUE(torch::equal(valid.images, expected.images.narrow(0, 0, 5)));
  EXPECT_TRUE(torch::equal(valid.labels, expected.labels.narrow(0, 0, 5)));
  EXPECT_TRUE(torch::equal(nc::data::oddity_riddle_ids(from_file.oddity, Split::valid, 0), expected_ids));
  // The other splits are still generated.
  EXPECT_TRUE(torch::equal(nc::data::load_dataset(from_file, "test").images, nc::data::load_dataset(gen, "test").images));

  // riddles: [2] keeps the file's riddle-2 samples, in file order.
  const auto only2 = oddity_options("resolution: 25, riddles: [2], files: {valid: " + path + "}");
  const auto two = nc::data::oddity_dataset(only2.oddity, Split::valid);
  const auto rows = torch::nonzero(expected_ids == 2).flatten();
  ASSERT_GT(rows.size(0), 0);
  EXPECT_TRUE(torch::equal(two.images, expected.images.index_select(0, rows)));
  EXPECT_TRUE(torch::equal(two.labels, expected.labels.index_select(0, rows)));
  EXPECT_TRUE(torch::all(nc::data::oddity_riddle_ids(only2.oddity, Split::valid) == 2).item<bool>());
  std::filesystem::remove(path);
}

TEST(OdditySet, BadOdd1FilesAreUserErrorsNamingTheKey) {
  const auto path = temp_file("small.odd1");
  nc::data::oddity::write_odd1(path, oddity_options("resolution: 25").oddity, nc::data::oddity::Split::test, 3);
  auto e = user_error([&] { oddity_options("resolution: 50, files: {test: " + path + "}"); });
  EXPECT_NE(e.find("data.oddity.files.test"), std::string::npos) << e;
  EXPECT_NE(e.find("25 x 25"), std::string::npos) << e;
  EXPECT_NE(e.find("resolution = 50"), std::string::npos) << e;
  e = user_error([&] { oddity_options("resolution: 25, files: {train: " + path + ".missing}"); });
  EXPECT_NE(e.find("data.oddity.files.train"), std::string::npos) << e;
  EXPECT_NE(e.find(path + ".missing"), std::string::npos) << e;
  const auto junk = temp_file("junk.odd1");
  std::ofstream(junk) << "GIF89a and more bytes than a header";
  e = user_error([&] { oddity_options("resolution: 25, files: {valid: " + junk + "}"); });
  EXPECT_NE(e.find("not an ODD1 file"), std::string::npos) << e;
  e = user_error([&] { oddity_options("resolution: 25, files: {tset: " + path + "}"); });
  EXPECT_NE(e.find("tset"), std::string::npos) << e;
  // A riddle the file does not hold: no sample to train on.
  const auto held = nc::data::oddity::read_odd1(path).riddles;
  int absent = 0;
  while (std::find(held.begin(), held.end(), absent) != held.end()) ++absent;
  const auto opts = "resolution: 25, riddles: [" + std::to_string(absent) + "], files: {test: " + path + "}";
  e = user_error([&] { nc::data::load_dataset(oddity_options(opts), "test"); });
  EXPECT_NE(e.find("no sample"), std::string::npos) << e;
  std::filesystem::remove(path);
  std::filesystem::remove(junk);
}

}  // namespace
