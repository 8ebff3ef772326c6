// PNG and GIF writers (image_write.h): thin wrappers over libpng and giflib.
#include "neurocore/data/image_write.h"

#include <gif_lib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::data {

GreyImage upscale(const GreyImage& image, int scale) {
  if (scale < 1) throw InternalError("upscale: scale " + std::to_string(scale) + " < 1");
  GreyImage out{image.height * scale, image.width * scale, {}};
  out.pixels.resize(static_cast<size_t>(out.height * out.width));
  for (int64_t r = 0; r < out.height; ++r) {
    for (int64_t c = 0; c < out.width; ++c) {
      out.pixels[static_cast<size_t>(r * out.width + c)] =
          image.pixels[static_cast<size_t>((r / scale) * image.width + c / scale)];
    }
  }
  return out;
}

GreyImage grid(const std::vector<GreyImage>& tiles, int64_t cols, int gap) {
  if (tiles.empty() || cols < 1) throw InternalError("grid: no tiles");
  const int64_t h = tiles[0].height, w = tiles[0].width;
  const int64_t rows = (static_cast<int64_t>(tiles.size()) + cols - 1) / cols;
  GreyImage out{rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, {}};
  out.pixels.assign(static_cast<size_t>(out.height * out.width), 128);
  for (size_t t = 0; t < tiles.size(); ++t) {
    if (tiles[t].height != h || tiles[t].width != w) throw InternalError("grid: tiles differ in size");
    const int64_t r0 = static_cast<int64_t>(t) / cols * (h + gap);
    const int64_t c0 = static_cast<int64_t>(t) % cols * (w + gap);
    for (int64_t r = 0; r < h; ++r) {
      std::copy_n(tiles[t].pixels.begin() + r * w, w, out.pixels.begin() + (r0 + r) * out.width + c0);
    }
  }
  return out;
}

GreyImage hstack(const std::vector<GreyImage>& images, int gap) {
  if (images.empty()) throw InternalError("hstack: no images");
  for (const auto& i : images) {
    if (i.height != images[0].height) throw InternalError("hstack: heights differ");
  }
  if (images.size() == 1) return images[0];
  // A one-row grid of equal tiles is the common case (frames of one video).
  return grid(images, static_cast<int64_t>(images.size()), gap);
}

GreyImage to_grey(const float* values, int64_t height, int64_t width, double lo, double hi) {
  GreyImage out{height, width, std::vector<uint8_t>(static_cast<size_t>(height * width))};
  const double span = hi > lo ? hi - lo : 1.0;
  for (int64_t i = 0; i < height * width; ++i) {
    const double v = std::clamp((values[i] - lo) / span, 0.0, 1.0);
    out.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>(std::lround(255.0 * v));
  }
  return out;
}

void write_png(const std::string& path, const GreyImage& image) {
  write_atomic_with(path, [&](const std::string& tmp) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
    if (!f) throw UserError(path + ": cannot open for writing (is the directory writable?)");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
      png_destroy_write_struct(&png, nullptr);
      throw UserError(path + ": libpng could not start");
    }
    // libpng reports errors by longjmp: no C++ objects with destructors live in this frame
    // between setjmp and the end of writing.
    if (setjmp(png_jmpbuf(png))) {
      png_destroy_write_struct(&png, &info);
      throw UserError(path + ": libpng failed to write (disk full?)");
    }
    png_init_io(png, f.get());
    png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
                 static_cast<png_uint_32>(image.height), 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t r = 0; r < image.height; ++r) {
      png_write_row(png, const_cast<png_bytep>(image.pixels.data() + r * image.width));
    }
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
  });
}

void write_pgm(const std::string& path, const GreyImage& image) {
  // Netpbm P5 (https://netpbm.sourceforge.net/doc/pgm.html): one header line per field, then the
  // bytes row-major.
  std::string out = "P5\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
  out.append(image.pixels.begin(), image.pixels.end());
  write_file_atomic(path, out);
}

void write_gif(const std::string& path, const std::vector<GreyImage>& frames, int delay_ms) {
  if (frames.empty()) throw InternalError("write_gif: no frames");
  const int w = static_cast<int>(frames[0].width), h = static_cast<int>(frames[0].height);
  for (const auto& f : frames) {
    if (f.width != w || f.height != h) throw InternalError("write_gif: frames differ in size");
  }
  write_atomic_with(path, [&](const std::string& tmp) {
    int err = 0;
    GifFileType* gif = EGifOpenFileName(tmp.c_str(), false, &err);
    if (!gif) throw UserError(path + ": cannot open for writing (" + GifErrorString(err) + ")");
    auto fail = [&](const char* what) {
      int close_err = 0;
      EGifCloseFile(gif, &close_err);
      throw UserError(path + ": giflib failed (" + what + ", " + GifErrorString(gif->Error) + ")");
    };
    GifColorType grey[256];
    for (int i = 0; i < 256; ++i) grey[i] = {static_cast<GifByteType>(i), static_cast<GifByteType>(i), static_cast<GifByteType>(i)};
    ColorMapObject* map = GifMakeMapObject(256, grey);
    EGifSetGifVersion(gif, true);  // GIF89a: needed for the delay and the loop extension
    if (EGifPutScreenDesc(gif, w, h, 8, 0, map) == GIF_ERROR) {
      GifFreeMapObject(map);
      fail("screen");
    }
    GifFreeMapObject(map);
    // NETSCAPE2.0 application extension: loop forever.
    const GifByteType app[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
    const GifByteType loop[] = {1, 0, 0};
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, sizeof app, app) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, sizeof loop, loop) == GIF_ERROR ||
        EGifPutExtensionTrailer(gif) == GIF_ERROR) {
      fail("loop extension");
    }
    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSAL_UNSPECIFIED;
    gcb.DelayTime = std::max(1, delay_ms / 10);
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    const size_t ext_len = EGifGCBToExtension(&gcb, ext);
    for (const auto& f : frames) {
      if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(ext_len), ext) == GIF_ERROR ||
          EGifPutImageDesc(gif, 0, 0, w, h, false, nullptr) == GIF_ERROR) {
        fail("frame");
      }
      for (int r = 0; r < h; ++r) {
        if (EGifPutLine(gif, const_cast<GifPixelType*>(f.pixels.data() + r * w), w) == GIF_ERROR) fail("pixels");
      }
    }
    if (EGifCloseFile(gif, &err) == GIF_ERROR) {
      throw UserError(path + ": giflib failed to finish (" + std::string(GifErrorString(err)) + ")");
    }
  });
}

}  // namespace nc::data
