// The oddity riddles as LibTorch data (oddity_set.h).
#include "neurocore/data/oddity_set.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/data/oddity_file.h"

namespace nc::data {

namespace {

// A split read from its ODD1 file: the samples of options.riddles (all when empty), in file
// order, the first `limit` (0 = all).
struct FileSplit {
  torch::Tensor bytes, labels, ids;
};

FileSplit read_file_split(const oddity::OddityOptions& options, oddity::Split split, int64_t limit) {
  options.validate();
  const std::string& path = options.file(split);
  const oddity::StoredSamples s = oddity::read_odd1(path);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < s.count() && (limit <= 0 || static_cast<int64_t>(keep.size()) < limit); ++i) {
    const auto& r = options.riddles;
    if (r.empty() || std::find(r.begin(), r.end(), s.riddles[i]) != r.end()) keep.push_back(i);
  }
  if (keep.empty()) {
    throw UserError(path + ": no sample of the riddles data.oddity.riddles selects (the file holds " +
                    std::to_string(s.count()) + " samples)");
  }
  const int64_t n = static_cast<int64_t>(keep.size()), r = options.resolution, pixels = oddity::kPanels * r * r;
  FileSplit out{torch::empty({n, oddity::kPanels, r, r}, torch::kUInt8), torch::empty({n}, torch::kInt64),
                torch::empty({n}, torch::kInt64)};
  for (int64_t j = 0; j < n; ++j) {
    std::memcpy(out.bytes.data_ptr<uint8_t>() + j * pixels, s.pixels.data() + keep[j] * pixels,
                static_cast<size_t>(pixels));
    out.labels[j] = static_cast<int64_t>(s.labels[keep[j]]);
    out.ids[j] = static_cast<int64_t>(s.riddles[keep[j]]);
  }
  return out;
}

Dataset as_dataset(std::string name, const torch::Tensor& bytes, torch::Tensor labels) {
  Dataset d;
  d.name = std::move(name);
  d.images = bytes.to(torch::kFloat32).div_(255.0);
  d.labels = std::move(labels);
  d.num_classes = oddity::kPanels;
  return d;
}

}  // namespace

torch::Tensor oddity_riddle_ids(const oddity::OddityOptions& options, oddity::Split split, int64_t limit) {
  if (!options.file(split).empty()) return read_file_split(options, split, limit).ids;
  const auto [riddle, n] = oddity::split_extent(options, split, limit);
  auto ids = torch::empty({n}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) ids[i] = oddity::split_riddle(riddle, split, i, options);
  return ids;
}

Dataset oddity_dataset(const oddity::OddityOptions& options, oddity::Split split, int64_t limit) {
  using namespace oddity;
  if (!options.file(split).empty()) {
    auto f = read_file_split(options, split, limit);
    return as_dataset("oddity-" + std::filesystem::path(options.file(split)).stem().string(), f.bytes, f.labels);
  }
  const auto [riddle, n] = oddity::split_extent(options, split, limit);
  const bool single = riddle != kCombined;
  const int64_t r = options.resolution, pixels = kPanels * r * r;
  auto bytes = torch::empty({n, kPanels, r, r}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  uint8_t* dst = bytes.data_ptr<uint8_t>();
  int64_t* lab = labels.data_ptr<int64_t>();
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Sample s = split_sample(riddle, split, i, options);
      std::memcpy(dst + i * pixels, s.pixels.data(), static_cast<size_t>(pixels));
      lab[i] = s.label;
    }
  });
  return as_dataset("oddity" + (single ? "-" + riddle_name(riddle) : std::string()) + "-" + oddity::split_name(split),
                    bytes, labels);
}

}  // namespace nc::data
