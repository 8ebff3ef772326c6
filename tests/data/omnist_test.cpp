// OMNIST: the generator's geometry, determinism and errors; the splits; the picture writers.
#include "neurocore/data/omnist.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "data/test_util.h"
#include "neurocore/core/config.h"
#include "neurocore/data/image_write.h"
#include "neurocore/data/omnist_set.h"
#include "neurocore/data/registry.h"

namespace {

using nc::data::testing::TempDir;
using nc::data::testing::user_error;
namespace d = nc::data;

// A blocky "digit": ink (1.0) in rows 4..23, columns 8..19, faint (0.3) elsewhere in row 2.
std::vector<float> test_image() {
  std::vector<float> x(d::kOmnistPixels, 0.0f);
  for (int r = 4; r < 24; ++r)
    for (int c = 8; c < 20; ++c) x[r * 28 + c] = 1.0f;
  for (int c = 0; c < 28; ++c) x[2 * 28 + c] = 0.3f;
  return x;
}

TEST(Omnist, SameSeedSameVideoOtherSeedOther) {
  const auto x = test_image();
  d::OmnistOptions o;
  o.occluders = 2;
  const auto a = d::make_video(x.data(), 3, o, d::omnist_video_seed(7, 3, 11));
  const auto b = d::make_video(x.data(), 3, o, d::omnist_video_seed(7, 3, 11));
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.occluded_fraction, b.occluded_fraction);
  int differ = 0;
  for (uint64_t i = 0; i < 20; ++i) {
    differ += d::make_video(x.data(), 3, o, d::omnist_video_seed(7, 3, 12 + i)).frames != a.frames;
  }
  EXPECT_GE(differ, 18);
}

TEST(Omnist, VideoPropertiesOfTheSpec) {
  const auto x = test_image();
  d::OmnistOptions o;  // default sweep: enters at frame 0, leaves at frame K - 1
  for (uint64_t i = 0; i < 50; ++i) {
    const auto v = d::make_video(x.data(), 4, o, d::omnist_video_seed(1, 1, i));
    ASSERT_EQ(v.frames.size(), static_cast<size_t>(o.frames * d::kOmnistPixels));
    ASSERT_EQ(v.occluders.size(), 1u);
    EXPECT_EQ(v.label, 4);
    EXPECT_GE(v.occluders[0].size, 6);
    EXPECT_LE(v.occluders[0].size, 12);
    EXPECT_EQ(v.occluded_fraction.front(), 0.0);
    EXPECT_EQ(v.occluded_fraction.back(), 0.0);
    for (int64_t k = 0; k < o.frames; ++k) {
      const auto mask = d::occlusion_mask(v.occluders, k);
      for (int p = 0; p < d::kOmnistPixels; ++p) {
        const float got = v.frames[k * d::kOmnistPixels + p];
        ASSERT_EQ(got, mask[p] ? 0.0f : x[p]) << "frame " << k << " pixel " << p;
      }
    }
  }
}

TEST(Omnist, OccludersCoverTheConfiguredFraction) {
  // An occluder of size w wholly inside the frame covers exactly w pixel centres along its
  // axis: a bar covers 28 w pixels (fraction w/28), a square w^2.
  for (int w = 1; w <= 28; ++w) {
    for (auto shape : {d::OccluderShape::vertical_bar, d::OccluderShape::horizontal_bar, d::OccluderShape::square}) {
      d::Occluder o{shape, w, shape != d::OccluderShape::horizontal_bar, 14.0 + 0.37 * (28 - w) / 2.0, 1, 1.0};
      // Frame k puts the centre at -w/2 + k: wholly inside for k in [w, 28].
      for (int64_t k = w; k <= 28; ++k) {
        const auto mask = d::occlusion_mask({o}, k);
        int covered = 0;
        for (auto m : mask) covered += m;
        ASSERT_EQ(covered, shape == d::OccluderShape::square ? w * w : 28 * w) << "w " << w << " k " << k;
      }
    }
  }
  // The recorded fraction is |ink ∩ covered| / |ink|, counted independently here.
  const auto x = test_image();
  d::OmnistOptions opt;
  const auto v = d::make_video(x.data(), 0, opt, 99);
  for (int64_t k = 0; k < opt.frames; ++k) {
    const auto mask = d::occlusion_mask(v.occluders, k);
    int ink = 0, hidden = 0;
    for (int p = 0; p < d::kOmnistPixels; ++p) {
      ink += x[p] > 0.5f;
      hidden += x[p] > 0.5f && mask[p];
    }
    EXPECT_DOUBLE_EQ(v.occluded_fraction[k], static_cast<double>(hidden) / ink);
  }
}

TEST(Omnist, SpeedOptionMovesByThatManyPixels) {
  d::OmnistOptions o;
  o.speed = 2.5;
  o.shapes = {"vbar"};
  const auto occ = d::draw_occluders(o, 5);
  ASSERT_EQ(occ.size(), 1u);
  EXPECT_TRUE(occ[0].along_x);
  EXPECT_DOUBLE_EQ(d::occluder_position(occ[0], 3) - d::occluder_position(occ[0], 2), 2.5 * occ[0].direction);
}

TEST(Omnist, BadOptionsNameFieldValueAndExpectation) {
  d::OmnistOptions o;
  o.max_size = 29;
  auto msg = user_error([&] { o.validate(); });
  EXPECT_NE(msg.find("data.omnist.max_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("29"), std::string::npos) << msg;
  EXPECT_NE(msg.find("larger than the 28x28 frame"), std::string::npos) << msg;
  o = {};
  o.speed = -1;
  EXPECT_NE(user_error([&] { o.validate(); }).find("speed: got -1"), std::string::npos);
  o = {};
  o.frames = 1;
  EXPECT_NE(user_error([&] { o.validate(); }).find("frames: got 1, expected"), std::string::npos);
  o = {};
  o.shapes = {"circle"};
  EXPECT_NE(user_error([&] { o.validate(); }).find("'circle'"), std::string::npos);
  // Through a config, as `neurocore train` reads it.
  auto c = nc::Config::from_string("data: {name: omnist, omnist: {max_size: 40}}\n", "t.yaml");
  msg = user_error([&] { d::DataOptions::from_config(c.root().section("data")); });
  EXPECT_NE(msg.find("data.omnist.max_size: got 40"), std::string::npos) << msg;
}

TEST(Omnist, SplitsShareNoSourceDigit) {
  d::OmnistOptions o;
  try {
    const auto s = d::omnist_sources(o, "");
    EXPECT_EQ(s.static_set.size(), 997);
    EXPECT_EQ(s.train.size(), 5998);
    EXPECT_EQ(s.valid.size(), 997);
    EXPECT_EQ(s.test.size(), 2008);
    std::set<std::string> seen;
    int64_t total = 0;
    for (const auto* set : {&s.static_set, &s.train, &s.valid, &s.test}) {
      const auto bytes = (set->images * 255).round().to(torch::kUInt8).reshape({set->size(), -1}).contiguous();
      for (int64_t i = 0; i < set->size(); ++i) {
        seen.insert(std::string(reinterpret_cast<const char*>(bytes[i].data_ptr<uint8_t>()), 784));
        ++total;
      }
    }
    // MNIST-10k holds a few exact duplicate images; allow them, but no split overlap beyond.
    EXPECT_GE(static_cast<int64_t>(seen.size()), total - 5);
    d::DataOptions opt;
    opt.name = "omnist";
    opt.limit_test = 3;
    const auto frames = d::load_dataset(opt, "test");
    EXPECT_EQ(frames.images.sizes(), (std::vector<int64_t>{30, 1, 28, 28}));
    EXPECT_TRUE(frames.labels.narrow(0, 0, 10).eq(frames.labels[0]).all().item<bool>());
    // data.omnist.sequences: the same frames, one example per video, frames as channels.
    opt.omnist.sequences = true;
    const auto videos = d::load_dataset(opt, "test");
    EXPECT_EQ(videos.images.sizes(), (std::vector<int64_t>{3, 10, 28, 28}));
    EXPECT_TRUE(videos.images.reshape({30, 1, 28, 28}).equal(frames.images));
    EXPECT_TRUE(videos.labels.equal(frames.labels.view({3, 10}).select(1, 0)));
  } catch (const nc::UserError& e) {
    GTEST_SKIP() << "MNIST-10k not installed: " << e.what();
  }
}

TEST(ImageWrite, GifAndPngHaveTheirSignatures) {
  TempDir dir;
  d::GreyImage a{4, 6, std::vector<uint8_t>(24, 0)}, b{4, 6, std::vector<uint8_t>(24, 255)};
  d::write_gif(dir.file("v.gif"), {a, b, a}, 100);
  d::write_png(dir.file("s.png"), d::hstack({a, b}, 1));
  auto head = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::string s(6, '\0');
    in.read(s.data(), 6);
    return s;
  };
  EXPECT_EQ(head(dir.file("v.gif")), "GIF89a");
  EXPECT_EQ(head(dir.file("s.png")).substr(1, 3), "PNG");
  EXPECT_EQ(d::hstack({a, b}, 1).width, 13);
  EXPECT_EQ(d::upscale(a, 3).height, 12);
}

TEST(Omn1, FileHoldsTheSpecsHeaderThenLabelAndRoundedPixelsPerVideo) {
  TempDir dir;
  d::OmnistOptions o;
  o.frames = 3;
  const auto image = test_image();
  const auto a = d::make_video(image.data(), 7, o, 11), b = d::make_video(image.data(), 2, o, 12);
  d::write_omn1(dir.file("v.omn1"), {a, b}, o.frames);
  std::ifstream in(dir.file("v.omn1"), std::ios::binary);
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t per_video = 1 + 3 * 784;
  ASSERT_EQ(bytes.size(), 24 + 2 * per_video);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "OMN1");
  auto u32 = [&](size_t at) {
    return bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 | static_cast<uint32_t>(bytes[at + 3]) << 24;
  };
  EXPECT_EQ(u32(4), 1u);   // version
  EXPECT_EQ(u32(8), 2u);   // count
  EXPECT_EQ(u32(12), 3u);  // K
  EXPECT_EQ(u32(16), 28u);
  EXPECT_EQ(u32(20), 28u);
  const d::Video* videos[] = {&a, &b};
  for (size_t v = 0; v < 2; ++v) {
    const size_t at = 24 + v * per_video;
    EXPECT_EQ(bytes[at], videos[v]->label);
    for (size_t i = 0; i < 3 * 784; ++i) {
      ASSERT_EQ(bytes[at + 1 + i], std::lround(255.0 * videos[v]->frames[i])) << "video " << v << " pixel " << i;
    }
  }
}

TEST(Omn1, ExportRejectsAnUnknownFormatNamingIt) {
  TempDir dir;
  d::ExportOptions what;
  what.format = "tiff";
  const auto msg = user_error([&] { d::export_videos(d::OmnistOptions{}, "", what, dir.str()); });
  EXPECT_NE(msg.find("--format: got 'tiff'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("omn1"), std::string::npos) << msg;
}

}  // namespace
