#include "neurocore/core/config.h"

#include <gtest/gtest.h>

#include "neurocore/core/error.h"

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const nc::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, ReadsTypedValuesWithDefaults) {
  auto c = nc::Config::from_string("train:\n  epochs: 3\n  learning_rate: 0.5\n", "t.yaml");
  auto root = c.root();
  auto train = root.section("train");
  EXPECT_EQ(train.integer("epochs", 1, 1), 3);
  EXPECT_DOUBLE_EQ(train.number("learning_rate", 0.1, 0), 0.5);
  EXPECT_EQ(train.integer("batch_size", 64, 1), 64);
  train.finish();
  root.finish();
  EXPECT_NE(c.effective_yaml().find("batch_size: 64"), std::string::npos);
}

TEST(Config, UnknownKeySuggestsClosest) {
  auto c = nc::Config::from_string("train:\n  learnig_rate: 0.5\n", "t.yaml");
  auto train = c.root().section("train");
  train.number("learning_rate", 0.1);
  train.integer("epochs", 1);
  const auto msg = message_of([&] { train.finish(); });
  EXPECT_NE(msg.find("unknown key 'learnig_rate' in train"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'learning_rate'?"), std::string::npos) << msg;
}

TEST(Config, WrongTypeNamesFieldValueAndExpectation) {
  auto c = nc::Config::from_string("train:\n  epochs: three\n", "t.yaml");
  auto train = c.root().section("train");
  const auto msg = message_of([&] { train.integer("epochs", 1, 1); });
  EXPECT_NE(msg.find("t.yaml: train.epochs must be an integer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("three"), std::string::npos) << msg;
}

TEST(Config, RangeAndChoiceAreChecked) {
  auto c = nc::Config::from_string("a: -1\nb: sdg\n", "t.yaml");
  auto root = c.root();
  EXPECT_THROW(root.integer("a", 1, 0, 10), nc::UserError);
  const auto msg = message_of([&] { root.choice("b", "sgd", {"sgd", "adam"}); });
  EXPECT_NE(msg.find("did you mean 'sgd'"), std::string::npos) << msg;
}

TEST(Config, SetOverridesAndCreatesSections) {
  auto c = nc::Config::from_string("train:\n  epochs: 3\n", "t.yaml");
  c.set("train.epochs=5");
  c.set("model.hidden=[10, 20]");
  auto root = c.root();
  EXPECT_EQ(root.section("train").integer("epochs", 1), 5);
  auto hidden = root.section("model").integers("hidden", {});
  ASSERT_EQ(hidden.size(), 2u);
  EXPECT_EQ(hidden[1], 20);
}

TEST(Config, DocumentYamlKeepsUnreadKeysAndAppliesSets) {
  auto c = nc::Config::from_string("train:\n  epochs: 3\n  optimizer: adam\nname: x\n", "t.yaml");
  c.set("train.epochs=5");
  c.set("model.channels=[4, 8]");
  c.set("a.b.c=1.5");
  c.root().section("train").integer("epochs", 1);  // reading does not change the document
  auto back = nc::Config::from_string(c.document_yaml(), "back.yaml");
  auto root = back.root();
  auto train = root.section("train");
  EXPECT_EQ(train.integer("epochs", 1), 5);
  EXPECT_EQ(train.string("optimizer", "sgd"), "adam");  // never read in `c`, still there
  EXPECT_EQ(root.string("name", ""), "x");
  EXPECT_EQ(root.section("model").integers("channels", {}), (std::vector<int64_t>{4, 8}));
  EXPECT_DOUBLE_EQ(root.section("a").section("b").number("c", 0), 1.5);
  EXPECT_FALSE(train.has("batch_size"));  // no defaults filled in
  // effective_yaml, by contrast, holds only what was read.
  EXPECT_EQ(c.effective_yaml().find("optimizer"), std::string::npos);
}

TEST(Config, MalformedSetIsAUserError) {
  auto c = nc::Config::from_string("train:\n  epochs: 3\n", "t.yaml");
  EXPECT_THROW(c.set("train.epochs"), nc::UserError);
  EXPECT_THROW(c.set("=3"), nc::UserError);
  EXPECT_THROW(c.set("train.epochs.x=3"), nc::UserError);
}

TEST(Config, BadYamlAndNonMappingAreUserErrors) {
  EXPECT_THROW(nc::Config::from_string("a: [1, 2", "t.yaml"), nc::UserError);
  EXPECT_THROW(nc::Config::from_string("- 1\n- 2\n", "t.yaml"), nc::UserError);
  EXPECT_THROW(nc::Config::load("/nonexistent/x.yaml"), nc::UserError);
  auto c = nc::Config::from_string("train: 3\n", "t.yaml");
  EXPECT_THROW(c.root().section("train"), nc::UserError);
}

}  // namespace
