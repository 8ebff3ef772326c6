#pragma once
// Grey-scale pictures for people to look at: animated GIF (giflib), PNG (libpng) and PGM, written
// atomically (temporary file + rename). Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace nc::data {

/// A grey image, row-major bytes (0 black, 255 white).
struct GreyImage {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  ///< [height * width]
};

/// Each pixel as a `scale` x `scale` block. Throws InternalError when scale < 1.
GreyImage upscale(const GreyImage& image, int scale);

/// Images side by side, separated by `gap` columns of grey 128 (a PNG strip of a video's frames).
/// Throws InternalError when the heights differ or `images` is empty.
GreyImage hstack(const std::vector<GreyImage>& images, int gap = 1);

/// A rows x cols grid of equal-sized tiles with `gap` pixels of grey 128 between them; missing
/// tiles stay grey (receptive fields). Throws InternalError when the tiles differ in size.
GreyImage grid(const std::vector<GreyImage>& tiles, int64_t cols, int gap = 1);

/// Values in [lo, hi] mapped linearly to 0..255 (clamped): the tile of a [height*width] array.
GreyImage to_grey(const float* values, int64_t height, int64_t width, double lo, double hi);

/// Writes an 8-bit grey PNG. Throws UserError naming the path when it cannot be written.
void write_png(const std::string& path, const GreyImage& image);

/// Writes an 8-bit grey binary PGM (Netpbm P5, maxval 255). Throws UserError naming the path
/// when it cannot be written.
void write_pgm(const std::string& path, const GreyImage& image);

/// Writes an animated GIF (256 grey levels, looping forever), each frame shown `delay_ms`
/// (GIF stores hundredths of a second). Throws UserError naming the path when it cannot be
/// written, InternalError when the frames differ in size or there are none.
void write_gif(const std::string& path, const std::vector<GreyImage>& frames, int delay_ms);

}  // namespace nc::data
