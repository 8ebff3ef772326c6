// The ODD1 sample file and the PGM sheets of `data export oddity` (spec §6.3).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "neurocore/core/error.h"
#include "neurocore/data/oddity.h"
#include "neurocore/data/oddity_file.h"

namespace nc::data::oddity {
namespace {

// A fresh folder under the temporary directory, removed at the end of the test.
struct Scratch {
  std::filesystem::path dir;
  explicit Scratch(const std::string& name)
      : dir(std::filesystem::temp_directory_path() / ("nc-" + name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The UserError message of read_odd1(path); fails the test when there is none.
std::string read_error(const std::string& path) {
  try {
    read_odd1(path);
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_odd1(" << path << ") did not throw";
  return "";
}

TEST(OddityFile, RoundTripGivesTheGeneratedSamples) {
  Scratch s("odd1");
  OddityOptions o;
  o.resolution = 25;
  o.riddles = {3, 17, 44};
  const std::string path = s.file("valid.odd1");
  ASSERT_EQ(write_odd1(path, o, Split::valid, 7), 7);
  // The header, byte by byte, as the spec lays it out (little-endian).
  const std::string b = slurp(path);
  ASSERT_EQ(b.size(), 17u + 7u * (2u + 6u * 25u * 25u));
  EXPECT_EQ(b.substr(0, 4), "ODD1");
  EXPECT_EQ(b.substr(4, 4), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(b.substr(8, 4), std::string("\x07\x00\x00\x00", 4));
  EXPECT_EQ(b.substr(12, 4), std::string("\x19\x00\x19\x00", 4));
  EXPECT_EQ(b[16], '\x06');

  const StoredSamples got = read_odd1(path);
  ASSERT_EQ(got.count(), 7);
  EXPECT_EQ(got.height, 25);
  EXPECT_EQ(got.width, 25);
  const size_t pixels = 6 * 25 * 25;
  for (int64_t i = 0; i < 7; ++i) {
    const Sample want = split_sample(kCombined, Split::valid, i, o);
    EXPECT_EQ(got.riddles[i], want.riddle) << i;
    EXPECT_EQ(got.labels[i], want.label) << i;
    EXPECT_TRUE(std::equal(want.pixels.begin(), want.pixels.end(), got.pixels.begin() + i * pixels)) << i;
  }
}

TEST(OddityFile, OneRiddleWritesItsOwnSplitAndLimitZeroIsAll) {
  Scratch s("odd1-one");
  OddityOptions o;
  o.resolution = 10;
  o.riddles = {9};
  const std::string path = s.file("test.odd1");
  EXPECT_EQ(write_odd1(path, o, Split::test), split_size(false, Split::test));
  const StoredSamples got = read_odd1(path);
  ASSERT_EQ(got.count(), 640);
  for (auto r : got.riddles) ASSERT_EQ(r, 9);
  const Sample last = split_sample(9, Split::test, 639, o);
  EXPECT_EQ(got.labels[639], last.label);
}

TEST(OddityFile, BadFilesAreUserErrorsNamingTheFile) {
  Scratch s("odd1-bad");
  OddityOptions o;
  o.resolution = 10;
  const std::string good = s.file("good.odd1");
  write_odd1(good, o, Split::test, 3);
  const std::string bytes = slurp(good);

  const std::string cut = s.file("cut.odd1");
  spit(cut, bytes.substr(0, bytes.size() - 5));
  std::string m = read_error(cut);
  EXPECT_NE(m.find(cut), std::string::npos) << m;
  EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(bytes.size() - 5) + " bytes"), std::string::npos) << m;

  spit(cut, bytes.substr(0, 10));
  m = read_error(cut);
  EXPECT_NE(m.find("truncated ODD1 header: 10 bytes, expected at least 17"), std::string::npos) << m;

  spit(cut, bytes + "x");
  EXPECT_NE(read_error(cut).find("trailing bytes"), std::string::npos);

  std::string other = bytes;
  other.replace(0, 4, "OMN1");
  spit(cut, other);
  m = read_error(cut);
  EXPECT_NE(m.find("first bytes 'OMN1', expected 'ODD1'"), std::string::npos) << m;

  other = bytes;
  other[4] = 2;
  spit(cut, other);
  EXPECT_NE(read_error(cut).find("version 2, expected 1"), std::string::npos);

  other = bytes;
  other[16] = 5;
  spit(cut, other);
  EXPECT_NE(read_error(cut).find("frames per sample 5, expected 6"), std::string::npos);

  other = bytes;
  other[17 + (2 + 600) * 2] = 45;  // the third sample's riddle id
  spit(cut, other);
  m = read_error(cut);
  EXPECT_NE(m.find("sample 2: riddle id 45, expected 0..44"), std::string::npos) << m;

  other = bytes;
  other[17 + 1] = 6;  // the first sample's label
  spit(cut, other);
  EXPECT_NE(read_error(cut).find("sample 0: label 6, expected 0..5"), std::string::npos);

  EXPECT_NE(read_error(s.file("missing.odd1")).find("missing.odd1"), std::string::npos);
}

TEST(OddityExport, PgmSheetHoldsThePanelsAndOdd1IsOneFile) {
  Scratch s("oddity-pgm");
  OddityOptions o;
  o.resolution = 10;
  o.riddles = {26};
  SheetOptions what;
  what.format = "pgm";
  what.count = 1;
  what.scale = 3;
  const auto files = export_sheets(o, what, s.dir.string());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].substr(files[0].size() - 4), ".pgm");
  const Sample want = split_sample(26, Split::test, 0, o);
  // Each panel 10 px x 3, framed by max(2, 3) = 3 px: 36 x (6 * 36).
  const std::string header = "P5\n216 36\n255\n";
  const std::string b = slurp(files[0]);
  ASSERT_EQ(b.size(), header.size() + 216u * 36u);
  ASSERT_EQ(b.substr(0, header.size()), header);
  const auto* px = reinterpret_cast<const uint8_t*>(b.data() + header.size());
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(px[k * 36], k == want.label ? 0 : 128) << "frame of panel " << k;
    for (int y = 0; y < 30; ++y) {
      for (int x = 0; x < 30; ++x) {
        ASSERT_EQ(px[(y + 3) * 216 + k * 36 + x + 3], want.pixels[(k * 10 + y / 3) * 10 + x / 3])
            << "panel " << k << " at " << x << "," << y;
      }
    }
  }

  what.format = "odd1";
  what.count = 0;
  const auto odd1 = export_sheets(o, what, s.dir.string());
  ASSERT_EQ(odd1.size(), 1u);
  EXPECT_EQ(read_odd1(odd1[0]).count(), split_size(false, Split::test));
  what.count = -1;
  EXPECT_THROW(export_sheets(o, what, s.dir.string()), UserError);
  what.format = "gif";
  try {
    export_sheets(o, what, s.dir.string());
    ADD_FAILURE() << "no error for --format gif";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--format: got 'gif', expected png, pgm or odd1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nc::data::oddity
