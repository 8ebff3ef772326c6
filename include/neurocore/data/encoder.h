#pragma once
// Spike coding of static inputs (specs/snu.md §5): a pixel intensity p in [0,1] becomes a
// train of T binary (or, for direct coding, analogue) inputs.
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "neurocore/core/config.h"

namespace nc::data {

/// How encode() turns intensities into input sequences.
struct EncoderOptions {
  /// rate    Bernoulli rate coding [ref-code]: at each step t independently,
  ///         x_t = 1 with probability P = min(1, p * gain / T), else 0.
  /// latency one spike per pixel with p > 0, at step t = round((1 - p) (T - 1)) (brighter =
  ///         earlier; round half to even), none for p = 0 [recon].
  /// direct  x_t = p at every step [recon].
  /// frames  the input is already a sequence: x [B, K, H, W] becomes [K, B, 1, H, W] (frame k
  ///         at step k: OMNIST videos with data.omnist.sequences); steps and gain are ignored.
  std::string coding = "rate";
  int64_t steps = 20;  ///< T >= 1
  double gain = 6.0;   ///< rate: expected spike count over T steps at p = 1 (before clipping)

  /// Reads keys coding (rate | latency | direct), steps (integer >= 1), gain (number >= 0),
  /// then calls section.finish(). Throws UserError naming the config file and key.
  static EncoderOptions from_config(nc::ConfigSection section);
};

/// Encodes x: [B, ...] (floating point, values in [0,1]) into [T, B, ...] of x's dtype, as
/// `options.coding` says (frames: [B, K, ...] into [K, B, 1, ...]). `gen` (a CPU generator, e.g. nc::make_generator) drives the rate
/// coder, so the same generator state gives the same spikes; latency and direct ignore it.
/// Throws UserError when options are invalid (unknown coding, steps < 1, gain < 0) or when x is
/// not floating point, has no batch dimension, or holds values outside [0,1] (e.g. inputs that
/// were normalised before encoding).
torch::Tensor encode(const torch::Tensor& x, const EncoderOptions& options, at::Generator gen);

}  // namespace nc::data
