// The oddity riddles as LibTorch data (oddity_set.h).
#include "neurocore/data/oddity_set.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cstring>

namespace nc::data {

torch::Tensor oddity_riddle_ids(const oddity::OddityOptions& options, oddity::Split split, int64_t limit) {
  const auto [riddle, n] = oddity::split_extent(options, split, limit);
  auto ids = torch::empty({n}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) ids[i] = oddity::split_riddle(riddle, split, i, options);
  return ids;
}

Dataset oddity_dataset(const oddity::OddityOptions& options, oddity::Split split, int64_t limit) {
  using namespace oddity;
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
  Dataset d;
  const char* names[] = {"valid", "train", "test"};
  d.name = "oddity" + (single ? "-" + riddle_name(riddle) : std::string()) + "-" +
           names[static_cast<int>(split)];
  d.images = bytes.to(torch::kFloat32).div_(255.0);
  d.labels = labels;
  d.num_classes = kPanels;
  return d;
}

}  // namespace nc::data
