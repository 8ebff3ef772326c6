#include "neurocore/data/idx.h"

#include <torch/torch.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

#include "neurocore/core/error.h"

namespace nc::data {

namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t big_endian32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

bool is_gzip(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw UserError(path + ": cannot open IDX file: " + std::strerror(errno));
  unsigned char magic[2] = {0, 0};
  const auto n = std::fread(magic, 1, 2, f);
  std::fclose(f);
  return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

// The whole file, plain.
std::vector<uint8_t> read_plain(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw UserError(path + ": cannot open IDX file: " + std::strerror(errno));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::vector<uint8_t> buf(ec ? 0 : size);
  const auto n = std::fread(buf.data(), 1, buf.size(), f.get());
  if (n != buf.size()) throw UserError(path + ": read error after " + std::to_string(n) + " bytes");
  return buf;
}

// The whole decompressed stream of a gzip file.
std::vector<uint8_t> read_gzip(const std::string& path) {
  // The gzip trailer holds the uncompressed size modulo 2^32: a good capacity hint, unless
  // the file is damaged; deflate cannot expand more than 1032:1, which bounds it.
  std::size_t hint = 0;
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                     &std::fclose);
    unsigned char t[4];
    if (f && std::fseek(f.get(), -4, SEEK_END) == 0 && std::fread(t, 1, 4, f.get()) == 4) {
      const long compressed = std::ftell(f.get());
      hint = std::size_t(t[0]) | (std::size_t(t[1]) << 8) | (std::size_t(t[2]) << 16) |
             (std::size_t(t[3]) << 24);
      hint = std::min<std::size_t>(hint, std::size_t(std::max(compressed, 0L)) * 1032);
    }
  }
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), &gzclose);
  if (!gz) throw UserError(path + ": cannot open gzip file: " + std::strerror(errno));
  gzbuffer(gz.get(), 1 << 20);
  std::vector<uint8_t> buf;
  buf.resize(hint + 1);  // + 1: the read that finds the end needs room
  std::size_t used = 0;
  for (;;) {
    if (used == buf.size()) buf.resize(buf.size() * 2);
    const auto want = static_cast<unsigned>(std::min<std::size_t>(buf.size() - used, 1u << 30));
    const int n = gzread(gz.get(), buf.data() + used, want);
    // A clean end of stream is n == 0 with no error; a damaged one reports an error, a cut one
    // Z_BUF_ERROR ("unexpected end of file").
    int err = Z_OK;
    std::string msg = n <= 0 ? gzerror(gz.get(), &err) : "";
    if (n < 0 || err != Z_OK) {
      if (msg.rfind(path + ": ", 0) == 0) msg.erase(0, path.size() + 2);  // zlib prefixes the path
      throw UserError(path + ": corrupt or truncated gzip stream (" +
                      (msg.empty() ? "unknown zlib error" : msg) + ") after " +
                      std::to_string(used) + " decompressed bytes; expected a valid gzip file");
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  buf.resize(used);
  return buf;
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(path + ": IDX file not found");
  if (std::filesystem::is_directory(path, ec)) {
    throw UserError(path + ": is a folder, expected an IDX file");
  }
  auto bytes = std::make_unique<std::vector<uint8_t>>(is_gzip(path) ? read_gzip(path)
                                                                    : read_plain(path));
  const auto& b = *bytes;
  if (b.size() < 4) {
    throw UserError(path + ": truncated IDX file: " + std::to_string(b.size()) +
                    " bytes, expected at least a 4-byte magic number");
  }
  const uint32_t magic = big_endian32(b.data());
  const int ndims = b[3];
  if (b[0] != 0 || b[1] != 0 || b[2] != 0x08 || ndims == 0) {
    throw UserError(path + ": not an unsigned-byte IDX file: magic number " + hex32(magic) +
                    ", expected 0x000008NN with NN the number of dimensions (0x00000803 for "
                    "images, 0x00000801 for labels)");
  }
  const std::size_t header = 4 + 4 * std::size_t(ndims);
  if (b.size() < header) {
    throw UserError(path + ": truncated IDX file: the header of a " + std::to_string(ndims) +
                    "-dimensional file needs " + std::to_string(header) + " bytes, found " +
                    std::to_string(b.size()));
  }
  // The data size is the product of the sizes; a corrupt header can announce more than
  // size_t holds, so stop multiplying before it overflows.
  const std::size_t available = b.size() - header;
  std::vector<int64_t> sizes;
  std::size_t count = 1;
  bool too_many = false, empty = false;
  std::string shape;
  for (int d = 0; d < ndims; ++d) {
    const uint32_t s = big_endian32(b.data() + 4 + 4 * d);
    sizes.push_back(s);
    shape += (d ? "*" : "") + std::to_string(s);
    if (s == 0) {
      empty = true;
    } else if (!too_many && count > std::numeric_limits<std::size_t>::max() / s) {
      too_many = true;
    } else if (!too_many) {
      count *= s;
    }
  }
  if (empty) count = 0, too_many = false;
  if (too_many || count > available) {
    throw UserError(path + ": truncated IDX file: the header says " + shape +
                    (too_many || ndims == 1 ? std::string() : " = " + std::to_string(count)) +
                    " bytes of data, found " + std::to_string(available));
  }
  uint8_t* data = bytes->data() + header;
  auto* owner = bytes.release();
  return torch::from_blob(
      data, sizes, [owner](void*) { delete owner; }, torch::kUInt8);
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path,
                         const std::string& name) {
  const auto images = read_idx(images_path);
  if (images.dim() != 3) {
    throw UserError(images_path + ": not an IDX image file: magic number " +
                    hex32(0x0800u + uint32_t(images.dim())) + ", expected 0x00000803 (count, rows, cols)");
  }
  const auto labels = read_idx(labels_path);
  if (labels.dim() != 1) {
    throw UserError(labels_path + ": not an IDX label file: magic number " +
                    hex32(0x0800u + uint32_t(labels.dim())) + ", expected 0x00000801 (count)");
  }
  if (labels.size(0) != images.size(0)) {
    throw UserError(labels_path + ": holds " + std::to_string(labels.size(0)) +
                    " labels, expected " + std::to_string(images.size(0)) + " (the image count of " +
                    images_path + ")");
  }
  Dataset d;
  d.name = name;
  d.num_classes = 10;
  if (labels.numel() > 0) {
    const auto max = labels.max();
    if (max.item<uint8_t>() >= d.num_classes) {
      const int64_t at = labels.argmax().item<int64_t>();
      throw UserError(labels_path + ": label " + std::to_string(int(max.item<uint8_t>())) +
                      " at index " + std::to_string(at) + ", expected a class in [0, " +
                      std::to_string(d.num_classes - 1) + "]");
    }
  }
  d.images = images.unsqueeze(1).to(torch::kFloat32).div_(255.0f);
  d.labels = labels.to(torch::kInt64);
  return d;
}

}  // namespace nc::data
