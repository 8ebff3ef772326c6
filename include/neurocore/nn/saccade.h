#pragma once
// Synthetic saccades over the six panels of an oddity riddle (../shared/specs/oddity.md §7, §0;
// docs/oddity.md): the fixation schedule and the glimpse each fixation sees.
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nc::nn {

struct SaccadeOptions {
  int64_t repeats = 2;         ///< cycles over the panels, >= 1
  int64_t fixation_steps = 3;  ///< time steps per fixation (tau_fix), >= 1
  bool random_order = false;   ///< each cycle a random permutation instead of 0..P-1
  std::string glimpse = "frame";  ///< frame (the whole panel) | foveated
  double fovea = 0.32;         ///< foveated: the crop's side as a fraction of the panel side, (0, 1]

  /// Throws UserError "<where>.<key>: got ..., expected ..." for repeats or fixation_steps < 1,
  /// an unknown glimpse, fovea outside (0, 1].
  void validate(const std::string& where) const;
};

/// Which panel each time step fixates, and when each panel is read out.
struct SaccadeSchedule {
  std::vector<int64_t> frame;    ///< [P * repeats * fixation_steps]: the panel fixated at step t
  std::vector<int64_t> readout;  ///< [P]: the last step of panel k's fixation in the final cycle
};

/// The schedule for `panels` panels; random_order draws each cycle's permutation from `seed`.
SaccadeSchedule saccade_schedule(const SaccadeOptions& options, int64_t panels, uint64_t seed = 0);

/// The fovea's top-left corner (row, col) in each frame: a `side` x `side` square centred on the
/// centroid (mean row and column of pixel centres, rounded half up) of the pixels <= `threshold`
/// (the frame's centre when there is none), shifted to lie inside the frame.
/// frames: [N, H, W]; returns [N, 2] int64.
torch::Tensor fovea_corners(const torch::Tensor& frames, int64_t side, const torch::Tensor& threshold);

/// The crops at fovea_corners: [N, side, side].
torch::Tensor fovea_crop(const torch::Tensor& frames, int64_t side, const torch::Tensor& threshold);

/// The glimpse of each panel as image channels, x: [B, P, R, R] -> [B * P, C, S, S]:
/// frame: C = 1, S = R (the panel). foveated: C = 2, S = round(fovea R): the crop around the
/// centroid of the pixels darker than the panel's midpoint (min + max) / 2 (on raw aliased
/// pixels, ink <= 60 and background >= 235, this is the spec's "<= 128"; it also holds after
/// the trainer's affine normalisation), and the whole panel area-averaged to R / 4 x R / 4 (the
/// periphery, 25 x 25 at 100 px) and resized (nearest) to S x S.
torch::Tensor glimpses(const torch::Tensor& x, const SaccadeOptions& options);

}  // namespace nc::nn
