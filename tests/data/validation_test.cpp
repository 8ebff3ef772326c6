// The validation split: the last floor(0.1 n_c) of each class of the train split, in file
// order; disjoint from what is trained on, and the same whatever the seed or the settings.
#include "neurocore/data/validation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <set>
#include <vector>

#include "data/test_util.h"
#include "neurocore/data/registry.h"
#include "neurocore/data/text.h"

namespace {

using nc::data::testing::idx_bytes;
using nc::data::testing::TempDir;
using nc::data::testing::write_bytes;

// Labels of an uneven, interleaved train split: class c has 10 + 7c examples (c = 0..3), so
// floor(0.1 n_c) = 1, 1, 2, 3. Each image's first pixel is its file position, to follow it.
std::vector<uint8_t> uneven_labels() {
  std::vector<int> left = {10, 17, 24, 31};
  std::vector<uint8_t> labels;
  for (bool any = true; any;) {
    any = false;
    for (int c = 3; c >= 0; --c) {
      if (left[c]-- > 0) {
        labels.push_back(static_cast<uint8_t>(c));
        any = true;
      }
    }
  }
  return labels;
}

void write_idx(const TempDir& dir, const std::vector<uint8_t>& labels) {
  const auto n = static_cast<uint32_t>(labels.size());
  std::vector<uint8_t> pixels(std::size_t(n) * 784, 0);
  for (uint32_t i = 0; i < n; ++i) pixels[std::size_t(i) * 784] = static_cast<uint8_t>(i);
  for (const char* prefix : {"train", "t10k"}) {
    write_bytes(dir.file(std::string(prefix) + "-images-idx3-ubyte"), idx_bytes({n, 28, 28}, pixels), false);
    write_bytes(dir.file(std::string(prefix) + "-labels-idx1-ubyte"), idx_bytes({n}, labels), false);
  }
}

// File positions of a split's images (from their first pixel).
std::vector<int64_t> positions(const nc::data::Dataset& d) {
  const auto first = (d.images.flatten(1).select(1, 0) * 255).round().to(torch::kLong).contiguous();
  return {first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + first.numel()};
}

TEST(Validation, LastTenPercentOfEachClassInFileOrder) {
  const auto labels = uneven_labels();
  nc::data::Dataset d;
  d.name = "toy";
  d.num_classes = 4;
  const auto n = static_cast<int64_t>(labels.size());
  d.images = torch::arange(n, torch::kFloat).div(255).view({n, 1, 1, 1});
  d.labels = torch::tensor(std::vector<int64_t>(labels.begin(), labels.end()), torch::kLong);
  const auto s = nc::data::split_validation(d);
  // Expected by hand: per class, the positions of its last floor(0.1 n_c) examples.
  std::vector<int64_t> expected_valid;
  for (int c = 0; c < 4; ++c) {
    std::vector<int64_t> of_class;
    for (int64_t i = 0; i < n; ++i) if (labels[i] == c) of_class.push_back(i);
    const int64_t k = static_cast<int64_t>(of_class.size()) / 10;
    EXPECT_EQ(k, std::vector<int64_t>({1, 1, 2, 3})[c]);
    expected_valid.insert(expected_valid.end(), of_class.end() - k, of_class.end());
  }
  std::sort(expected_valid.begin(), expected_valid.end());
  const auto valid = positions(s.valid), train = positions(s.train);
  EXPECT_EQ(valid, expected_valid);
  EXPECT_EQ(s.valid.size(), 7);
  EXPECT_EQ(s.train.size(), n - 7);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  std::set<int64_t> all(train.begin(), train.end());
  for (int64_t v : valid) EXPECT_TRUE(all.insert(v).second) << "position " << v << " in both";
  EXPECT_EQ(static_cast<int64_t>(all.size()), n);
  for (int64_t i = 0; i < s.valid.size(); ++i) {
    EXPECT_EQ(s.valid.labels[i].item<int64_t>(), labels[static_cast<std::size_t>(valid[i])]);
  }
}

TEST(Validation, ClassesSmallerThanTenGiveNoValidationExamples) {
  nc::data::Dataset d;
  d.num_classes = 2;
  d.images = torch::zeros({9, 1, 1, 1});
  d.labels = torch::zeros({9}, torch::kLong);
  const auto s = nc::data::split_validation(d);
  EXPECT_EQ(s.valid.size(), 0);
  EXPECT_EQ(s.train.size(), 9);
  d.labels[3] = 5;
  EXPECT_THROW(nc::data::split_validation(d), nc::UserError);
}

TEST(Validation, RegistrySplitIsFixedAndDisjointWhateverTheSettings) {
  TempDir dir;
  write_idx(dir, uneven_labels());
  nc::data::DataOptions o;
  o.name = "idx";
  o.path = dir.str();
  const auto valid = positions(nc::data::load_dataset(o, "valid"));
  EXPECT_EQ(valid.size(), 7u);
  // Without data.validation, train is the whole split (existing numbers keep their meaning).
  EXPECT_EQ(nc::data::load_dataset(o, "train").size(), 82);
  // With it, train is the rest; limits and repeated loads do not move the valid split.
  o.validation = true;
  const auto train = positions(nc::data::load_dataset(o, "train"));
  EXPECT_EQ(train.size(), 75u);
  for (int64_t v : valid) EXPECT_EQ(std::count(train.begin(), train.end(), v), 0);
  o.limit_train = 20;
  const auto both = nc::data::load_train_valid(o);
  EXPECT_EQ(both.train.size(), 20);
  EXPECT_EQ(positions(both.valid), valid);
  EXPECT_EQ(positions(both.train), std::vector<int64_t>(train.begin(), train.begin() + 20));
  o.limit_valid = 3;
  EXPECT_EQ(positions(nc::data::load_dataset(o, "valid")),
            std::vector<int64_t>(valid.begin(), valid.begin() + 3));
  o.validation = false;
  EXPECT_EQ(nc::data::load_train_valid(o).valid.size(), 0);
}

TEST(Validation, ConfigKeysAreRead) {
  auto c = nc::Config::from_string("data: {name: idx, validation: true, limit_valid: 5}\n");
  const auto o = nc::data::DataOptions::from_config(c.root().section("data"));
  EXPECT_TRUE(o.validation);
  EXPECT_EQ(o.limit_valid, 5);
}

TEST(Validation, TextHoldsOutTheLastTenPercentAtALineStart) {
  std::string train;
  for (int i = 0; i < 100; ++i) train += "line " + std::to_string(i) + "\n";
  const auto [head, tail] = nc::data::split_text_validation(train);
  EXPECT_EQ(head + tail, train);
  EXPECT_EQ(head.back(), '\n');
  EXPECT_EQ(tail.rfind("line ", 0), 0u) << tail.substr(0, 20);
  EXPECT_GE(tail.size(), train.size() / 10 - 8);
  EXPECT_LE(tail.size(), train.size() / 10);

  TempDir dir;
  std::string text;
  for (int i = 0; i < 400; ++i) text += "plain text line " + std::to_string(i) + "\n";
  nc::data::testing::write_text(dir.file("t.txt"), text);
  nc::data::TextOptions o;
  o.path = dir.file("t.txt");
  const auto plain = nc::data::load_text(o);
  o.validation = true;
  o.limit_train = 100;
  const auto held = nc::data::load_text(o);
  const auto expected = nc::data::split_text_validation(plain.train);
  EXPECT_EQ(held.valid, expected.second);
  EXPECT_EQ(held.train, expected.first.substr(0, 100));
  EXPECT_EQ(held.test, plain.test);
}

}  // namespace
