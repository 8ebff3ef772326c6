// Oddity samples as data: colours, labels, ink box, determinism, resolution, options (spec §8).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "neurocore/core/error.h"
#include "neurocore/data/oddity.h"

namespace nc::data::oddity {
namespace {

TEST(OdditySample, ColoursAndInkBoxAt100px) {
  OddityOptions o;
  for (int id = 0; id < kRiddles; ++id) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Sample s = make_sample(id, seed * 7919 + id, o);
      ASSERT_EQ(s.pixels.size(), 6u * 100 * 100);
      ASSERT_GE(s.label, 0);
      ASSERT_LT(s.label, 6);
      ASSERT_LE(s.foreground, 60);
      for (int k = 0; k < kPanels; ++k) {
        ASSERT_GE(s.background[k], 235);
        const uint8_t* img = s.pixels.data() + k * 10000;
        int ink = 0;
        for (int y = 0; y < 100; ++y) {
          for (int x = 0; x < 100; ++x) {
            const uint8_t v = img[y * 100 + x];
            // Aliased drawing: only the background, the sample's colour, white and black.
            ASSERT_TRUE(v == s.background[k] || v == s.foreground || v == 255 || v == 0)
                << "riddle " << id << " value " << int(v);
            const bool border = y < 5 || y > 94 || x < 5 || x > 94;
            if (v != s.background[k]) {
              ++ink;
              ASSERT_FALSE(border) << "riddle " << id << " ink at " << y << "," << x;
            }
          }
        }
        EXPECT_GT(ink, 10) << "riddle " << id << " panel " << k << " is (nearly) empty";
      }
    }
  }
}

TEST(OdditySample, LabelsAreUniform) {
  // Chi-square over 6,000 combined samples, 5 degrees of freedom: p > 0.001 <=> chi2 < 20.52.
  int counts[6] = {};
  const int n = 6000;
  for (int i = 0; i < n; ++i) ++counts[make_scenes(i % kRiddles, 424242 + i).label];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 6.0) * (c - n / 6.0) / (n / 6.0);
  EXPECT_LT(chi2, 20.52);
}

TEST(OdditySample, DeterministicFromTheSeed) {
  OddityOptions o;
  o.resolution = 50;
  for (int id : {0, 18, 40, 44}) {
    const Sample a = split_sample(id, Split::train, 17, o), b = split_sample(id, Split::train, 17, o);
    EXPECT_EQ(a.pixels, b.pixels);
    EXPECT_EQ(a.label, b.label);
    const Sample c = split_sample(id, Split::test, 17, o);
    EXPECT_NE(a.pixels, c.pixels) << "train and test samples of one index differ";
  }
  EXPECT_EQ(split_seed(3, Split::test, 5), 3u + 200 + 5);
  const Sample m = split_sample(kCombined, Split::valid, 3, o);
  EXPECT_EQ(m.pixels, split_sample(kCombined, Split::valid, 3, o).pixels);
}

TEST(OdditySample, CombinedSetCoversTheChosenRiddles) {
  OddityOptions o;
  o.riddles = {4, 9};
  std::set<int> seen;
  for (int i = 0; i < 40; ++i) seen.insert(split_sample(kCombined, Split::train, i, o).riddle);
  EXPECT_EQ(seen, (std::set<int>{4, 9}));
}

TEST(OdditySample, FiftyPixelsAreTheAreaMeanOfHundred) {
  OddityOptions full, half;
  half.resolution = 50;
  for (int id : {2, 17, 29}) {
    const Sample a = make_sample(id, 99, full), b = make_sample(id, 99, half);
    for (int k = 0; k < kPanels; ++k) {
      double ma = 0, mb = 0;
      for (int i = 0; i < 10000; ++i) ma += a.pixels[k * 10000 + i] / 10000.0;
      for (int i = 0; i < 2500; ++i) mb += b.pixels[k * 2500 + i] / 2500.0;
      EXPECT_NEAR(ma, mb, 0.5);
    }
    // One block by hand.
    const int sum = a.pixels[0] + a.pixels[1] + a.pixels[100] + a.pixels[101];
    EXPECT_EQ(b.pixels[0], (sum + 2) / 4);
  }
}

TEST(OdditySample, AntialiasingAddsIntermediateGreys) {
  OddityOptions aa;
  aa.antialias = true;
  const Sample s = make_sample(17, 5, aa);
  int other = 0;
  for (int k = 0; k < kPanels; ++k) {
    for (int i = 0; i < 10000; ++i) {
      const uint8_t v = s.pixels[k * 10000 + i];
      other += v != s.background[k] && v != s.foreground;
    }
  }
  EXPECT_GT(other, 0);
}

TEST(OdditySample, CleanColoursDropWhiteAndBlack) {
  OddityOptions clean;
  clean.clean_colours = true;
  for (int id : {16, 29, 30, 44}) {
    const Sample s = make_sample(id, 11, clean);
    for (int k = 0; k < kPanels; ++k) {
      for (int i = 0; i < 10000; ++i) {
        const uint8_t v = s.pixels[k * 10000 + i];
        ASSERT_TRUE(v == s.background[k] || v == s.foreground) << "riddle " << id;
      }
    }
  }
}

TEST(OdditySample, BadOptionsAreUserErrors) {
  OddityOptions o;
  o.resolution = 30;
  EXPECT_THROW(o.validate(), UserError);
  try {
    o.validate();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("data.oddity.resolution: got 30"), std::string::npos) << e.what();
  }
  o.resolution = 0;
  EXPECT_THROW(make_sample(0, 0, o), UserError);
  o.resolution = 50;
  o.riddles = {45};
  EXPECT_THROW(o.validate(), UserError);
  EXPECT_THROW(make_scenes(45, 0), UserError);
  EXPECT_THROW(make_scenes(-1, 0), UserError);
  EXPECT_THROW(riddle_name(45), UserError);
  EXPECT_EQ(riddle_name(22), "chiral_circle_vertical");
}

TEST(OddityExport, WritesOneSheetPerSampleAndRejectsBadFlags) {
  const auto dir = std::filesystem::temp_directory_path() / ("nc-oddity-export-" + std::to_string(::getpid()));
  OddityOptions o;
  o.resolution = 50;
  o.riddles = {6, 43};
  SheetOptions what;
  what.count = 2;
  const auto files = export_sheets(o, what, dir.string());
  ASSERT_EQ(files.size(), 4u);
  for (const auto& f : files) EXPECT_GT(std::filesystem::file_size(f), 100u) << f;
  EXPECT_NE(files[0].find("oddity-6-parallel_lines-test-0-odd"), std::string::npos) << files[0];
  std::filesystem::remove_all(dir);
  what.split = "static";
  EXPECT_THROW(export_sheets(o, what, dir.string()), UserError);
  what.split = "test";
  what.scale = 0;
  EXPECT_THROW(export_sheets(o, what, dir.string()), UserError);
  what.scale = 2;
  what.count = 0;
  EXPECT_THROW(export_sheets(o, what, dir.string()), UserError);
}

}  // namespace
}  // namespace nc::data::oddity
