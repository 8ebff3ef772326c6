#pragma once
// Input arrays of a user and result arrays, as files, without LibTorch: what
// `neurocore simulate MODEL --input FILE...` reads and writes (docs/data.md, "Input files for
// `neurocore simulate`"). Library target nc_array_io (links nc_base, zlib and libpng only).
#include <cstdint>
#include <string>
#include <vector>

namespace nc {

/// A dense array of floats in row-major (C) order: element (i0, ..., ik) is
/// data[((i0 * shape[1] + i1) * shape[2] + ...) + ik]. Invariant: numel(shape) == data.size();
/// an empty shape is a scalar (one element).
struct FloatArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// Product of the sizes in `shape` (1 for an empty shape). Throws InternalError when a size is
/// negative or the product overflows int64_t.
int64_t numel(const std::vector<int64_t>& shape);

/// Reads the array stored in `path`. The format is chosen by the file's first bytes; the file
/// extension is used only when they match no format (so that, for instance, a truncated
/// `x.npy` gets a NumPy error message rather than "unknown format"). Accepted formats:
///
/// - NumPy `.npy`, format versions 1.0, 2.0 and 3.0, C order, little-endian, with dtype
///   `<f4`, `<f8`, `|u1`, `<i4`, `<i8` or `|b1`: the array's own shape, values converted to
///   float as they are (no scaling; float64 is rounded to nearest, int64 beyond 2^24 loses
///   precision, bool gives 0 or 1).
/// - PNG (gray, gray+alpha, RGB, RGBA, palette; 1 to 16 bits per sample, interlaced or not),
///   decoded with libpng: shape [C, H, W] with C = 1 for gray and C = 3 for RGB and palette;
///   alpha is dropped, a palette is expanded to RGB; values v / (2^bits - 1) in [0, 1]. Gamma
///   and colour chunks are ignored: values are the stored samples.
/// - PGM / PPM (Netpbm P2, P5 gray; P3, P6 RGB), maxval 1 to 65535, `#` comments in the header:
///   shape [C, H, W] as for PNG, values v / maxval in [0, 1].
/// - IDX (the MNIST format), plain or gzip-compressed: element types unsigned byte, signed byte,
///   short, int, float, double (big-endian, as the format says); the shape from the header.
///   Unsigned bytes are scaled to [0, 1] (v / 255, as images are); every other type is
///   converted to float as it is.
///
/// Throws UserError, with a message naming `path`, what was seen and what was expected, when
/// the file cannot be read, is in none of these formats (the message lists them), uses a
/// variant that is not supported (Fortran order, big-endian or object dtypes, PBM bitmaps, ...)
/// or is truncated or inconsistent (sizes in the header that disagree with the data).
FloatArray read_array(const std::string& path);

/// Writes `a` to `path` as a NumPy `.npy` file, format 1.0, dtype `<f4`, C order, shape
/// a.shape, so that `numpy.load(path)` gives it back. The write is atomic (temporary file in
/// the same directory, then rename): an interrupted run never leaves a half-written file.
/// Throws InternalError when numel(a.shape) != a.data.size() (a bug of the caller), UserError
/// when the file cannot be written.
void write_npy(const std::string& path, const FloatArray& a);

}  // namespace nc
