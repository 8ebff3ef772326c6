#include "neurocore/core/array_file.h"

#include <png.h>
#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc {

namespace {

using Bytes = std::vector<uint8_t>;

const char* const kAccepted =
    "expected one of: a NumPy .npy file (dtype <f4, <f8, |u1, <i4, <i8 or |b1), a PNG image, "
    "a PGM/PPM image (P2, P3, P5, P6) or an IDX file (plain or .gz)";

// ---------------------------------------------------------------------------------------------
// Bytes and numbers

std::string hex_bytes(const Bytes& b, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < std::min(n, b.size()); ++i) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%s%02x", i ? " " : "", b[i]);
    s += buf;
  }
  return s.empty() ? "none (empty file)" : s;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

// The element count of a shape read from a file, or a UserError when it does not fit in
// memory at all: a corrupt header must not make us multiply past the range of size_t.
std::size_t file_numel(const std::string& path, const std::vector<int64_t>& shape) {
  std::size_t n = 1;
  for (const int64_t s : shape) {
    if (s == 0) return 0;
    if (n > std::size_t(std::numeric_limits<int64_t>::max()) / std::size_t(s)) {
      throw UserError(path + ": the shape " + shape_string(shape) +
                      " has more elements than any file can hold; expected a valid header");
    }
    n *= std::size_t(s);
  }
  return n;
}

// Checks that `available` bytes of data follow the header for `count` elements of `item`
// bytes each; the caller names the format in `what`.
void expect_data_size(const std::string& path, const std::string& what, std::size_t count,
                      std::size_t item, std::size_t available) {
  const bool overflow = count > std::numeric_limits<std::size_t>::max() / item;
  if (!overflow && count * item == available) return;
  throw UserError(path + ": " + (overflow || count * item > available ? "truncated" : "inconsistent") +
                  " " + what + ": the header announces " + std::to_string(count) +
                  " elements of " + std::to_string(item) + " bytes" +
                  (overflow ? "" : " (" + std::to_string(count * item) + " bytes)") +
                  ", the file holds " + std::to_string(available) + " bytes of data");
}

// Little- and big-endian decoding that does not depend on the host's byte order.
uint64_t load_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t load_be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

float bits_to_f32(uint64_t bits) {
  const auto u = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

double bits_to_f64(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// Sign extension of the low `n` bytes of `v`.
int64_t signed_of(uint64_t v, int n) {
  if (n == 8) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t(1) << (8 * n - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

// ---------------------------------------------------------------------------------------------
// Reading the file

Bytes read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw UserError(path + ": read error after " + std::to_string(b.size()) + " bytes");
  return b;
}

// The whole decompressed stream of a gzip file (zlib's gzread).
Bytes read_gzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), &gzclose);
  if (!gz) throw UserError(path + ": cannot open gzip file (" + std::strerror(errno) + ")");
  Bytes b;
  std::size_t used = 0;
  for (;;) {
    if (b.size() - used < (1u << 16)) b.resize(std::max<std::size_t>(b.size() * 2, 1u << 20));
    const auto want = static_cast<unsigned>(std::min<std::size_t>(b.size() - used, 1u << 30));
    const int n = gzread(gz.get(), b.data() + used, want);
    int err = Z_OK;
    const std::string msg = n <= 0 ? gzerror(gz.get(), &err) : "";
    // A clean end is n == 0 without error; a cut stream reports Z_BUF_ERROR.
    if (n < 0 || err != Z_OK) {
      throw UserError(path + ": corrupt or truncated gzip stream (" + msg + ") after " +
                      std::to_string(used) + " decompressed bytes; expected a valid gzip file");
    }
    if (n == 0) break;
    used += std::size_t(n);
  }
  b.resize(used);
  return b;
}

bool starts_with(const Bytes& b, const char* magic, std::size_t n) {
  return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
}

bool is_gzip(const Bytes& b) { return b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b; }
bool is_npy(const Bytes& b) { return starts_with(b, "\x93NUMPY", 6); }
bool is_png(const Bytes& b) { return starts_with(b, "\x89PNG\r\n\x1a\n", 8); }
bool is_pnm(const Bytes& b) {
  return b.size() >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' && std::isspace(b[2]);
}
bool is_idx(const Bytes& b) {
  const bool known_type = b.size() >= 4 && (b[2] == 0x08 || b[2] == 0x09 || (b[2] >= 0x0b && b[2] <= 0x0e));
  return known_type && b[0] == 0 && b[1] == 0 && b[3] > 0;
}

// ---------------------------------------------------------------------------------------------
// NumPy .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html)

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  std::size_t data_offset = 0;
};

// A minimal reader of the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class DictReader {
 public:
  DictReader(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  // The text following `'key':`, or throws naming the missing key.
  std::size_t value_of(const std::string& key) const {
    for (const char q : {'\'', '"'}) {
      const std::string quoted = std::string(1, q) + key + q;
      std::size_t at = text_.find(quoted);
      if (at == std::string::npos) continue;
      at = skip_space(at + quoted.size());
      if (at < text_.size() && text_[at] == ':') return skip_space(at + 1);
    }
    throw error("no '" + key + "' key");
  }

  std::string string_at(std::size_t at) const {
    if (at >= text_.size() || (text_[at] != '\'' && text_[at] != '"')) {
      throw error("'descr' is not a string (a structured dtype?)");
    }
    const std::size_t end = text_.find(text_[at], at + 1);
    if (end == std::string::npos) throw error("unterminated string");
    return text_.substr(at + 1, end - at - 1);
  }

  bool bool_at(std::size_t at) const {
    if (text_.compare(at, 4, "True") == 0) return true;
    if (text_.compare(at, 5, "False") == 0) return false;
    throw error("'fortran_order' is neither True nor False");
  }

  std::vector<int64_t> tuple_at(std::size_t at) const {
    if (at >= text_.size() || text_[at] != '(') throw error("'shape' is not a tuple");
    std::vector<int64_t> shape;
    for (at = skip_space(at + 1); at < text_.size() && text_[at] != ')';) {
      if (!std::isdigit(static_cast<unsigned char>(text_[at]))) {
        throw error("'shape' holds '" + text_.substr(at, 1) + "', expected non-negative integers");
      }
      int64_t v = 0;
      for (; at < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at])); ++at) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) throw error("'shape' size too large");
        v = v * 10 + (text_[at] - '0');
      }
      shape.push_back(v);
      at = skip_space(at);
      if (at < text_.size() && text_[at] == ',') at = skip_space(at + 1);
    }
    if (at >= text_.size()) throw error("unterminated 'shape' tuple");
    return shape;
  }

 private:
  std::size_t skip_space(std::size_t at) const {
    while (at < text_.size() && std::isspace(static_cast<unsigned char>(text_[at]))) ++at;
    return at;
  }

  UserError error(const std::string& what) const {
    return UserError(path_ + ": bad NumPy header: " + what + " in " + text_ +
                     "; expected {'descr': ..., 'fortran_order': ..., 'shape': (...)}");
  }

  const std::string& path_;
  const std::string& text_;
};

NpyHeader parse_npy_header(const std::string& path, const Bytes& b) {
  if (b.size() < 10) {
    throw UserError(path + ": truncated NumPy file: " + std::to_string(b.size()) +
                    " bytes, expected at least the 10-byte preamble");
  }
  const int major = b[6];
  if (major < 1 || major > 3) {
    throw UserError(path + ": NumPy format version " + std::to_string(major) + "." +
                    std::to_string(b[7]) + ", expected 1.0, 2.0 or 3.0");
  }
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  if (b.size() < 8 + len_bytes) {
    throw UserError(path + ": truncated NumPy file: " + std::to_string(b.size()) +
                    " bytes, expected the header length after the preamble");
  }
  const std::size_t header_len = load_le(b.data() + 8, int(len_bytes));
  NpyHeader h;
  h.data_offset = 8 + len_bytes + header_len;
  if (h.data_offset > b.size()) {
    throw UserError(path + ": truncated NumPy file: the header needs " +
                    std::to_string(h.data_offset) + " bytes, the file has " +
                    std::to_string(b.size()));
  }
  const std::string text(b.begin() + std::ptrdiff_t(8 + len_bytes), b.begin() + std::ptrdiff_t(h.data_offset));
  const DictReader dict(path, text);
  h.descr = dict.string_at(dict.value_of("descr"));
  h.fortran_order = dict.bool_at(dict.value_of("fortran_order"));
  h.shape = dict.tuple_at(dict.value_of("shape"));
  return h;
}

// An element type of .npy data: its size and how one element becomes a float.
struct NpyType {
  int size;
  float (*load)(const uint8_t*);
};

NpyType npy_type(const std::string& path, const std::string& descr) {
  const std::string supported = "expected a little-endian <f4, <f8, |u1, <i4, <i8 or |b1";
  if (descr.size() >= 2 && descr[1] == 'O') {
    throw UserError(path + ": NumPy dtype '" + descr + "' (Python objects), " + supported);
  }
  if (descr.size() < 3) throw UserError(path + ": NumPy dtype '" + descr + "', " + supported);
  const char order = descr[0];
  const std::string kind = descr.substr(1);
  // One-byte types have no byte order (numpy writes '|'); for the others it must be '<'.
  const bool one_byte = kind == "u1" || kind == "b1";
  if (order == '>' && !one_byte) {
    throw UserError(path + ": NumPy dtype '" + descr + "' is big-endian, " + supported +
                    " (convert with a.astype(a.dtype.newbyteorder('<')))");
  }
  if (order != '<' && order != '|' && order != '>') {
    throw UserError(path + ": NumPy dtype '" + descr + "', " + supported);
  }
  if (kind == "f4") return {4, [](const uint8_t* p) { return bits_to_f32(load_le(p, 4)); }};
  if (kind == "f8") return {8, [](const uint8_t* p) { return float(bits_to_f64(load_le(p, 8))); }};
  if (kind == "u1") return {1, [](const uint8_t* p) { return float(*p); }};
  if (kind == "b1") return {1, [](const uint8_t* p) { return *p ? 1.0f : 0.0f; }};
  if (kind == "i4") return {4, [](const uint8_t* p) { return float(signed_of(load_le(p, 4), 4)); }};
  if (kind == "i8") return {8, [](const uint8_t* p) { return float(signed_of(load_le(p, 8), 8)); }};
  throw UserError(path + ": NumPy dtype '" + descr + "', " + supported);
}

FloatArray read_npy(const std::string& path, const Bytes& b) {
  if (!is_npy(b)) {
    throw UserError(path + ": not a NumPy .npy file: first bytes " + hex_bytes(b, 6) +
                    ", expected 93 4e 55 4d 50 59 (\\x93NUMPY)");
  }
  const NpyHeader h = parse_npy_header(path, b);
  if (h.fortran_order) {
    throw UserError(path + ": NumPy array in Fortran order (fortran_order: True), expected C "
                    "order (save np.ascontiguousarray(a))");
  }
  const NpyType type = npy_type(path, h.descr);
  const std::size_t count = file_numel(path, h.shape);
  expect_data_size(path, "NumPy file", count, std::size_t(type.size), b.size() - h.data_offset);
  FloatArray a{h.shape, std::vector<float>(count)};
  const uint8_t* p = b.data() + h.data_offset;
  for (std::size_t i = 0; i < count; ++i, p += type.size) a.data[i] = type.load(p);
  return a;
}

// ---------------------------------------------------------------------------------------------
// PNG, with libpng. libpng reports errors by longjmp: decode_png keeps every object with a
// destructor out of the frames it jumps over (the output lives in the caller's PngImage) and
// the caller turns the recorded message into a UserError.

struct PngImage {
  std::vector<uint8_t> pixels;  // rows of interleaved samples, 16-bit ones big-endian
  std::vector<png_bytep> rows;
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
  char error[256] = "";
};

struct PngSource {
  const Bytes* bytes;
  std::size_t pos;
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* image = static_cast<PngImage*>(png_get_error_ptr(png));
  std::snprintf(image->error, sizeof image->error, "%s", msg);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // benign (e.g. an unknown chunk)

void png_read_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->bytes->size() - src->pos < n) png_error(png, "unexpected end of file");
  std::memcpy(out, src->bytes->data() + src->pos, n);
  src->pos += n;
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

// Decodes into `img` with samples of 8 or 16 bits, gray or RGB, alpha stripped. Returns false
// with img.error set when libpng failed.
bool decode_png(const Bytes& b, PngImage& img) {
  PngSource src{&b, 0};
  PngReadGuard g;
  g.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &img, png_on_error, png_on_warning);
  if (!g.png) return std::snprintf(img.error, sizeof img.error, "out of memory"), false;
  g.info = png_create_info_struct(g.png);
  if (!g.info) return std::snprintf(img.error, sizeof img.error, "out of memory"), false;
  if (setjmp(png_jmpbuf(g.png))) return false;
  png_set_read_fn(g.png, &src, png_read_memory);
  png_read_info(g.png, g.info);
  const int color = png_get_color_type(g.png, g.info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(g.png);
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(g.png, g.info) < 8) {
    png_set_expand_gray_1_2_4_to_8(g.png);  // scales 1/2/4-bit samples to the full 0..255
  }
  // Unconditional: a palette with transparency (tRNS) only gains its alpha channel on expansion.
  png_set_strip_alpha(g.png);
  png_set_interlace_handling(g.png);
  png_read_update_info(g.png, g.info);
  img.width = png_get_image_width(g.png, g.info);
  img.height = png_get_image_height(g.png, g.info);
  img.channels = png_get_channels(g.png, g.info);
  img.bit_depth = png_get_bit_depth(g.png, g.info);
  const std::size_t row_bytes = png_get_rowbytes(g.png, g.info);
  // Deflate expands at most 1032:1: a header announcing more pixels than the file can hold
  // is truncated or corrupt, and must not make us allocate gigabytes.
  if (double(row_bytes + 1) * img.height > 1032.0 * double(b.size()) + 1e6) {
    std::snprintf(img.error, sizeof img.error, "%ux%u pixels cannot fit in %zu bytes", img.width,
                  img.height, b.size());
    return false;
  }
  img.pixels.resize(row_bytes * img.height);
  img.rows.resize(img.height);
  for (png_uint_32 y = 0; y < img.height; ++y) img.rows[y] = img.pixels.data() + y * row_bytes;
  png_read_image(g.png, img.rows.data());
  png_read_end(g.png, nullptr);
  return true;
}

FloatArray read_png(const std::string& path, const Bytes& b) {
  if (!is_png(b)) {
    throw UserError(path + ": not a PNG file: first bytes " + hex_bytes(b, 8) +
                    ", expected 89 50 4e 47 0d 0a 1a 0a");
  }
  PngImage img;
  if (!decode_png(b, img)) {
    throw UserError(path + ": corrupt or truncated PNG file (libpng: " + img.error +
                    "); expected a valid PNG image");
  }
  const std::size_t c_n = std::size_t(img.channels), h_n = img.height, w_n = img.width;
  const int sample = img.bit_depth == 16 ? 2 : 1;
  const double max = img.bit_depth == 16 ? 65535.0 : 255.0;
  FloatArray a{{int64_t(c_n), int64_t(h_n), int64_t(w_n)}, std::vector<float>(c_n * h_n * w_n)};
  for (std::size_t y = 0; y < h_n; ++y) {
    for (std::size_t x = 0; x < w_n; ++x) {
      for (std::size_t c = 0; c < c_n; ++c) {
        const uint8_t* p = img.rows[y] + (x * c_n + c) * std::size_t(sample);
        a.data[(c * h_n + y) * w_n + x] = float(double(load_be(p, sample)) / max);
      }
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Netpbm PGM / PPM (https://netpbm.sourceforge.net/doc/pgm.html, ppm.html)

class PnmReader {
 public:
  PnmReader(const std::string& path, const Bytes& b) : path_(path), b_(b) {}

  FloatArray read() {
    const char kind = char(b_[1]);
    if (kind != '2' && kind != '3' && kind != '5' && kind != '6') {
      throw UserError(path_ + ": Netpbm format P" + std::string(1, kind) +
                      " is not supported, expected P2 or P5 (PGM, gray) or P3 or P6 (PPM, RGB)");
    }
    pos_ = 2;
    const int64_t width = header_number("width", 1, 1 << 30);
    const int64_t height = header_number("height", 1, 1 << 30);
    const int64_t maxval = header_number("maxval", 1, 65535);
    const int64_t channels = (kind == '3' || kind == '6') ? 3 : 1;
    const bool plain = kind == '2' || kind == '3';
    const std::size_t count = file_numel(path_, {channels, height, width});
    if (plain) {
      // Each plain sample takes at least one digit: bounds the allocation by the file size.
      if (count > b_.size() - pos_) {
        throw UserError(path_ + ": truncated P" + std::string(1, kind) + " image: the header "
                        "announces " + std::to_string(count) + " samples, the file holds " +
                        std::to_string(b_.size() - pos_) + " bytes after it");
      }
      return read_samples(count, channels, height, width, maxval, &PnmReader::plain_sample);
    }
    // Exactly one whitespace character separates maxval from binary data.
    ++pos_;
    const std::size_t sample = maxval > 255 ? 2 : 1;
    expect_data_size(path_, "P" + std::string(1, kind) + " image", count, sample,
                     b_.size() > pos_ ? b_.size() - pos_ : 0);
    return read_samples(count, channels, height, width, maxval, &PnmReader::raw_sample);
  }

 private:
  // Whitespace and '#' comments (to the end of the line) between header fields.
  void skip_separators() {
    while (pos_ < b_.size()) {
      if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n' && b_[pos_] != '\r') ++pos_;
      } else if (std::isspace(b_[pos_])) {
        ++pos_;
      } else {
        return;
      }
    }
  }

  // A decimal number; `what` names it in the error.
  int64_t number(const std::string& what, int64_t lo, int64_t hi, bool header) {
    if (header) {
      skip_separators();
    } else {
      while (pos_ < b_.size() && std::isspace(b_[pos_])) ++pos_;
    }
    if (pos_ >= b_.size()) {
      throw UserError(path_ + ": truncated Netpbm file: end of file where the " + what +
                      " should be, expected a decimal number");
    }
    if (!std::isdigit(b_[pos_])) {
      throw UserError(path_ + ": bad Netpbm " + std::string(header ? "header" : "data") + ": '" +
                      std::string(1, char(b_[pos_])) + "' where the " + what +
                      " should be, expected a decimal number in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    }
    int64_t v = 0;
    for (; pos_ < b_.size() && std::isdigit(b_[pos_]); ++pos_) {
      v = std::min<int64_t>(v * 10 + (b_[pos_] - '0'), hi + 1);  // saturate: no overflow
    }
    if (v < lo || v > hi) {
      throw UserError(path_ + ": bad Netpbm " + std::string(header ? "header" : "data") + ": " +
                      what + " " + (v > hi ? "> " + std::to_string(hi) : std::to_string(v)) +
                      ", expected a number in [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
    }
    return v;
  }

  int64_t header_number(const std::string& what, int64_t lo, int64_t hi) {
    return number(what, lo, hi, true);
  }

  int64_t plain_sample(std::size_t i, int64_t maxval) {
    return number("sample " + std::to_string(i), 0, maxval, false);
  }

  int64_t raw_sample(std::size_t, int64_t maxval) {
    const int n = maxval > 255 ? 2 : 1;
    const auto v = int64_t(load_be(b_.data() + pos_, n));
    pos_ += std::size_t(n);
    if (v > maxval) {
      throw UserError(path_ + ": bad Netpbm data: sample " + std::to_string(v) + " at byte " +
                      std::to_string(pos_ - std::size_t(n)) + ", expected at most maxval " +
                      std::to_string(maxval));
    }
    return v;
  }

  // Samples come interleaved (RGB per pixel); the result is planar [C, H, W].
  FloatArray read_samples(std::size_t count, int64_t channels, int64_t height, int64_t width,
                          int64_t maxval, int64_t (PnmReader::*next)(std::size_t, int64_t)) {
    FloatArray a{{channels, height, width}, std::vector<float>(count)};
    const std::size_t c_n = std::size_t(channels), plane = std::size_t(height * width);
    for (std::size_t i = 0; i < count; ++i) {
      const int64_t v = (this->*next)(i, maxval);
      a.data[(i % c_n) * plane + i / c_n] = float(double(v) / double(maxval));
    }
    return a;
  }

  const std::string& path_;
  const Bytes& b_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------
// IDX (http://yann.lecun.com/exdb/mnist/): magic 00 00 TT ND, ND big-endian uint32 sizes,
// then the data, big-endian.

FloatArray read_idx(const std::string& path, const Bytes& b) {
  if (!is_idx(b)) {
    throw UserError(path + ": not an IDX file: first bytes " + hex_bytes(b, 4) +
                    ", expected 00 00 TT NN with TT the type (08 ubyte, 09 sbyte, 0b short, "
                    "0c int, 0d float, 0e double) and NN > 0 the number of dimensions");
  }
  const int type = b[2], ndims = b[3];
  const std::size_t header = 4 + 4 * std::size_t(ndims);
  if (b.size() < header) {
    throw UserError(path + ": truncated IDX file: the header of a " + std::to_string(ndims) +
                    "-dimensional file needs " + std::to_string(header) + " bytes, found " +
                    std::to_string(b.size()));
  }
  std::vector<int64_t> shape;
  for (int d = 0; d < ndims; ++d) shape.push_back(int64_t(load_be(b.data() + 4 + 4 * d, 4)));
  const int size = type == 0x0e ? 8 : type >= 0x0c ? 4 : type == 0x0b ? 2 : 1;
  const std::size_t count = file_numel(path, shape);
  expect_data_size(path, "IDX file", count, std::size_t(size), b.size() - header);
  FloatArray a{shape, std::vector<float>(count)};
  const uint8_t* p = b.data() + header;
  for (std::size_t i = 0; i < count; ++i, p += size) {
    const uint64_t bits = load_be(p, size);
    switch (type) {
      case 0x08: a.data[i] = float(double(bits) / 255.0); break;  // pixels: scaled to [0, 1]
      case 0x0d: a.data[i] = bits_to_f32(bits); break;
      case 0x0e: a.data[i] = float(bits_to_f64(bits)); break;
      default: a.data[i] = float(signed_of(bits, size)); break;  // sbyte, short, int
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

enum class Format { kNpy, kPng, kPnm, kIdx, kUnknown };

Format format_of_bytes(const Bytes& b) {
  if (is_npy(b)) return Format::kNpy;
  if (is_png(b)) return Format::kPng;
  if (is_pnm(b)) return Format::kPnm;
  if (is_idx(b)) return Format::kIdx;
  return Format::kUnknown;
}

// The format an extension promises: used only when the bytes match none, so that a damaged
// file gets the error of its own format.
Format format_of_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  auto ends = [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (ends(".gz")) name.resize(name.size() - 3);
  if (ends(".npy")) return Format::kNpy;
  if (ends(".png")) return Format::kPng;
  if (ends(".pgm") || ends(".ppm") || ends(".pnm")) return Format::kPnm;
  if (ends(".idx") || ends("-ubyte") || name.find("idx") != std::string::npos) return Format::kIdx;
  return Format::kUnknown;
}

}  // namespace

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t s : shape) {
    if (s < 0) throw InternalError("numel: negative size in shape " + shape_string(shape));
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) {
      throw InternalError("numel: the element count of shape " + shape_string(shape) +
                          " overflows int64");
    }
    n *= s;
  }
  return n;
}

FloatArray read_array(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(path + ": input file not found");
  if (std::filesystem::is_directory(path, ec)) {
    throw UserError(path + ": is a folder, " + kAccepted);
  }
  Bytes b = read_plain(path);
  if (is_gzip(b)) {
    b = read_gzip(path);
    // Only IDX comes gzip-compressed in practice (the MNIST downloads).
    if (!is_idx(b) && format_of_name(path) != Format::kIdx) {
      throw UserError(path + ": gzip file whose content starts with bytes " + hex_bytes(b, 4) +
                      ", expected a gzip-compressed IDX file (00 00 TT NN)");
    }
    return read_idx(path, b);
  }
  Format f = format_of_bytes(b);
  if (f == Format::kUnknown) f = format_of_name(path);
  switch (f) {
    case Format::kNpy: return read_npy(path, b);
    case Format::kPng: return read_png(path, b);
    case Format::kPnm:
      if (!is_pnm(b)) {
        throw UserError(path + ": not a PGM/PPM file: first bytes " + hex_bytes(b, 3) +
                        ", expected 'P2', 'P3', 'P5' or 'P6' and a space");
      }
      return PnmReader(path, b).read();
    case Format::kIdx: return read_idx(path, b);
    case Format::kUnknown: break;
  }
  throw UserError(path + ": unknown file format (first bytes " + hex_bytes(b, 8) + "); " +
                  kAccepted);
}

void write_npy(const std::string& path, const FloatArray& a) {
  if (numel(a.shape) != int64_t(a.data.size())) {
    throw InternalError("write_npy(" + path + "): shape " + shape_string(a.shape) + " holds " +
                        std::to_string(numel(a.shape)) + " elements, data " +
                        std::to_string(a.data.size()));
  }
  std::string shape = "(";
  for (const int64_t s : a.shape) shape += std::to_string(s) + (a.shape.size() == 1 ? "," : ", ");
  if (a.shape.size() > 1) shape.resize(shape.size() - 2);
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // numpy pads the header with spaces and a final '\n' so that the data starts at a multiple
  // of 64 bytes (aligned for memory mapping).
  const std::size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.reserve(out.size() + 4 * a.data.size());
  for (const float f : a.data) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    for (int i = 0; i < 4; ++i) out += char((u >> (8 * i)) & 0xff);  // little-endian anywhere
  }
  write_file_atomic(path, out);
}

}  // namespace nc
