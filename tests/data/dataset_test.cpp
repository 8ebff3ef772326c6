#include "neurocore/data/dataset.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

nc::data::Dataset five() {
  nc::data::Dataset d;
  d.name = "five";
  d.images = torch::rand({5, 1, 2, 2});
  d.labels = torch::arange(5, torch::kLong);
  return d;
}

TEST(Dataset, SizeCountsExamples) {
  EXPECT_EQ(five().size(), 5);
  EXPECT_EQ(nc::data::Dataset{}.size(), 0);
}

TEST(Dataset, HeadKeepsTheFirstExamples) {
  const auto d = five();
  const auto h = d.head(2);
  EXPECT_EQ(h.size(), 2);
  EXPECT_EQ(h.name, "five");
  EXPECT_EQ(h.num_classes, 10);
  EXPECT_TRUE(h.images.equal(d.images.narrow(0, 0, 2)));
  EXPECT_TRUE(h.labels.equal(torch::tensor({0, 1}, torch::kLong)));
  for (int64_t all : {0, -3, 5, 99}) EXPECT_EQ(d.head(all).size(), 5) << all;
}

}  // namespace
