#include "neurocore/data/idx.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/test_util.h"

namespace {

using nc::data::testing::idx_bytes;
using nc::data::testing::TempDir;
using nc::data::testing::user_error;
using nc::data::testing::write_bytes;

// 3 images of 2x4 pixels, bytes 0..23, labels 7, 0, 9.
std::vector<uint8_t> pixels() {
  std::vector<uint8_t> p(24);
  for (int i = 0; i < 24; ++i) p[i] = static_cast<uint8_t>(i * 11);
  return p;
}

void write_pair(const TempDir& dir, bool gzip, const std::string& images = "img",
                const std::string& labels = "lab") {
  write_bytes(dir.file(images), idx_bytes({3, 2, 4}, pixels()), gzip);
  write_bytes(dir.file(labels), idx_bytes({3}, {7, 0, 9}), gzip);
}

void expect_round_trip(bool gzip) {
  TempDir dir;
  write_pair(dir, gzip);
  const auto raw = nc::data::read_idx(dir.file("img"));
  EXPECT_EQ(raw.scalar_type(), torch::kUInt8);
  EXPECT_EQ(raw.sizes(), (std::vector<int64_t>{3, 2, 4}));
  const auto p = pixels();
  EXPECT_TRUE(raw.flatten().equal(torch::tensor(std::vector<int64_t>(p.begin(), p.end())).to(torch::kUInt8)));

  const auto d = nc::data::read_idx_dataset(dir.file("img"), dir.file("lab"), "tiny");
  EXPECT_EQ(d.name, "tiny");
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{3, 1, 2, 4}));
  EXPECT_EQ(d.images.scalar_type(), torch::kFloat32);
  EXPECT_EQ(d.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(d.labels.equal(torch::tensor({7, 0, 9}, torch::kInt64)));
  EXPECT_FLOAT_EQ(d.images[0][0][0][1].item<float>(), 11.0f / 255.0f);
  EXPECT_FLOAT_EQ(d.images[2][0][1][3].item<float>(), 253.0f / 255.0f);
}

TEST(Idx, RoundTripPlain) { expect_round_trip(false); }

TEST(Idx, RoundTripGzip) { expect_round_trip(true); }

TEST(Idx, GzipIsDetectedByMagicNotByName) {
  TempDir dir;
  write_pair(dir, true, "images.idx", "labels.idx");    // gzip without .gz
  write_pair(dir, false, "images.gz", "labels.gz");     // plain with .gz
  const auto a = nc::data::read_idx_dataset(dir.file("images.idx"), dir.file("labels.idx"), "a");
  const auto b = nc::data::read_idx_dataset(dir.file("images.gz"), dir.file("labels.gz"), "b");
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_TRUE(a.labels.equal(b.labels));
}

TEST(Idx, EmptySetIsAllowed) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_bytes({0, 28, 28}, {}), false);
  write_bytes(dir.file("lab"), idx_bytes({0}, {}), false);
  const auto d = nc::data::read_idx_dataset(dir.file("img"), dir.file("lab"), "empty");
  EXPECT_EQ(d.size(), 0);
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{0, 1, 28, 28}));
}

TEST(Idx, MissingFileIsUserError) {
  TempDir dir;
  const auto msg = user_error([&] { nc::data::read_idx(dir.file("nope-idx3-ubyte")); });
  EXPECT_NE(msg.find("nope-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(Idx, WrongMagicIsUserError) {
  TempDir dir;
  write_pair(dir, false);
  // Labels passed as images and images as labels.
  auto msg = user_error([&] { nc::data::read_idx_dataset(dir.file("lab"), dir.file("img"), "x"); });
  EXPECT_NE(msg.find(dir.file("lab")), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x00000801"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 0x00000803"), std::string::npos) << msg;
  msg = user_error([&] { nc::data::read_idx_dataset(dir.file("img"), dir.file("img"), "x"); });
  EXPECT_NE(msg.find("0x00000803"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 0x00000801"), std::string::npos) << msg;

  // Not an unsigned-byte IDX file at all (a float type, and text).
  auto bytes = idx_bytes({3}, {1, 2, 3});
  bytes[2] = 0x0d;
  write_bytes(dir.file("float-idx"), bytes, false);
  msg = user_error([&] { nc::data::read_idx(dir.file("float-idx")); });
  EXPECT_NE(msg.find("float-idx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0x00000d01"), std::string::npos) << msg;
  nc::data::testing::write_text(dir.file("text-idx"), "hello world\n");
  msg = user_error([&] { nc::data::read_idx(dir.file("text-idx")); });
  EXPECT_NE(msg.find("text-idx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic number"), std::string::npos) << msg;
}

TEST(Idx, TruncatedFileIsUserError) {
  for (bool gzip : {false, true}) {
    TempDir dir;
    auto bytes = idx_bytes({3, 2, 4}, pixels());
    bytes.resize(bytes.size() - 5);  // 19 of 24 data bytes
    write_bytes(dir.file("short-idx3"), bytes, gzip);
    const auto msg = user_error([&] { nc::data::read_idx(dir.file("short-idx3")); });
    EXPECT_NE(msg.find("short-idx3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3*2*4 = 24 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("found 19"), std::string::npos) << msg;

    // A header cut short, and a header announcing more than any file holds.
    write_bytes(dir.file("header-idx3"), {0, 0, 8, 3, 0, 0}, gzip);
    EXPECT_NE(user_error([&] { nc::data::read_idx(dir.file("header-idx3")); }).find("header-idx3"),
              std::string::npos);
    write_bytes(dir.file("huge-idx3"), idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {1}), gzip);
    const auto huge = user_error([&] { nc::data::read_idx(dir.file("huge-idx3")); });
    EXPECT_NE(huge.find("huge-idx3"), std::string::npos) << huge;
    EXPECT_NE(huge.find("truncated"), std::string::npos) << huge;
  }
}

TEST(Idx, LabelCountMismatchIsUserError) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_bytes({3, 2, 4}, pixels()), false);
  write_bytes(dir.file("lab2"), idx_bytes({2}, {1, 2}), false);
  const auto msg = user_error([&] { nc::data::read_idx_dataset(dir.file("img"), dir.file("lab2"), "x"); });
  EXPECT_NE(msg.find("lab2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 labels, expected 3"), std::string::npos) << msg;
}

TEST(Idx, GzipCorruptionIsUserError) {
  TempDir dir;
  std::vector<uint8_t> big(20000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 7919) >> 3);
  write_bytes(dir.file("ok.gz"), idx_bytes({20, 1000}, big), true);
  const auto good = nc::data::testing::read_bytes(dir.file("ok.gz"));
  ASSERT_GT(good.size(), 64u);

  // Damaged deflate data (or a failed CRC check), and a stream cut in the middle.
  auto damaged = good;
  for (std::size_t i = 20; i < 40; ++i) damaged[i] ^= 0x5a;
  write_bytes(dir.file("damaged.gz"), damaged, false);
  auto msg = user_error([&] { nc::data::read_idx(dir.file("damaged.gz")); });
  EXPECT_NE(msg.find("damaged.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gzip"), std::string::npos) << msg;

  auto cut = good;
  cut.resize(good.size() / 2);
  write_bytes(dir.file("cut.gz"), cut, false);
  msg = user_error([&] { nc::data::read_idx(dir.file("cut.gz")); });
  EXPECT_NE(msg.find("cut.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gzip"), std::string::npos) << msg;

  // A wrong CRC alone (the data decompresses fine).
  auto crc = good;
  crc[crc.size() - 6] ^= 0xff;
  write_bytes(dir.file("crc.gz"), crc, false);
  msg = user_error([&] { nc::data::read_idx(dir.file("crc.gz")); });
  EXPECT_NE(msg.find("crc.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("gzip"), std::string::npos) << msg;
}

TEST(Idx, LabelOutOfRangeIsUserError) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_bytes({3, 2, 4}, pixels()), false);
  write_bytes(dir.file("badlab"), idx_bytes({3}, {1, 12, 3}), false);
  const auto msg = user_error([&] { nc::data::read_idx_dataset(dir.file("img"), dir.file("badlab"), "x"); });
  EXPECT_NE(msg.find("badlab"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 12 at index 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 9]"), std::string::npos) << msg;
}

}  // namespace
