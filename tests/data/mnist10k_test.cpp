#include "neurocore/data/mnist10k.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "data/test_util.h"
#include "neurocore/data/registry.h"

namespace {

using nc::data::testing::TempDir;
using nc::data::testing::user_error;
using nc::data::testing::write_text;

// The value of pixel j of image i of digit d, written with 3 decimals like the npm files.
double pixel(int d, int i, int j) {
  const int k = (d * 37 + i * 11 + j * 5) % 256;
  return std::round(k / 255.0 * 1000.0) / 1000.0;
}

std::string digit_json(int d, int n) {
  std::ostringstream s;
  s << "{ \"data\": [";
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 784; ++j) s << (i || j ? "," : "") << pixel(d, i, j);
  }
  s << "] }\n";
  return s.str();
}

void write_digits(const TempDir& dir, const std::vector<int>& counts) {
  for (int d = 0; d < 10; ++d) write_text(dir.file(std::to_string(d) + ".json"), digit_json(d, counts[d]));
}

TEST(Mnist10k, SyntheticSplitIsStratifiedEightyTwenty) {
  TempDir dir;
  write_digits(dir, std::vector<int>(10, 10));
  const auto tt = nc::data::read_mnist10k(dir.str());
  EXPECT_EQ(tt.train.size(), 80);
  EXPECT_EQ(tt.test.size(), 20);
  EXPECT_EQ(tt.train.images.sizes(), (std::vector<int64_t>{80, 1, 28, 28}));
  EXPECT_EQ(tt.train.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(tt.train.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(tt.train.labels.bincount({}, 10).equal(torch::full({10}, 8, torch::kLong)));
  EXPECT_TRUE(tt.test.labels.bincount({}, 10).equal(torch::full({10}, 2, torch::kLong)));
  // Interleaved round-robin: the first ten examples are one of each digit.
  EXPECT_TRUE(tt.train.labels.narrow(0, 0, 10).equal(torch::arange(10, torch::kLong)));
  // Train holds images 0..7 of each digit in file order, test images 8..9.
  const int d = 3;
  for (int i : {0, 7}) {
    const auto img = tt.train.images[i * 10 + d].flatten();
    EXPECT_EQ(tt.train.labels[i * 10 + d].item<int64_t>(), d);
    for (int j : {0, 100, 783}) {
      const float want = float(std::lround(255.0 * pixel(d, i, j))) / 255.0f;
      EXPECT_EQ(img[j].item<float>(), want) << "image " << i << " pixel " << j;
    }
  }
  EXPECT_EQ(tt.test.images[1 * 10 + d].flatten()[100].item<float>(),
            float(std::lround(255.0 * pixel(d, 9, 100))) / 255.0f);
  EXPECT_GE(tt.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(tt.train.images.max().item<float>(), 1.0f);
}

TEST(Mnist10k, UnevenCountsUseFloorOfEightyPercent) {
  TempDir dir;
  write_digits(dir, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0});
  const auto tt = nc::data::read_mnist10k(dir.str());
  // floor(0.8 n) for n = 1..9, 0: 0 1 2 3 4 4 5 6 7 0 = 32.
  EXPECT_EQ(tt.train.size(), 32);
  EXPECT_EQ(tt.test.size(), 45 - 32);
  EXPECT_TRUE(tt.train.labels.bincount({}, 10).equal(
      torch::tensor({0, 1, 2, 3, 4, 4, 5, 6, 7, 0}, torch::kLong)));
}

TEST(Mnist10k, RealFilesSplit7996And2004) {
  const std::string dir = nc::data::data_cache_dir() + "/mnist-10k/digits";
  if (!std::filesystem::exists(dir + "/9.json")) GTEST_SKIP() << "MNIST-10k not installed in " << dir;
  const auto tt = nc::data::read_mnist10k(dir);
  EXPECT_EQ(tt.train.size(), 7996);
  EXPECT_EQ(tt.test.size(), 2004);
  const auto counts = tt.train.labels.bincount({}, 10) + tt.test.labels.bincount({}, 10);
  EXPECT_TRUE(counts.equal(torch::tensor({1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978},
                                         torch::kLong)));
  EXPECT_GE(tt.train.images.min().item<float>(), 0.0f);
  EXPECT_LE(tt.train.images.max().item<float>(), 1.0f);
  // Every value is a byte / 255.
  const auto bytes = tt.test.images * 255.0f;
  EXPECT_LT((bytes - bytes.round()).abs().max().item<float>(), 1e-4f);
}

void expect_error(const std::string& file, const std::string& text, const std::string& what) {
  TempDir dir;
  write_digits(dir, std::vector<int>(10, 1));
  write_text(dir.file(file), text);
  const auto msg = user_error([&] { nc::data::read_mnist10k(dir.str()); });
  EXPECT_NE(msg.find(dir.file(file)), std::string::npos) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << msg;
}

TEST(Mnist10k, MissingFileIsUserError) {
  TempDir dir;
  write_digits(dir, std::vector<int>(10, 1));
  std::filesystem::remove(dir.file("6.json"));
  const auto msg = user_error([&] { nc::data::read_mnist10k(dir.str()); });
  EXPECT_NE(msg.find(dir.file("6.json")), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(Mnist10k, NotJsonIsUserError) {
  expect_error("2.json", "{ \"data\": [0, 0.5,", "not valid JSON");
  expect_error("2.json", "", "not valid JSON");
}

TEST(Mnist10k, NoDataArrayIsUserError) {
  expect_error("4.json", "{ \"pixels\": [0, 1] }", "no \"data\" array");
  expect_error("4.json", "{ \"data\": 3 }", "no \"data\" array");
  expect_error("4.json", "[0, 1, 2]", "expected an object");
  expect_error("4.json", "{ \"data\": [0, \"x\"] }", "expected only numbers");
  expect_error("4.json", "{ \"data\": [0, [1]] }", "expected only numbers");
}

TEST(Mnist10k, LengthNotMultipleOf784IsUserError) {
  std::string text = "{\"data\": [0";
  for (int i = 1; i < 785; ++i) text += ",0.5";
  expect_error("5.json", text + "]}", "785 values, expected a multiple of 784");
}

TEST(Mnist10k, ValueOutsideUnitIntervalIsUserError) {
  std::string text = "{\"data\": [0";
  for (int i = 1; i < 784; ++i) text += i == 30 ? ",1.5" : ",0.25";
  expect_error("7.json", text + "]}", "value 1.5 at index 30");
  text = "{\"data\": [-0.001";
  for (int i = 1; i < 784; ++i) text += ",0.25";
  expect_error("7.json", text + "]}", "expected a pixel intensity in [0,1]");
}

}  // namespace
