// `neurocore data export oddity`: PNG or PGM sheets of riddles for a person to look at, or the
// spec's ODD1 sample file for other programs (oddity.h, oddity_file.h).
#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/data/image_write.h"
#include "neurocore/data/oddity.h"
#include "neurocore/data/oddity_file.h"

namespace nc::data::oddity {

namespace {

// The six panels side by side, each framed by `border` pixels: black around the oddity, mid grey
// around the others.
GreyImage sheet(const Sample& s, int scale, int border) {
  const int r = s.resolution * scale, side = r + 2 * border;
  GreyImage out;
  out.height = side;
  out.width = static_cast<int64_t>(side) * kPanels;
  out.pixels.assign(static_cast<size_t>(out.height * out.width), 128);
  for (int k = 0; k < kPanels; ++k) {
    GreyImage panel;
    panel.height = panel.width = s.resolution;
    const auto* src = s.pixels.data() + static_cast<size_t>(k) * s.resolution * s.resolution;
    panel.pixels.assign(src, src + s.resolution * s.resolution);
    panel = upscale(panel, scale);
    const int x0 = k * side;
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        const bool frame = y < border || y >= side - border || x < border || x >= side - border;
        const uint8_t v = frame ? (k == s.label ? 0 : 128) : panel.pixels[(y - border) * r + (x - border)];
        out.pixels[static_cast<size_t>(y) * out.width + x0 + x] = v;
      }
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> export_sheets(const OddityOptions& options, const SheetOptions& what,
                                       const std::string& out_dir) {
  options.validate();
  Split split;
  if (what.split == "train") {
    split = Split::train;
  } else if (what.split == "valid") {
    split = Split::valid;
  } else if (what.split == "test") {
    split = Split::test;
  } else {
    throw UserError("--split: got '" + what.split + "', expected train, valid or test");
  }
  if (what.format != "png" && what.format != "pgm" && what.format != "odd1") {
    throw UserError("--format: got '" + what.format + "', expected png, pgm or odd1");
  }
  if (what.format == "odd1") {
    if (what.count < 0) throw UserError("--count: got " + std::to_string(what.count) + ", expected >= 0 (0 = all)");
    std::filesystem::create_directories(out_dir);
    const auto file = (std::filesystem::path(out_dir) / ("oddity-" + what.split + ".odd1")).string();
    write_odd1(file, options, split, what.count);
    return {file};
  }
  if (what.count < 1) throw UserError("--count: got " + std::to_string(what.count) + ", expected >= 1");
  if (what.scale < 1 || what.scale > 16) {
    throw UserError("--scale: got " + std::to_string(what.scale) + ", expected 1 to 16");
  }
  std::vector<int64_t> riddles = options.riddles;
  if (riddles.empty()) {
    for (int i = 0; i < kRiddles; ++i) riddles.push_back(i);
  }
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> written;
  for (auto id : riddles) {
    for (int64_t i = 0; i < what.count; ++i) {
      const Sample s = split_sample(static_cast<int>(id), split, i, options);
      const auto path = std::filesystem::path(out_dir) /
                        ("oddity-" + std::to_string(id) + "-" + riddle_name(static_cast<int>(id)) + "-" +
                         what.split + "-" + std::to_string(i) + "-odd" + std::to_string(s.label) + "." +
                         what.format);
      const GreyImage image = sheet(s, what.scale, std::max(2, what.scale));
      if (what.format == "pgm") {
        write_pgm(path.string(), image);
      } else {
        write_png(path.string(), image);
      }
      written.push_back(path.string());
    }
  }
  return written;
}

}  // namespace nc::data::oddity
