#pragma once
// Running a compiled model on a user's own inputs (docs/cm.md, "neurocore simulate"): arrays
// split into samples of the graph's input, streamed through the functional simulator, and the
// top classes of each output.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/functional.h"

namespace nc::cm {

/// The samples held by one array of shape `shape` for a graph whose single input is `input`:
/// the shape is the input's (one sample), or [N, ...input] (N samples), or has the input's
/// element count (one sample, e.g. a [28, 28] image for a [1, 28, 28] input), or [N, ...] with
/// that count per sample (an IDX file of N 28x28 images). Throws UserError naming `origin`,
/// the shape seen and the shape expected otherwise, or for an empty array.
std::vector<std::vector<float>> split_samples(const Shape& input, const std::vector<int64_t>& shape,
                                              const std::vector<float>& data, const std::string& origin);

struct TopClass {
  int64_t index = 0;
  float value = 0;
};

/// The `k` largest entries of `output` (ties: the lower index first), largest first.
std::vector<TopClass> top_k(const std::vector<float>& output, int64_t k);

/// Streams `frames` (one per sample of a static graph; T per sample of a temporal graph, each
/// sample's frames in order) through the functional simulator of `c` with `analog`; returns one
/// output per sample (a temporal graph's outputs summed over its T steps, as the accuracy
/// evaluation counts them). Throws the simulator's UserErrors.
std::vector<std::vector<float>> simulate_samples(const Compiled& c, const std::vector<std::vector<float>>& frames,
                                                 const AnalogOptions& analog);

}  // namespace nc::cm
