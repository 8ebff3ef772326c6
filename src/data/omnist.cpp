// The OMNIST generator (omnist.h). Torch-free: compiled without the precompiled header.
#include "neurocore/data/omnist.h"

#include <algorithm>
#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/option_error.h"

namespace nc::data {

namespace {

const std::vector<std::string> kSources = {"mnist-10k", "fashion-mnist"};
const std::vector<std::string> kShapes = {"vbar", "hbar", "square"};

// A splitmix64 stream: the generator's only source of randomness, so that videos are the same
// on every platform (std:: distributions are implementation-defined).
class Stream {
 public:
  explicit Stream(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_ += 0x9E3779B97F4A7C15ULL); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  int64_t below(int64_t n) { return static_cast<int64_t>(uniform() * static_cast<double>(n)); }

 private:
  uint64_t state_;
};

OccluderShape shape_of(const std::string& name) {
  if (name == "vbar") return OccluderShape::vertical_bar;
  if (name == "hbar") return OccluderShape::horizontal_bar;
  return OccluderShape::square;
}

bool covered(const Occluder& o, double p, int row, int col) {
  const double along = (o.along_x ? col : row) + 0.5;
  const double half = o.size / 2.0;
  if (along < p - half || along >= p + half) return false;
  if (o.shape != OccluderShape::square) return true;  // bars span the whole frame
  const double across = (o.along_x ? row : col) + 0.5;
  return across >= o.across - half && across < o.across + half;
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t omnist_video_seed(uint64_t base, uint64_t split, uint64_t index) {
  return splitmix64(base ^ (split << 32) ^ index);
}

void OmnistOptions::validate(const std::string& where) const {
  if (std::find(kSources.begin(), kSources.end(), source) == kSources.end()) {
    bad_option(where, "source", "'" + source + "'", "mnist-10k or fashion-mnist");
  }
  if (frames < 2) bad_option(where, "frames", frames, "an integer >= 2");
  if (occluders < 0) bad_option(where, "occluders", occluders, "an integer >= 0");
  if (min_size < 1) bad_option(where, "min_size", min_size, "an integer >= 1");
  if (max_size > kOmnistSide) {
    bad_option(where, "max_size", max_size, "at most 28 (an occluder larger than the 28x28 frame)");
  }
  if (min_size > max_size) {
    bad_option(where, "min_size", min_size, "at most max_size = " + std::to_string(max_size));
  }
  if (!(speed >= 0) || !std::isfinite(speed)) bad_option(where, "speed", speed, "a number >= 0 (0: (28 + w)/(K - 1))");
  if (shapes.empty()) bad_option(where, "shapes", "[]", "a non-empty list of vbar, hbar, square");
  for (const auto& s : shapes) {
    if (std::find(kShapes.begin(), kShapes.end(), s) == kShapes.end()) {
      bad_option(where, "shapes", "'" + s + "'", "vbar, hbar or square");
    }
  }
  if (value != 0 && value != 1) bad_option(where, "value", value, "0 or 1");
}

OmnistOptions OmnistOptions::from_config(ConfigSection s) {
  OmnistOptions o;
  // Ranges are checked by validate() so that the library and the config give one message.
  o.source = s.string("source", o.source);
  o.frames = s.integer("frames", o.frames);
  o.occluders = s.integer("occluders", o.occluders);
  o.min_size = s.integer("min_size", o.min_size);
  o.max_size = s.integer("max_size", o.max_size);
  o.speed = s.number("speed", o.speed);
  o.shapes = s.strings("shapes", o.shapes);
  o.value = s.number("value", o.value);
  o.seed = static_cast<uint64_t>(s.integer("seed", 0, 0));
  o.sequences = s.boolean("sequences", o.sequences);
  s.finish();
  o.validate(s.path().empty() ? "data.omnist" : s.path());
  return o;
}

std::vector<Occluder> draw_occluders(const OmnistOptions& options, uint64_t video_seed) {
  options.validate();
  Stream r(video_seed);
  std::vector<Occluder> out;
  const int64_t sizes = options.max_size - options.min_size + 1;
  for (int64_t n = 0; n < options.occluders; ++n) {
    Occluder o{};
    o.shape = shape_of(options.shapes[r.below(static_cast<int64_t>(options.shapes.size()))]);
    o.size = static_cast<int>(options.min_size + r.below(sizes));
    const bool coin = r.uniform() < 0.5;  // drawn for every shape: one fixed order of draws
    o.along_x = o.shape == OccluderShape::vertical_bar ||
                (o.shape == OccluderShape::square && coin);
    const double half = o.size / 2.0;
    o.across = half + r.uniform() * (kOmnistSide - o.size);
    o.direction = r.uniform() < 0.5 ? 1 : -1;
    o.speed = options.speed > 0 ? options.speed
                                : (kOmnistSide + o.size) / static_cast<double>(options.frames - 1);
    out.push_back(o);
  }
  return out;
}

double occluder_position(const Occluder& o, int64_t frame) {
  const double half = o.size / 2.0;
  const double start = o.direction > 0 ? -half : kOmnistSide + half;
  return start + static_cast<double>(frame) * o.speed * o.direction;
}

std::vector<uint8_t> occlusion_mask(const std::vector<Occluder>& occluders, int64_t frame) {
  std::vector<uint8_t> mask(kOmnistPixels, 0);
  for (const auto& o : occluders) {
    const double p = occluder_position(o, frame);
    for (int row = 0; row < kOmnistSide; ++row) {
      for (int col = 0; col < kOmnistSide; ++col) {
        if (covered(o, p, row, col)) mask[row * kOmnistSide + col] = 1;
      }
    }
  }
  return mask;
}

Video make_video(const float* image, int64_t label, const OmnistOptions& options,
                 uint64_t video_seed) {
  Video v;
  v.label = label;
  v.occluders = draw_occluders(options, video_seed);
  v.frames.resize(static_cast<size_t>(options.frames) * kOmnistPixels);
  int64_t ink = 0;
  for (int i = 0; i < kOmnistPixels; ++i) ink += image[i] > 0.5f;
  for (int64_t k = 0; k < options.frames; ++k) {
    const auto mask = occlusion_mask(v.occluders, k);
    float* frame = v.frames.data() + k * kOmnistPixels;
    int64_t hidden_ink = 0;
    for (int i = 0; i < kOmnistPixels; ++i) {
      frame[i] = mask[i] ? static_cast<float>(options.value) : image[i];
      hidden_ink += mask[i] && image[i] > 0.5f;
    }
    v.occluded_fraction.push_back(ink ? static_cast<double>(hidden_ink) / ink : 0.0);
  }
  return v;
}

}  // namespace nc::data
