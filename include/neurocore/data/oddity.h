#pragma once
// Visual oddity riddles (../shared/specs/oddity.md; docs/oddity.md): six panels, five obey a
// geometric rule, one (the oddity) breaks it; the label is the oddity's index. Torch-free.
//
// Two layers (spec §6): a riddle's scene generator emits vector shapes in frame units ([0, 1]^2,
// x right, y down) plus anchors (points that are not drawn but locate an axis or a centre for
// the tests), and a rasteriser (Cairo, oddity_raster.cpp) draws them at 100 x 100 and
// area-averages down to the requested resolution. Every scene generator rejection-samples until
// its own rule check holds and all ink lies in [0.05, 0.95]^2.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nc {
class ConfigSection;
}

namespace nc::data::oddity {

constexpr int kRiddles = 45;
constexpr int kPanels = 6;
constexpr int kCombined = 90;   ///< the riddle id of the combined set (riddles drawn uniformly)
constexpr int kRenderSide = 100;  ///< scenes are drawn at this size, then area-averaged

/// The riddle's short name ("parallel_lines"), id 0..44. Throws UserError for another id.
const std::string& riddle_name(int id);

struct Vec2 {
  double x = 0, y = 0;
};

enum class Ink : uint8_t { foreground, white, black };

/// One drawn primitive. Curves (Bezier, Catmull-Rom) are already flattened into `points`.
struct Shape {
  enum class Kind : uint8_t { polygon, polyline, ellipse };
  Kind kind = Kind::polyline;
  std::vector<Vec2> points;  ///< polygon (closed) or polyline vertices
  Vec2 centre;               ///< ellipse
  double rx = 0, ry = 0;     ///< ellipse semi-axes
  double angle = 0;          ///< ellipse rotation, radians
  bool filled = false;       ///< polygons and ellipses; polylines are always stroked
  double width = 0;          ///< stroke width in frame units; 0 = one pixel at the drawn size
  Ink ink = Ink::foreground;
};

struct Scene {
  std::vector<Shape> shapes;  ///< drawn in order
  std::vector<Vec2> anchors;  ///< moved with the shapes, never drawn (docs/oddity.md per riddle)
};

/// Split numbers of the spec's seed formula (§4).
enum class Split : int { valid = 0, train = 1, test = 2 };

/// "valid", "train" or "test": the split's name in configs and file names.
const char* split_name(Split split);

/// The generator's options (the `data.oddity` section of a config).
struct OddityOptions {
  int64_t resolution = 100;    ///< panel side R in pixels; must divide 100
  bool antialias = false;      ///< false: aliased drawing as the reference; true: Cairo BEST
  bool clean_colours = false;  ///< true: no white dots/holes (background grey), no black outlines
  uint64_t seed = 0;           ///< the spec's data-set seed (0..9 in the paper)
  std::vector<int64_t> riddles;  ///< data sets: riddle ids (empty = all 45 = the combined set)
  /// ODD1 files (oddity_file.h) that replace the generated splits, indexed by Split (valid,
  /// train, test); "" = generate that split. A file's panels must be resolution x resolution;
  /// data sets keep its samples of `riddles` (all when empty), in file order.
  std::array<std::string, 3> files;

  /// Throws UserError "<where>.<field>: got ..., expected ..." for a resolution that is not a
  /// positive divisor of 100, a riddle id outside 0..44, or a file that is not a readable ODD1
  /// file with panels of the resolution (read_odd1_header: the header and length only).
  void validate(const std::string& where = "data.oddity") const;
  /// The file that replaces `split`, or "" when it is generated.
  const std::string& file(Split split) const { return files[static_cast<size_t>(split)]; }
  /// Reads resolution, antialias, clean_colours, seed, riddles and files {train, valid, test};
  /// validates; calls finish().
  static OddityOptions from_config(ConfigSection section);
};

/// One riddle instance.
struct Sample {
  int riddle = 0;
  int label = 0;                        ///< index of the oddity, 0..5
  uint8_t foreground = 0;               ///< in [0, 60], shared by the six panels
  std::array<uint8_t, kPanels> background{};  ///< per panel, in [235, 255]
  std::array<Scene, kPanels> scenes;
  double shared = 0;                    ///< the per-sample shared parameter (26, 31, 32, 34, 35)
  int resolution = 0;
  std::vector<uint8_t> pixels;          ///< [6 * R * R], panel-major, row-major
};

/// The scenes of one sample, without pixels: the oddity at a uniform index, the context shuffled.
/// Deterministic in (riddle, seed). Throws UserError for a riddle outside 0..44.
Sample make_scenes(int riddle, uint64_t sample_seed);

/// make_scenes plus the pixels at options.resolution (options validated).
Sample make_sample(int riddle, uint64_t sample_seed, const OddityOptions& options);

/// Draws one scene at `side` px (foreground/background greys as given; white = 255 and black = 0
/// unless clean_colours) into `out` [side * side].
void render_scene(const Scene& scene, int side, uint8_t foreground, uint8_t background,
                  const OddityOptions& options, uint8_t* out);

/// Area-averages a `side` x `side` image by `factor` (side % factor == 0), rounding to nearest.
std::vector<uint8_t> downsample(const uint8_t* image, int side, int factor);


/// The spec's split seed, riddle + 100 * split + seed (riddle = kCombined for the combined set).
uint64_t split_seed(int riddle, Split split, uint64_t seed);

/// Sample `index` of a split: its seed is splitmix64(split_seed * 2^32 + index); in the combined
/// set the riddle is drawn uniformly from `riddles` (all 45 when empty) with that seed.
Sample split_sample(int riddle, Split split, int64_t index, const OddityOptions& options);

/// The riddle id of split_sample(riddle, split, index, options), without drawing it.
int split_riddle(int riddle, Split split, int64_t index, const OddityOptions& options);

/// The spec's §0 sizes: per riddle 2,560 train / 640 valid / 640 test; combined 36,000 /
/// 4,500 / 4,500.
int64_t split_size(bool combined, Split split);

/// Which split a data set of `options` reads: one riddle id in options.riddles gives that
/// riddle's own split, anything else the combined set over options.riddles (all 45 when empty).
struct SplitExtent {
  int riddle = kCombined;  ///< the generator's riddle argument: the one id, or kCombined
  int64_t count = 0;       ///< split_size, or `limit` when 0 < limit < split_size
};
/// Validates options (as validate()), then the extent of `split` cut to the first `limit`
/// samples (0 = all).
SplitExtent split_extent(const OddityOptions& options, Split split, int64_t limit = 0);

/// What `neurocore data export oddity` writes.
struct SheetOptions {
  std::string split = "test";   ///< train | valid | test
  int64_t count = 2;            ///< png/pgm: samples per riddle (>= 1); odd1: samples (0 = all)
  int scale = 2;                ///< png/pgm: each pixel as scale x scale, 1..16
  std::string format = "png";   ///< png | pgm (sheets) | odd1 (the spec's sample file, oddity_file.h)
};

/// For each riddle of options.riddles (all 45 when empty), the first `count` samples of its
/// per-riddle split as sheets in `out_dir` (created): the six panels side by side, the oddity
/// framed in black, the others in grey; named oddity-<id>-<name>-<split>-<i>-odd<label>.png
/// (.pgm: binary Netpbm P5 with the same pixels). Format odd1 instead writes the first `count`
/// samples (0 = all) of the split the trainer reads (split_extent) into one file
/// oddity-<split>.odd1 (write_odd1). Returns the paths. Throws UserError for a bad split,
/// format, count or scale (naming the flag), and as options.validate().
std::vector<std::string> export_sheets(const OddityOptions& options, const SheetOptions& what,
                                       const std::string& out_dir);

}  // namespace nc::data::oddity
