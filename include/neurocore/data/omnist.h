#pragma once
// OMNIST: videos of one 28x28 digit hidden by moving occluders (../shared/specs/st-stdp.md §6;
// the geometry is the project's definition, docs/data.md "omnist"). Torch-free: frames are
// plain float vectors so that the event-driven simulator (learn/stdp.h) and the exporters
// (image_write.h) use them without LibTorch.
//
// Per video, per occluder (drawn in this order from the video's stream):
//   shape ~ U(options.shapes)                 vertical bar | horizontal bar | square
//   w     ~ U{min_size, ..., max_size}        bar thickness or square side, in pixels
//   axis  ~ coin                              used by squares (x or y); bars: vbar→x, hbar→y
//   c     ~ U[w/2, 28 - w/2] (real)           perpendicular centre (squares only)
//   dir   ~ coin (+1 / -1)
//   centre along the axis at frame k:  p_k = p_0 + k·v·dir,  p_0 = -w/2 (dir = +1) or 28 + w/2,
//   v = options.speed, or (28 + w)/(K - 1) when speed = 0 (enters at frame 0, leaves at K-1).
// A pixel (row, col) is covered when its centre (col + 0.5 along x, row + 0.5 along y) lies in
// [p - w/2, p + w/2) along the axis and, for squares, in [c - w/2, c + w/2) across it.
// Covered pixels take options.value (0 or 1). Video seed: splitmix64(seed ^ (split << 32) ^ i).
#include <cstdint>
#include <string>
#include <vector>

namespace nc {
class ConfigSection;
}

namespace nc::data {

constexpr int kOmnistSide = 28;
constexpr int kOmnistPixels = kOmnistSide * kOmnistSide;

enum class OccluderShape { vertical_bar, horizontal_bar, square };

/// The generator's options (the `data.omnist` section of a config).
struct OmnistOptions {
  std::string source = "mnist-10k";  ///< mnist-10k (OMNIST) | fashion-mnist (OFMNIST)
  int64_t frames = 10;               ///< K >= 2
  int64_t occluders = 1;             ///< per video, >= 0 (0: the digit unoccluded)
  int64_t min_size = 6;              ///< w range, 1 <= min_size <= max_size <= 28
  int64_t max_size = 12;
  double speed = 0;                  ///< px/frame, >= 0; 0 = (28 + w)/(K - 1)
  std::vector<std::string> shapes = {"vbar", "hbar", "square"};  ///< non-empty subset
  double value = 0;                  ///< the occluder's pixel value: 0 or 1
  uint64_t seed = 0;                 ///< the base of every video's seed
  /// How the train/valid/test splits are handed to `neurocore train`: false, one example per
  /// frame ([N·K, 1, 28, 28], per-frame models); true, one example per video ([N, K, 28, 28],
  /// frames as channels, label per video) for sequence models with encoder.coding: frames.
  bool sequences = false;

  /// Throws UserError naming `where`.<field>, the value seen and the accepted range, for: an
  /// unknown source or shape, frames < 2, occluders < 0, min_size < 1, max_size > 28 (an
  /// occluder larger than the frame), min_size > max_size, speed < 0, value not 0 or 1.
  void validate(const std::string& where = "data.omnist") const;

  /// Reads the keys above (`seed` included) from `section`, validates, calls finish().
  static OmnistOptions from_config(ConfigSection section);
};

/// One occluder's draws.
struct Occluder {
  OccluderShape shape;
  int size;        ///< w
  bool along_x;    ///< moves along x (columns) or y (rows)
  double across;   ///< c (squares)
  int direction;   ///< +1 or -1
  double speed;    ///< px per frame (> 0)
};

/// splitmix64's output function (Steele et al.): a bijective 64-bit mixer.
uint64_t splitmix64(uint64_t x);

/// The seed of video `index` of split `split`: splitmix64(base ^ (split << 32) ^ index).
uint64_t omnist_video_seed(uint64_t base, uint64_t split, uint64_t index);

/// The occluders of one video, drawn from `video_seed` as in the header comment.
std::vector<Occluder> draw_occluders(const OmnistOptions& options, uint64_t video_seed);

/// Centre along the axis at frame k: p_0 + k·speed·direction.
double occluder_position(const Occluder& o, int64_t frame);

/// Mask of frame `frame`: 784 bytes, 1 where any occluder covers the pixel (row-major).
std::vector<uint8_t> occlusion_mask(const std::vector<Occluder>& occluders, int64_t frame);

/// One video: K frames of 784 floats, and per frame the occluded fraction of the ink,
/// |{p > 0.5} ∩ covered| / |{p > 0.5}| (0 when the image has no ink).
struct Video {
  int64_t label = 0;
  std::vector<Occluder> occluders;
  std::vector<float> frames;            ///< [K * 784], frame-major, row-major pixels
  std::vector<double> occluded_fraction;  ///< [K]
};

/// The video of `image` (784 values in [0,1]) under `options`, from `video_seed`.
/// Throws as options.validate().
Video make_video(const float* image, int64_t label, const OmnistOptions& options,
                 uint64_t video_seed);

}  // namespace nc::data
