#include "neurocore/data/text.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/test_util.h"
#include "neurocore/data/registry.h"

namespace {

using nc::data::testing::TempDir;
using nc::data::testing::user_error;
using nc::data::testing::write_text;

// A `bible -f`-style file of 66 one-verse books, book k's verse "book k.".
std::string fake_bible(int books) {
  std::string s;
  for (int k = 1; k <= books; ++k) {
    s += (k < 10 ? std::string("B") : std::to_string(k % 3 + 1) + "Bk") + std::string(k, 'x') +
         std::to_string(k) + ":1 book " + std::to_string(k) + ".\n";
  }
  return s;
}

nc::data::TextOptions options_for(const std::string& path) {
  nc::data::TextOptions o;
  o.path = path;
  return o;
}

TEST(Text, ParseVerse) {
  nc::data::Verse v;
  ASSERT_TRUE(nc::data::parse_verse("Ge1:1 In the beginning God created", v));
  EXPECT_EQ(v.book, "Ge");
  EXPECT_EQ(v.text, "In the beginning God created");
  ASSERT_TRUE(nc::data::parse_verse("1Sm17:49 And David put his hand", v));
  EXPECT_EQ(v.book, "1Sm");
  EXPECT_EQ(v.text, "And David put his hand");
  EXPECT_FALSE(nc::data::parse_verse("Genesis 1", v));
  EXPECT_FALSE(nc::data::parse_verse("  1 In the beginning", v));
  EXPECT_FALSE(nc::data::parse_verse("Ge1:1", v));
  EXPECT_FALSE(nc::data::parse_verse("", v));
}

TEST(Text, BookSplitRule) {
  int counts[3] = {0, 0, 0};
  for (int b = 1; b <= 66; ++b) {
    const auto s = nc::data::book_split(b);
    counts[s == "train" ? 0 : s == "valid" ? 1 : 2]++;
  }
  EXPECT_EQ(counts[0], 53);
  EXPECT_EQ(counts[1], 7);
  EXPECT_EQ(counts[2], 6);
  EXPECT_EQ(nc::data::book_split(10), "test");  // 2 Samuel
  EXPECT_EQ(nc::data::book_split(45), "valid");  // Romans
}

TEST(Text, BibleFileIsSplitByBookWithoutReferences) {
  TempDir dir;
  const std::string path = dir.str() + "/kjv.txt";
  write_text(path, fake_bible(66));
  const auto c = nc::data::load_text(options_for(path));
  EXPECT_EQ(c.split_rule, "books");
  EXPECT_EQ(c.test.substr(0, 9), "book 10.\n");
  EXPECT_EQ(c.valid.substr(0, 8), "book 5.\n");
  EXPECT_EQ(c.train.substr(0, 16), "book 1.\nbook 2.\n");
  EXPECT_EQ(c.valid_books.size(), 7u);
  EXPECT_EQ(c.test_books.size(), 6u);
  EXPECT_EQ(c.train.find(':'), std::string::npos);
  EXPECT_EQ(c.vocabulary, std::string("\n .0123456789bko"));
}

TEST(Text, BadBibleFilesAreUserErrors) {
  TempDir dir;
  const std::string path = dir.str() + "/kjv.txt";
  write_text(path, fake_bible(65));
  auto o = options_for(path);
  auto msg = user_error([&] { nc::data::load_text(o); });
  EXPECT_NE(msg.find("65 books"), std::string::npos) << msg;
  write_text(path, "Ge1:1 In the beginning\nGenesis 1\n");
  msg = user_error([&] { nc::data::load_text(o); });
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  o.path = dir.str() + "/missing.txt";
  msg = user_error([&] { nc::data::load_text(o); });
  EXPECT_NE(msg.find("missing.txt not found"), std::string::npos) << msg;
}

TEST(Text, PlainFileIsSplitByFractionAtLineEnds) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 100; ++i) text += "line " + std::to_string(i % 10) + "\n";  // 7 chars each
  const std::string path = dir.str() + "/plain.txt";
  write_text(path, text);
  auto o = options_for(path);
  o.limit_train = 14;
  const auto c = nc::data::load_text(o);
  EXPECT_EQ(c.split_rule, "fraction");
  EXPECT_EQ(c.train, "line 0\nline 1\n");
  EXPECT_EQ(c.valid.size(), 35u);  // 90 % of 700 = 630 is a line start; 95 % = 665 too
  EXPECT_EQ(c.test.size(), 35u);
  EXPECT_EQ(c.valid.substr(0, 7), "line 0\n");
}

TEST(Text, EncodeUsesVocabularyIndices) {
  const auto codes = nc::data::encode_text("abca", "abc");
  EXPECT_TRUE(codes.equal(torch::tensor({0, 1, 2, 0}, torch::kLong)));
  const auto msg = user_error([] { nc::data::encode_text("abd", "abc"); });
  EXPECT_NE(msg.find("code 100 at offset 2"), std::string::npos) << msg;
}

TEST(Text, RealKingJamesBible) {
  nc::data::TextOptions o;
  const auto list = nc::data::list_datasets();
  if (!list[3].available) GTEST_SKIP() << "KJV text not installed in " << list[3].location;
  const auto c = nc::data::load_text(o);
  EXPECT_EQ(c.split_rule, "books");
  EXPECT_EQ(c.test_books, (std::vector<std::string>{"2Sm", "Prv", "Amos", "Mat", "Phi", "1Pet"}));
  EXPECT_EQ(c.train.substr(0, 56), "In the beginning God created the heaven and the earth.\nA");
  const double total = static_cast<double>(c.train.size() + c.valid.size() + c.test.size());
  EXPECT_GT(c.train.size() / total, 0.75);
  EXPECT_GT(c.test.size() / total, 0.05);
  EXPECT_LT(c.vocabulary.size(), 80u);
}

}  // namespace
