// nc_array_io: reading npy / PNG / PGM-PPM / IDX input files and writing npy results.
// Every file is written here, byte by byte (or with libpng and zlib), with known values.
#include "neurocore/core/array_file.h"

#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "neurocore/core/error.h"

namespace nc {
namespace {

namespace fs = std::filesystem;

class ArrayFile : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("nc_array_file_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }

  std::string write_gz(const std::string& name, const std::string& bytes) const {
    gzFile gz = gzopen(path(name).c_str(), "wb");
    EXPECT_NE(gz, nullptr);
    EXPECT_EQ(gzwrite(gz, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    gzclose(gz);
    return path(name);
  }

  fs::path dir_;
};

std::string le(uint64_t v, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
  return s;
}

std::string be(uint64_t v, int n) {
  std::string s;
  for (int i = n - 1; i >= 0; --i) s += char((v >> (8 * i)) & 0xff);
  return s;
}

template <typename T>
uint64_t bits_of(T v) {
  uint64_t u = 0;
  std::memcpy(&u, &v, sizeof v);
  return u;
}

// An .npy file as numpy writes it: magic, version, header length, dict, data.
std::string npy(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const std::size_t preamble = major == 1 ? 10 : 12;
  header += std::string(63 - (preamble + header.size()) % 64, ' ') + "\n";
  std::string s = "\x93NUMPY";
  s += char(major);
  s += char(0);
  s += le(header.size(), major == 1 ? 2 : 4);
  return s + header + data;
}

std::string npy_dict(const std::string& descr, const std::string& shape,
                     const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

float scaled(double v, double max) { return float(v / max); }

// Checks that reading `file` throws UserError whose message holds the file name and each of
// `parts`.
void expect_user_error(const std::string& file, std::initializer_list<const char*> parts) {
  try {
    read_array(file);
    ADD_FAILURE() << file << ": no UserError";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' in " << msg;
  }
}

// Every strict prefix of a valid binary file is a UserError, never a crash or a result.
void expect_prefixes_fail(const std::string& file, const std::string& bytes,
                          const std::string& cut) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, n);
    EXPECT_THROW(read_array(cut), UserError) << file << " cut to " << n << " bytes";
  }
}

// ---------------------------------------------------------------------------------------------
// npy

TEST_F(ArrayFile, NpyRoundTripKeepsShapeAndValues) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {5}, {2, 3}, {2, 3, 4}, {1, 1, 1, 7}, {0, 3}};
  for (const auto& shape : shapes) {
    FloatArray a{shape, {}};
    for (int64_t i = 0; i < numel(shape); ++i) a.data.push_back(float(i) * 0.37f - 3.0f);
    if (!a.data.empty()) a.data[0] = std::numeric_limits<float>::infinity();
    const std::string file = path("a.npy");
    write_npy(file, a);
    const FloatArray b = read_array(file);
    EXPECT_EQ(b.shape, a.shape);
    EXPECT_EQ(b.data, a.data);
    // numpy's layout: data aligned at 64 bytes, exactly 4 bytes per element.
    const auto size = fs::file_size(file);
    EXPECT_EQ((size - 4 * a.data.size()) % 64, 0u);
  }
  // Atomic write: nothing but the target is left in the folder.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(ArrayFile, NpyHeaderIsWhatNumpyWrites) {
  write_npy(path("a.npy"), FloatArray{{3}, {1, 2, 3}});
  std::ifstream in(path("a.npy"), std::ios::binary);
  const std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(s.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_NE(s.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), std::string::npos);
  const std::size_t data_at = s.size() - 12;
  EXPECT_EQ(data_at % 64, 0u);
  EXPECT_EQ(s[data_at - 1], '\n');
  EXPECT_EQ(s.substr(data_at), le(bits_of(1.0f), 4) + le(bits_of(2.0f), 4) + le(bits_of(3.0f), 4));
}

TEST_F(ArrayFile, WriteNpyRejectsInconsistentArray) {
  EXPECT_THROW(write_npy(path("a.npy"), FloatArray{{2, 2}, {1, 2, 3}}), InternalError);
  EXPECT_FALSE(fs::exists(path("a.npy")));
}

TEST_F(ArrayFile, NpyFloat64) {
  const std::string data = le(bits_of(0.5), 8) + le(bits_of(-1.25), 8) + le(bits_of(1e10), 8) +
                           le(bits_of(0.1), 8);
  const FloatArray a = read_array(write("f8.npy", npy(npy_dict("<f8", "(2, 2)"), data)));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{0.5f, -1.25f, 1e10f, float(0.1)}));
}

TEST_F(ArrayFile, NpyUint8NotScaled) {
  const FloatArray a = read_array(write("u1.npy", npy(npy_dict("|u1", "(3,)"), std::string("\x00\x7f\xff", 3))));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.data, (std::vector<float>{0, 127, 255}));
}

TEST_F(ArrayFile, NpyInt64Int32Bool) {
  const std::string i8 = le(uint64_t(-3), 8) + le(0, 8) + le(1 << 20, 8);
  FloatArray a = read_array(write("i8.npy", npy(npy_dict("<i8", "(1, 3)"), i8)));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(a.data, (std::vector<float>{-3, 0, 1 << 20}));
  a = read_array(write("i4.npy", npy(npy_dict("<i4", "(2,)"), le(uint32_t(-7), 4) + le(9, 4))));
  EXPECT_EQ(a.data, (std::vector<float>{-7, 9}));
  a = read_array(write("b1.npy", npy(npy_dict("|b1", "(3,)"), std::string("\x01\x00\x01", 3))));
  EXPECT_EQ(a.data, (std::vector<float>{1, 0, 1}));
}

TEST_F(ArrayFile, NpyVersions2And3AndScalar) {
  for (int major : {2, 3}) {
    const FloatArray a = read_array(
        write("v.npy", npy(npy_dict("<f4", "(2,)"), le(bits_of(1.5f), 4) + le(bits_of(-2.f), 4), major)));
    EXPECT_EQ(a.data, (std::vector<float>{1.5f, -2.f})) << "version " << major;
  }
  const FloatArray s = read_array(write("s.npy", npy(npy_dict("<f4", "()"), le(bits_of(4.f), 4))));
  EXPECT_TRUE(s.shape.empty());
  EXPECT_EQ(s.data, (std::vector<float>{4.f}));
}

TEST_F(ArrayFile, NpyErrors) {
  const std::string good = npy(npy_dict("<f4", "(2, 3)"), std::string(24, '\0'));
  expect_user_error(write("short.npy", good.substr(0, good.size() - 1)),
                    {"truncated", "6 elements of 4 bytes", "23 bytes"});
  expect_user_error(write("long.npy", good + "x"), {"inconsistent", "25 bytes"});
  expect_user_error(write("cut_header.npy", good.substr(0, 40)), {"truncated", "header"});
  expect_user_error(write("f.npy", npy(npy_dict("<f4", "(2, 3)", "True"), std::string(24, '\0'))),
                    {"Fortran order", "expected C order"});
  expect_user_error(write("be.npy", npy(npy_dict(">f4", "(2, 3)"), std::string(24, '\0'))),
                    {"'>f4'", "big-endian", "expected a little-endian"});
  expect_user_error(write("o.npy", npy(npy_dict("|O", "(2,)"), std::string(16, '\0'))),
                    {"'|O'", "objects"});
  expect_user_error(write("c.npy", npy(npy_dict("<c8", "(1,)"), std::string(8, '\0'))),
                    {"'<c8'", "expected"});
  expect_user_error(write("v9.npy", "\x93NUMPY\x09" + std::string(60, ' ')), {"version 9", "1.0"});
  expect_user_error(write("noshape.npy", npy("{'descr': '<f4', 'fortran_order': False}", "")),
                    {"no 'shape' key"});
  expect_user_error(write("neg.npy", npy(npy_dict("<f4", "(-1,)"), "")), {"'shape' holds '-'"});
  expect_user_error(write("huge.npy", npy(npy_dict("<f4", "(99999999999, 99999999999)"), "")),
                    {"more elements"});
  expect_user_error(write("notnpy.npy", "hello world"), {"not a NumPy", "68 65 6c 6c 6f"});
  expect_prefixes_fail("npy", good, path("prefix.npy"));
}

// ---------------------------------------------------------------------------------------------
// PNG, written here with libpng's simplified API

std::string write_png(const std::string& file, png_uint_32 format, png_uint_32 w, png_uint_32 h,
                      const void* pixels, const void* colormap = nullptr, int entries = 0) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.format = format;
  image.width = w;
  image.height = h;
  image.colormap_entries = png_uint_32(entries);
  EXPECT_NE(png_image_write_to_file(&image, file.c_str(), 0, pixels, 0, colormap), 0)
      << image.message;
  return file;
}

TEST_F(ArrayFile, PngGray8) {
  const uint8_t px[2 * 3] = {0, 1, 2, 128, 254, 255};  // 2 rows, 3 columns
  const FloatArray a = read_array(write_png(path("g.png"), PNG_FORMAT_GRAY, 3, 2, px));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2, 3}));
  std::vector<float> want;
  for (uint8_t v : px) want.push_back(scaled(v, 255));
  EXPECT_EQ(a.data, want);
}

TEST_F(ArrayFile, PngRgbIsPlanarChw) {
  // 1 row, 2 pixels: (10, 20, 30), (40, 50, 60).
  const uint8_t px[6] = {10, 20, 30, 40, 50, 60};
  const FloatArray a = read_array(write_png(path("rgb.png"), PNG_FORMAT_RGB, 2, 1, px));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1, 2}));
  const std::vector<float> want = {scaled(10, 255), scaled(40, 255), scaled(20, 255),
                                   scaled(50, 255), scaled(30, 255), scaled(60, 255)};
  EXPECT_EQ(a.data, want);
}

TEST_F(ArrayFile, PngAlphaDropped) {
  const uint8_t rgba[8] = {10, 20, 30, 255, 40, 50, 60, 255};
  FloatArray a = read_array(write_png(path("rgba.png"), PNG_FORMAT_RGBA, 2, 1, rgba));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(a.data[0], scaled(10, 255));
  EXPECT_EQ(a.data[5], scaled(60, 255));
  const uint8_t ga[4] = {7, 255, 200, 255};
  a = read_array(write_png(path("ga.png"), PNG_FORMAT_GA, 2, 1, ga));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 1, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{scaled(7, 255), scaled(200, 255)}));
}

TEST_F(ArrayFile, PngPaletteExpandedToRgb) {
  const uint8_t map[2 * 3] = {255, 0, 0, 0, 100, 200};
  const uint8_t idx[3] = {1, 0, 1};
  const FloatArray a =
      read_array(write_png(path("p.png"), PNG_FORMAT_RGB_COLORMAP, 3, 1, idx, map, 2));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1, 3}));
  const std::vector<float> want = {0, 1, 0, scaled(100, 255), 0, scaled(100, 255),
                                   scaled(200, 255), 0, scaled(200, 255)};
  EXPECT_EQ(a.data, want);
  // A palette with transparency (tRNS) gains alpha on expansion; it is dropped too.
  const uint8_t map_a[2 * 4] = {255, 0, 0, 128, 0, 100, 200, 255};
  const FloatArray b =
      read_array(write_png(path("pa.png"), PNG_FORMAT_RGBA_COLORMAP, 3, 1, idx, map_a, 2));
  EXPECT_EQ(b.shape, (std::vector<int64_t>{3, 1, 3}));
}

TEST_F(ArrayFile, PngGray16) {
  // Linear 16-bit gray: written as 16-bit samples, read back as v / 65535.
  const uint16_t px[3] = {0, 1000, 65535};
  const FloatArray a = read_array(write_png(path("g16.png"), PNG_FORMAT_LINEAR_Y, 3, 1, px));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 1, 3}));
  EXPECT_EQ(a.data, (std::vector<float>{0, scaled(1000, 65535), 1}));
}

TEST_F(ArrayFile, PngErrors) {
  const uint8_t px[16 * 16] = {};
  const std::string file = write_png(path("g.png"), PNG_FORMAT_GRAY, 16, 16, px);
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  expect_user_error(write("cut.png", bytes.substr(0, bytes.size() / 2)),
                    {"corrupt or truncated PNG", "libpng"});
  std::string bad_crc = bytes;
  bad_crc[20] ^= 0x40;  // inside IHDR: its CRC no longer matches
  expect_user_error(write("crc.png", bad_crc), {"corrupt or truncated PNG"});
  expect_user_error(write("fake.png", "GIF89a......"), {"not a PNG", "47 49 46"});
  expect_prefixes_fail("png", bytes, path("prefix.png"));
}

// ---------------------------------------------------------------------------------------------
// PGM / PPM

TEST_F(ArrayFile, PgmP5WithComments) {
  const std::string f = write("a.pgm", std::string("P5\n# made by hand\n3 2 # w h\n255\n") +
                                           std::string("\x00\x10\x20\x80\xfe\xff", 6));
  const FloatArray a = read_array(f);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2, 3}));
  const std::vector<float> want = {0, scaled(16, 255), scaled(32, 255), scaled(128, 255),
                                   scaled(254, 255), 1};
  EXPECT_EQ(a.data, want);
}

TEST_F(ArrayFile, PgmP2AndSixteenBitP5) {
  FloatArray a = read_array(write("a.pgm", "P2\n2 2\n# c\n15\n0 5\n10 15\n"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{0, scaled(5, 15), scaled(10, 15), 1}));
  a = read_array(write("b.pgm", "P5 2 1 1000\n" + be(999, 2) + be(1000, 2)));
  EXPECT_EQ(a.data, (std::vector<float>{scaled(999, 1000), 1}));
}

TEST_F(ArrayFile, PpmP6AndP3ArePlanar) {
  FloatArray a = read_array(write("a.ppm", "P6\n2 1\n255\n" + std::string("\x0a\x14\x1e\x28\x32\x3c")));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 1, 2}));
  const std::vector<float> want = {scaled(10, 255), scaled(40, 255), scaled(20, 255),
                                   scaled(50, 255), scaled(30, 255), scaled(60, 255)};
  EXPECT_EQ(a.data, want);
  a = read_array(write("b.ppm", "P3 2 1 255 10 20 30 40 50 60\n"));
  EXPECT_EQ(a.data, want);
}

TEST_F(ArrayFile, PnmErrors) {
  expect_user_error(write("m0.pgm", "P5 2 2 0\n\x01\x02\x03\x04"), {"maxval 0", "[1, 65535]"});
  expect_user_error(write("big.pgm", "P5 2 2 70000\n"), {"maxval > 65535"});
  expect_user_error(write("letters.pgm", "P5 two 2 255\n"), {"bad Netpbm header", "'t'", "width"});
  expect_user_error(write("noh.pgm", "P5 2 2"), {"truncated", "maxval"});
  expect_user_error(write("short.pgm", "P5 2 2 255\n\x01\x02\x03"), {"truncated", "4 elements"});
  expect_user_error(write("over.pgm", "P2 2 1 10 3 11\n"), {"sample 1 > 10"});
  expect_user_error(write("overraw.pgm", "P5 1 1 1000\n" + be(1001, 2)), {"sample 1001"});
  expect_user_error(write("few.pgm", "P2 2 2 10 1 2 3\n"), {"truncated"});
  expect_user_error(write("pbm.pbm", "P4 8 1\n\xff"), {"P4 is not supported", "P2 or P5"});
  expect_user_error(write("bad.pgm", "not an image"), {"not a PGM/PPM"});
  const std::string p5 = "P5 3 2 65535\n" + std::string(12, '\x07');
  expect_prefixes_fail("pgm", p5, path("prefix.pgm"));
}

// ---------------------------------------------------------------------------------------------
// IDX

std::string idx_ubyte() {
  // 2 images of 2x2, as MNIST stores them.
  return std::string("\x00\x00\x08\x03", 4) + be(2, 4) + be(2, 4) + be(2, 4) +
         std::string("\x00\x01\x7f\xff\x10\x20\x30\x40", 8);
}

std::vector<float> idx_ubyte_values() {
  std::vector<float> v;
  for (int b : {0, 1, 127, 255, 16, 32, 48, 64}) v.push_back(scaled(b, 255));
  return v;
}

TEST_F(ArrayFile, IdxUbytePlainAndGzipScaled) {
  for (const std::string& f :
       {write("images-idx3-ubyte", idx_ubyte()), write_gz("images-idx3-ubyte.gz", idx_ubyte())}) {
    const FloatArray a = read_array(f);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2, 2})) << f;
    EXPECT_EQ(a.data, idx_ubyte_values()) << f;
  }
}

TEST_F(ArrayFile, IdxOtherTypesNotScaled) {
  FloatArray a = read_array(write("s.idx", std::string("\x00\x00\x09\x01", 4) + be(3, 4) + "\xff\x01\x80"));
  EXPECT_EQ(a.data, (std::vector<float>{-1, 1, -128}));
  a = read_array(write("h.idx", std::string("\x00\x00\x0b\x01", 4) + be(2, 4) + be(uint16_t(-300), 2) + be(300, 2)));
  EXPECT_EQ(a.data, (std::vector<float>{-300, 300}));
  a = read_array(write("i.idx", std::string("\x00\x00\x0c\x02", 4) + be(1, 4) + be(2, 4) +
                                    be(uint32_t(-70000), 4) + be(5, 4)));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{-70000, 5}));
  a = read_array(write("f.idx", std::string("\x00\x00\x0d\x01", 4) + be(1, 4) + be(bits_of(-2.5f), 4)));
  EXPECT_EQ(a.data, (std::vector<float>{-2.5f}));
  a = read_array(write("d.idx", std::string("\x00\x00\x0e\x01", 4) + be(1, 4) + be(bits_of(0.1), 8)));
  EXPECT_EQ(a.data, (std::vector<float>{float(0.1)}));
}

TEST_F(ArrayFile, IdxErrors) {
  const std::string good = idx_ubyte();
  expect_user_error(write("short-idx3-ubyte", good.substr(0, good.size() - 2)),
                    {"truncated IDX", "8 elements", "6 bytes"});
  expect_user_error(write("hdr-idx3-ubyte", good.substr(0, 10)), {"truncated IDX", "16 bytes"});
  expect_user_error(write_gz("cut-idx3-ubyte.gz", good.substr(0, good.size() - 1)), {"truncated IDX"});
  std::string gz_bytes;
  {
    const std::string f = write_gz("ok.gz", good);
    std::ifstream in(f, std::ios::binary);
    gz_bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  expect_user_error(write("broken-idx3-ubyte.gz", gz_bytes.substr(0, gz_bytes.size() - 10)),
                    {"corrupt or truncated gzip"});
  expect_user_error(write_gz("text.gz", "hello"), {"gzip file", "expected a gzip-compressed IDX"});
  expect_user_error(write("bad.idx", "\x01\x02\x03\x04"), {"not an IDX file", "01 02 03 04"});
  expect_prefixes_fail("idx", good, path("prefix-idx3-ubyte"));
  expect_prefixes_fail("idx.gz", gz_bytes, path("prefix-idx3-ubyte.gz"));
}

// ---------------------------------------------------------------------------------------------
// Dispatch

TEST_F(ArrayFile, MagicWinsOverExtension) {
  // A PGM named .npy is read as the PGM it is.
  const FloatArray a = read_array(write("image.npy", "P2 1 1 4 2\n"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(a.data, (std::vector<float>{0.5f}));
}

TEST_F(ArrayFile, UnknownFormatListsAcceptedOnes) {
  expect_user_error(write("data.csv", "1,2,3\n"),
                    {"unknown file format", "31 2c 32", "NumPy .npy", "PNG", "PGM/PPM", "IDX"});
  expect_user_error(write("empty.bin", ""), {"unknown file format", "empty file"});
  expect_user_error(path("missing.npy"), {"not found"});
  expect_user_error(dir_.string(), {"is a folder"});
}

}  // namespace
}  // namespace nc
