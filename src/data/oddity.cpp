// Oddity samples: the riddle table, options, seeds and splits (oddity.h).
#include "neurocore/data/oddity.h"

#include <algorithm>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/option_error.h"
#include "neurocore/data/oddity_file.h"
#include "neurocore/data/omnist.h"  // splitmix64
#include "oddity_riddles.h"

namespace nc::data::oddity {

namespace {

struct Table {
  RiddleDef defs[kRiddles];
  std::string names[kRiddles];
  Table() {
    line_riddles(defs);
    shape_riddles(defs);
    pair_riddles(defs);
    for (int i = 0; i < kRiddles; ++i) {
      if (!defs[i].scene) throw InternalError("oddity: riddle " + std::to_string(i) + " has no generator");
      names[i] = defs[i].name;
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

void check_riddle(int id) {
  if (id < 0 || id >= kRiddles) {
    throw UserError("oddity riddle id: got " + std::to_string(id) + ", expected 0..44");
  }
}

// Draws until the riddle's own check holds and the ink fits (place()); generators reject only a
// small fraction, so this bound is only reached by a bug.
Scene draw_scene(const RiddleDef& def, Rng& rng, double shared, bool odd, int riddle) {
  for (int attempt = 0; attempt < 100000; ++attempt) {
    Scene s;
    if (def.scene(rng, shared, odd, s)) return s;
  }
  throw InternalError("oddity: riddle " + std::to_string(riddle) + " found no valid scene in 100000 draws");
}

}  // namespace

const std::string& riddle_name(int id) {
  check_riddle(id);
  return table().names[id];
}

namespace {

// The options drawing depends on; cheap, so every sample checks them (files are checked once
// per data set, by validate()).
void check_drawing(const OddityOptions& o, const std::string& where) {
  if (o.resolution < 1 || o.resolution > kRenderSide || kRenderSide % o.resolution != 0) {
    bad_option(where, "resolution", o.resolution, "a divisor of 100 (100, 50, 25, 20, ...)");
  }
  for (auto r : o.riddles) {
    if (r < 0 || r >= kRiddles) bad_option(where, "riddles", r, "riddle ids in 0..44");
  }
}

}  // namespace

const char* split_name(Split split) {
  const char* names[] = {"valid", "train", "test"};
  return names[static_cast<int>(split)];
}

void OddityOptions::validate(const std::string& where) const {
  check_drawing(*this, where);
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].empty()) continue;
    const std::string key = where + ".files." + split_name(static_cast<Split>(i));
    Odd1Header head;
    try {
      head = read_odd1_header(files[i]);
    } catch (const UserError& e) {
      throw UserError(key + ": " + e.what());
    }
    if (head.height != resolution || head.width != resolution) {
      throw UserError(key + ": " + files[i] + " holds panels of " + std::to_string(head.height) + " x " +
                      std::to_string(head.width) + " px, expected " + where + ".resolution = " +
                      std::to_string(resolution));
    }
  }
}

OddityOptions OddityOptions::from_config(ConfigSection s) {
  OddityOptions o;
  o.resolution = s.integer("resolution", o.resolution);
  o.antialias = s.boolean("antialias", o.antialias);
  o.clean_colours = s.boolean("clean_colours", o.clean_colours);
  o.seed = static_cast<uint64_t>(s.integer("seed", static_cast<int64_t>(o.seed), 0));
  o.riddles = s.integers("riddles", o.riddles);
  if (s.has("files")) {
    auto f = s.section("files");
    for (size_t i = 0; i < o.files.size(); ++i) o.files[i] = f.string(split_name(static_cast<Split>(i)), "");
    f.finish();
  }
  s.finish();
  o.validate(s.path().empty() ? "data.oddity" : s.path());
  return o;
}

Sample make_scenes(int riddle, uint64_t sample_seed) {
  check_riddle(riddle);
  const RiddleDef& def = table().defs[riddle];
  Rng rng(sample_seed);
  Sample out;
  out.riddle = riddle;
  out.label = rng.ui(0, kPanels - 1);
  out.foreground = static_cast<uint8_t>(rng.ui(0, 60));
  for (auto& b : out.background) b = static_cast<uint8_t>(rng.ui(235, 255));
  const double context = def.shared ? def.shared(rng, false, 0) : 0;
  const double odd = def.shared ? def.shared(rng, true, context) : 0;
  out.shared = context;
  // Context panels are drawn independently, so drawing them in order is already a shuffle.
  for (int k = 0; k < kPanels; ++k) {
    const bool is_odd = k == out.label;
    out.scenes[k] = draw_scene(def, rng, is_odd ? odd : context, is_odd, riddle);
  }
  return out;
}

Sample make_sample(int riddle, uint64_t sample_seed, const OddityOptions& options) {
  check_drawing(options, "data.oddity");
  Sample s = make_scenes(riddle, sample_seed);
  const int r = static_cast<int>(options.resolution), factor = kRenderSide / r;
  s.resolution = r;
  s.pixels.resize(static_cast<size_t>(kPanels) * r * r);
  std::vector<uint8_t> full(kRenderSide * kRenderSide);
  for (int k = 0; k < kPanels; ++k) {
    uint8_t* dst = s.pixels.data() + static_cast<size_t>(k) * r * r;
    if (factor == 1) {
      render_scene(s.scenes[k], kRenderSide, s.foreground, s.background[k], options, dst);
    } else {
      render_scene(s.scenes[k], kRenderSide, s.foreground, s.background[k], options, full.data());
      const auto small = downsample(full.data(), kRenderSide, factor);
      std::copy(small.begin(), small.end(), dst);
    }
  }
  return s;
}

uint64_t split_seed(int riddle, Split split, uint64_t seed) {
  return static_cast<uint64_t>(riddle) + 100 * static_cast<uint64_t>(split) + seed;
}

namespace {
uint64_t sample_seed(int riddle, Split split, int64_t index, const OddityOptions& options) {
  return splitmix64((split_seed(riddle, split, options.seed) << 32) + static_cast<uint64_t>(index));
}
}  // namespace

int split_riddle(int riddle, Split split, int64_t index, const OddityOptions& options) {
  if (riddle != kCombined) return riddle;
  Rng pick(sample_seed(riddle, split, index, options) ^ 0xC0FFEEULL);
  const auto& ids = options.riddles;
  return ids.empty() ? pick.ui(0, kRiddles - 1) : static_cast<int>(ids[pick.ui(0, static_cast<int>(ids.size()) - 1)]);
}

Sample split_sample(int riddle, Split split, int64_t index, const OddityOptions& options) {
  return make_sample(split_riddle(riddle, split, index, options), sample_seed(riddle, split, index, options), options);
}

int64_t split_size(bool combined, Split split) {
  if (combined) return split == Split::train ? 36000 : 4500;
  return split == Split::train ? 2560 : 640;
}

SplitExtent split_extent(const OddityOptions& options, Split split, int64_t limit) {
  options.validate();
  const bool single = options.riddles.size() == 1;
  SplitExtent e;
  e.riddle = single ? static_cast<int>(options.riddles[0]) : kCombined;
  e.count = split_size(!single, split);
  if (limit > 0) e.count = std::min(e.count, limit);
  return e;
}

}  // namespace nc::data::oddity
