// The ODD1 sample file (oddity_file.h).
#include "neurocore/data/oddity_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::data::oddity {

namespace {

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 32 && c < 127) {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

}  // namespace

int64_t write_odd1(const std::string& path, const OddityOptions& options, Split split, int64_t limit) {
  const SplitExtent e = split_extent(options, split, limit);
  const auto side = static_cast<uint64_t>(options.resolution);
  write_atomic_with(path, [&](const std::string& tmp) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), std::fclose);
    if (!f) throw UserError(path + ": cannot open for writing (is the directory writable?)");
    std::string head = "ODD1";
    put_le(head, 1, 4);
    put_le(head, static_cast<uint64_t>(e.count), 4);
    put_le(head, side, 2);
    put_le(head, side, 2);
    put_le(head, kPanels, 1);
    bool ok = std::fwrite(head.data(), 1, head.size(), f.get()) == head.size();
    // One sample at a time: a whole training split at 100 x 100 is 2 GB.
    for (int64_t i = 0; ok && i < e.count; ++i) {
      const Sample s = split_sample(e.riddle, split, i, options);
      const uint8_t tag[2] = {static_cast<uint8_t>(s.riddle), static_cast<uint8_t>(s.label)};
      ok = std::fwrite(tag, 1, 2, f.get()) == 2 &&
           std::fwrite(s.pixels.data(), 1, s.pixels.size(), f.get()) == s.pixels.size();
    }
    if (!ok || std::fflush(f.get()) != 0) throw UserError(path + ": write failed (disk full?)");
  });
  return e.count;
}

namespace {

// Checks the header `b` (at least its first 17 bytes) of a file of `size` bytes.
Odd1Header check_header(const std::string& path, const std::string& b, uint64_t size) {
  if (b.size() < static_cast<size_t>(kOdd1HeaderBytes)) {
    throw UserError(path + ": truncated ODD1 header: " + std::to_string(b.size()) + " bytes, expected at least " +
                    std::to_string(kOdd1HeaderBytes));
  }
  if (b.compare(0, 4, "ODD1") != 0) {
    throw UserError(path + ": not an ODD1 file: first bytes '" + printable(b.substr(0, 4)) + "', expected 'ODD1'");
  }
  const uint64_t version = get_le(b, 4, 4), count = get_le(b, 8, 4);
  const auto h = static_cast<int>(get_le(b, 12, 2)), w = static_cast<int>(get_le(b, 14, 2));
  const auto frames = static_cast<int>(get_le(b, 16, 1));
  if (version != 1) throw UserError(path + ": ODD1 version " + std::to_string(version) + ", expected 1");
  if (frames != kPanels) {
    throw UserError(path + ": ODD1 frames per sample " + std::to_string(frames) + ", expected " + std::to_string(kPanels));
  }
  if (h == 0 || w == 0) {
    throw UserError(path + ": ODD1 panel size " + std::to_string(h) + " x " + std::to_string(w) + ", expected >= 1 x 1");
  }
  const uint64_t record = 2 + static_cast<uint64_t>(kPanels) * h * w;
  // Compared by division: 17 + count * record can overflow for a corrupt header.
  const uint64_t have = size - kOdd1HeaderBytes;
  if (have % record != 0 || have / record != count) {
    throw UserError(path + ": ODD1 file of " + std::to_string(size) + " bytes, expected 17 + " +
                    std::to_string(count) + " samples x " + std::to_string(record) + " bytes (panels " +
                    std::to_string(h) + " x " + std::to_string(w) + "): " +
                    (have / record < count ? "truncated" : "trailing bytes"));
  }
  return {static_cast<int64_t>(count), h, w};
}

}  // namespace

Odd1Header read_odd1_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot open the ODD1 file (does it exist and is it readable?)");
  std::string head(static_cast<size_t>(kOdd1HeaderBytes), '\0');
  in.read(head.data(), kOdd1HeaderBytes);
  head.resize(static_cast<size_t>(in.gcount()));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw UserError(path + ": cannot read the ODD1 file's size (" + ec.message() + ")");
  return check_header(path, head, size);
}

StoredSamples read_odd1(const std::string& path) {
  const std::string b = read_file(path);
  const Odd1Header head = check_header(path, b, b.size());
  const uint64_t count = static_cast<uint64_t>(head.count);
  const int h = head.height, w = head.width;
  const uint64_t pixels = static_cast<uint64_t>(kPanels) * h * w, record = 2 + pixels;
  StoredSamples out;
  out.height = h;
  out.width = w;
  out.riddles.resize(count);
  out.labels.resize(count);
  out.pixels.resize(count * pixels);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = kOdd1HeaderBytes + i * record;
    const auto riddle = static_cast<uint8_t>(b[at]), label = static_cast<uint8_t>(b[at + 1]);
    if (riddle >= kRiddles) {
      throw UserError(path + ": sample " + std::to_string(i) + ": riddle id " + std::to_string(riddle) +
                      ", expected 0.." + std::to_string(kRiddles - 1));
    }
    if (label >= kPanels) {
      throw UserError(path + ": sample " + std::to_string(i) + ": label " + std::to_string(label) + ", expected 0.." +
                      std::to_string(kPanels - 1));
    }
    out.riddles[i] = riddle;
    out.labels[i] = label;
    std::copy(b.begin() + static_cast<std::ptrdiff_t>(at + 2), b.begin() + static_cast<std::ptrdiff_t>(at + record),
              out.pixels.begin() + static_cast<std::ptrdiff_t>(i * pixels));
  }
  return out;
}

}  // namespace nc::data::oddity
