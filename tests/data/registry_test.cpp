#include "neurocore/data/registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "data/test_util.h"
#include "neurocore/core/config.h"

namespace {

using nc::data::testing::idx_bytes;
using nc::data::testing::TempDir;
using nc::data::testing::user_error;
using nc::data::testing::write_bytes;

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

nc::data::DataOptions options_from(const std::string& yaml) {
  auto config = nc::Config::from_string(yaml, "t.yaml");
  return nc::data::DataOptions::from_config(config.root().section("data"));
}

// An IDX folder: train has 6 images (labels 0..5), test 4 (labels 6..9), 28x28.
void write_idx_folder(const TempDir& dir, bool gzip) {
  const std::string ext = gzip ? ".gz" : "";
  for (auto [prefix, n, first] : {std::tuple{"train", 6, 0}, std::tuple{"t10k", 4, 6}}) {
    std::vector<uint8_t> pixels(std::size_t(n) * 784, 255);
    std::vector<uint8_t> labels;
    for (int i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(first + i));
    write_bytes(dir.file(std::string(prefix) + "-images-idx3-ubyte" + ext),
                idx_bytes({uint32_t(n), 28, 28}, pixels), gzip);
    write_bytes(dir.file(std::string(prefix) + "-labels-idx1-ubyte" + ext),
                idx_bytes({uint32_t(n)}, labels), gzip);
  }
}

TEST(Registry, CacheDirFollowsNcDataThenHome) {
  {
    ScopedEnv data("NC_DATA", "/some/where");
    EXPECT_EQ(nc::data::data_cache_dir(), "/some/where");
  }
  ScopedEnv data("NC_DATA", nullptr);
  ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(nc::data::data_cache_dir(), "/home/someone/.cache/neurocore");
}

TEST(Registry, FromConfigReadsKeysWithDefaults) {
  const auto d = options_from("x: 1\n");
  EXPECT_EQ(d.name, "fashion-mnist");
  EXPECT_EQ(d.path, "");
  EXPECT_EQ(d.limit_train, 0);
  EXPECT_EQ(d.limit_test, 0);
  const auto o = options_from("data:\n  name: mnist-10k\n  path: /tmp/x\n  limit_train: 100\n  limit_test: 50\n");
  EXPECT_EQ(o.name, "mnist-10k");
  EXPECT_EQ(o.path, "/tmp/x");
  EXPECT_EQ(o.limit_train, 100);
  EXPECT_EQ(o.limit_test, 50);
}

TEST(Registry, FromConfigRejectsUnknownNameWithSuggestion) {
  const auto msg = user_error([] { options_from("data:\n  name: fashion-mnst\n"); });
  EXPECT_NE(msg.find("t.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.name"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'fashion-mnist'"), std::string::npos) << msg;
}

TEST(Registry, FromConfigRejectsUnknownKeysAndNegativeLimits) {
  auto msg = user_error([] { options_from("data:\n  limit_trian: 5\n"); });
  EXPECT_NE(msg.find("did you mean 'limit_train'"), std::string::npos) << msg;
  msg = user_error([] { options_from("data:\n  limit_test: -1\n"); });
  EXPECT_NE(msg.find("data.limit_test"), std::string::npos) << msg;
}

TEST(Registry, ListDatasetsIsCheapAndComplete) {
  TempDir dir;
  ScopedEnv data("NC_DATA", dir.str().c_str());
  const auto list = nc::data::list_datasets();
  ASSERT_EQ(list.size(), 6u);
  EXPECT_EQ(list[0].name, "fashion-mnist");
  EXPECT_EQ(list[0].train_size, 60000);
  EXPECT_EQ(list[0].test_size, 10000);
  EXPECT_EQ(list[1].name, "mnist-10k");
  EXPECT_EQ(list[1].location, dir.str() + "/mnist-10k/digits");
  EXPECT_FALSE(list[1].available);  // the scratch folder is empty
  EXPECT_EQ(list[1].train_size, 7996);
  EXPECT_EQ(list[1].test_size, 2004);
  EXPECT_EQ(list[2].name, "idx");
  EXPECT_FALSE(list[2].available);
  EXPECT_EQ(list[3].name, "text");
  EXPECT_EQ(list[3].location, dir.str() + "/kjv.txt");
  EXPECT_EQ(list[4].name, "omnist");  // generated from mnist-10k: available when it is
  EXPECT_FALSE(list[4].available);
  EXPECT_EQ(list[4].train_size, 6995);
  EXPECT_EQ(list[4].test_size, 2008);
  EXPECT_FALSE(list[3].available);
  EXPECT_EQ(list[5].name, "oddity");  // generated from nothing: always available
  EXPECT_TRUE(list[5].available);
  EXPECT_EQ(list[5].train_size, 36000);
  for (const auto& info : list) EXPECT_FALSE(info.description.empty());
}

TEST(Registry, LoadsIdxFolderPlainOrGzipWithLimits) {
  for (bool gzip : {false, true}) {
    TempDir dir;
    write_idx_folder(dir, gzip);
    nc::data::DataOptions o;
    o.name = "idx";
    o.path = dir.str();
    auto train = nc::data::load_dataset(o, "train");
    auto test = nc::data::load_dataset(o, "test");
    EXPECT_EQ(train.size(), 6);
    EXPECT_EQ(test.size(), 4);
    EXPECT_EQ(train.name, "idx");
    EXPECT_TRUE(test.labels.equal(torch::tensor({6, 7, 8, 9}, torch::kLong)));
    EXPECT_EQ(train.images.max().item<float>(), 1.0f);
    o.limit_train = 2;
    o.limit_test = 3;
    EXPECT_EQ(nc::data::load_dataset(o, "train").size(), 2);
    EXPECT_EQ(nc::data::load_dataset(o, "test").size(), 3);
  }
}

TEST(Registry, UnknownSplitOrNameIsUserError) {
  TempDir dir;
  write_idx_folder(dir, false);
  nc::data::DataOptions o;
  o.name = "idx";
  o.path = dir.str();
  auto msg = user_error([&] { nc::data::load_dataset(o, "validation"); });
  EXPECT_NE(msg.find("'validation'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train, valid or test"), std::string::npos) << msg;
  o.name = "mnist10k";
  msg = user_error([&] { nc::data::load_dataset(o, "train"); });
  EXPECT_NE(msg.find("did you mean 'mnist-10k'"), std::string::npos) << msg;
  o.name = "idx";
  o.path = "";
  msg = user_error([&] { nc::data::load_dataset(o, "train"); });
  EXPECT_NE(msg.find("data.path"), std::string::npos) << msg;
}

TEST(Registry, MissingDataTellsHowToInstall) {
  TempDir dir;
  nc::data::DataOptions o;
  o.name = "fashion-mnist";
  o.path = dir.str();
  auto msg = user_error([&] { nc::data::load_dataset(o, "test"); });
  EXPECT_NE(msg.find("t10k-images-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/install-deps.sh"), std::string::npos) << msg;

  ScopedEnv data("NC_DATA", dir.str().c_str());
  o.name = "mnist-10k";
  o.path = "";
  msg = user_error([&] { nc::data::load_dataset(o, "train"); });
  EXPECT_NE(msg.find(dir.str() + "/mnist-10k/digits/0.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/install-deps.sh"), std::string::npos) << msg;
}

TEST(Registry, FashionMnistRealSizesAndRange) {
  const auto list = nc::data::list_datasets();
  if (!list[0].available) GTEST_SKIP() << "Fashion-MNIST not installed in " << list[0].location;
  nc::data::DataOptions o;
  const auto train = nc::data::load_dataset(o, "train");
  const auto test = nc::data::load_dataset(o, "test");
  EXPECT_EQ(train.size(), 60000);
  EXPECT_EQ(test.size(), 10000);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.images.min().item<float>(), 0.0f);
  EXPECT_EQ(train.images.max().item<float>(), 1.0f);
  EXPECT_TRUE(train.labels.bincount({}, 10).equal(torch::full({10}, 6000, torch::kLong)));
  EXPECT_TRUE(test.labels.bincount({}, 10).equal(torch::full({10}, 1000, torch::kLong)));
  const auto norm = nc::data::normalization(train);
  // Known Fashion-MNIST statistics: mean 0.2860, std 0.3530.
  EXPECT_NEAR(norm.mean, 0.2860, 5e-4);
  EXPECT_NEAR(norm.std, 0.3530, 5e-4);
}

TEST(Registry, Mnist10kRealLoadWithLimit) {
  const auto list = nc::data::list_datasets();
  if (!list[1].available) GTEST_SKIP() << "MNIST-10k not installed in " << list[1].location;
  nc::data::DataOptions o;
  o.name = "mnist-10k";
  o.limit_train = 100;
  auto train = nc::data::load_dataset(o, "train");
  const auto test = nc::data::load_dataset(o, "test");
  EXPECT_EQ(train.size(), 100);
  EXPECT_EQ(test.size(), 2004);
  EXPECT_TRUE(train.labels.bincount({}, 10).equal(torch::full({10}, 10, torch::kLong)));
  // Each call returns its own copy: writing into one does not change the next.
  train.images.fill_(0.5f);
  EXPECT_NE(nc::data::load_dataset(o, "train").images.max().item<float>(), 0.5f);
}

TEST(Registry, NormalizationMatchesClosedForm) {
  nc::data::Dataset d;
  d.name = "two";
  d.images = torch::tensor({0.0f, 1.0f, 0.0f, 1.0f}).view({2, 1, 1, 2});
  d.labels = torch::tensor({0, 1}, torch::kLong);
  const auto n = nc::data::normalization(d);
  EXPECT_DOUBLE_EQ(n.mean, 0.5);
  EXPECT_DOUBLE_EQ(n.std, 0.5);
  d.images = torch::rand({5000, 1, 3, 3}, torch::kDouble).to(torch::kFloat);
  const auto m = nc::data::normalization(d);
  const auto x = d.images.to(torch::kDouble);
  EXPECT_NEAR(m.mean, x.mean().item<double>(), 1e-6);
  EXPECT_NEAR(m.std, x.std(/*unbiased=*/false).item<double>(), 1e-6);
  nc::data::Dataset empty;
  empty.name = "none";
  EXPECT_NE(user_error([&] { nc::data::normalization(empty); }).find("none"), std::string::npos);
}

}  // namespace
