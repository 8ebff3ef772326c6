#pragma once
// An in-memory labelled image set: the unit every data source in nc::data produces.
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace nc::data {

/// A labelled image set held in memory.
struct Dataset {
  std::string name;
  torch::Tensor images;  ///< [N, C, H, W] float32 in [0,1] (C = 1, H = W = 28 for the MNIST family)
  torch::Tensor labels;  ///< [N] int64 in [0, num_classes)
  int64_t num_classes = 10;

  /// N, the number of examples (0 when `images` is undefined).
  int64_t size() const;

  /// The first `limit` examples, as views sharing storage with this set (like
  /// torch::Tensor::narrow). `limit <= 0` or `limit >= size()`: all examples.
  Dataset head(int64_t limit) const;
};

}  // namespace nc::data
