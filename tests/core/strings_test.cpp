#include "neurocore/core/strings.h"

#include <gtest/gtest.h>

TEST(Strings, EditDistance) {
  EXPECT_EQ(nc::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(nc::edit_distance("", "abc"), 3u);
  EXPECT_EQ(nc::edit_distance("same", "same"), 0u);
}

TEST(Strings, ClosestMatchRejectsFarCandidates) {
  EXPECT_EQ(nc::closest_match("learnig_rate", {"epochs", "learning_rate"}), "learning_rate");
  EXPECT_EQ(nc::closest_match("zzzzzz", {"epochs", "learning_rate"}), "");
}
