// Saccade schedule and glimpses (saccade.h).
#include "neurocore/nn/saccade.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "neurocore/core/option_error.h"

namespace nc::nn {

void SaccadeOptions::validate(const std::string& where) const {
  if (repeats < 1) bad_option(where, "repeats", repeats, "an integer >= 1");
  if (fixation_steps < 1) bad_option(where, "fixation_steps", fixation_steps, "an integer >= 1");
  if (glimpse != "frame" && glimpse != "foveated") bad_option(where, "glimpse", "'" + glimpse + "'", "frame or foveated");
  if (!(fovea > 0 && fovea <= 1)) bad_option(where, "fovea", fovea, "a fraction in (0, 1]");
}

SaccadeSchedule saccade_schedule(const SaccadeOptions& o, int64_t panels, uint64_t seed) {
  o.validate("saccade");
  SaccadeSchedule s;
  s.readout.assign(static_cast<size_t>(panels), 0);
  std::mt19937_64 rng(seed);
  std::vector<int64_t> order(static_cast<size_t>(panels));
  for (int64_t cycle = 0; cycle < o.repeats; ++cycle) {
    std::iota(order.begin(), order.end(), 0);
    if (o.random_order) std::shuffle(order.begin(), order.end(), rng);
    for (auto k : order) {
      for (int64_t t = 0; t < o.fixation_steps; ++t) s.frame.push_back(k);
      if (cycle == o.repeats - 1) s.readout[static_cast<size_t>(k)] = static_cast<int64_t>(s.frame.size()) - 1;
    }
  }
  return s;
}

torch::Tensor fovea_corners(const torch::Tensor& frames, int64_t side, const torch::Tensor& threshold) {
  torch::NoGradGuard no_grad;
  const int64_t h = frames.size(1), w = frames.size(2);
  const auto ink = (frames <= threshold.reshape({-1, 1, 1})).to(torch::kFloat64);  // [N, H, W]
  const auto count = ink.sum({1, 2});
  const auto rows = torch::arange(h, torch::kFloat64).reshape({1, h, 1}) + 0.5;
  const auto cols = torch::arange(w, torch::kFloat64).reshape({1, 1, w}) + 0.5;
  const auto safe = count.clamp_min(1);
  auto cy = torch::where(count > 0, (ink * rows).sum({1, 2}) / safe, torch::full_like(count, h / 2.0));
  auto cx = torch::where(count > 0, (ink * cols).sum({1, 2}) / safe, torch::full_like(count, w / 2.0));
  // Corner = round(centre - side / 2), clamped so that the square lies inside the frame.
  auto top = torch::floor(cy - side / 2.0 + 0.5).clamp(0, h - side);
  auto left = torch::floor(cx - side / 2.0 + 0.5).clamp(0, w - side);
  return torch::stack({top, left}, 1).to(torch::kInt64);
}

torch::Tensor fovea_crop(const torch::Tensor& frames, int64_t side, const torch::Tensor& threshold) {
  const auto corners = fovea_corners(frames, side, threshold);
  const int64_t n = frames.size(0), w = frames.size(2);
  // Gather rows then columns with index tensors: differentiable in the pixels, no loop over N.
  const auto r = corners.select(1, 0).reshape({n, 1}) + torch::arange(side).reshape({1, side});  // [N, S]
  const auto c = corners.select(1, 1).reshape({n, 1}) + torch::arange(side).reshape({1, side});
  auto by_rows = frames.gather(1, r.reshape({n, side, 1}).expand({n, side, w}));       // [N, S, W]
  return by_rows.gather(2, c.reshape({n, 1, side}).expand({n, side, side}));           // [N, S, S]
}

torch::Tensor glimpses(const torch::Tensor& x, const SaccadeOptions& o) {
  const int64_t b = x.size(0), p = x.size(1), r = x.size(2);
  const auto frames = x.reshape({b * p, r, r});
  if (o.glimpse == "frame") return frames.unsqueeze(1);
  const int64_t side = std::max<int64_t>(1, std::llround(o.fovea * static_cast<double>(r)));
  torch::Tensor mid;
  {
    torch::NoGradGuard no_grad;
    const auto flat = frames.reshape({b * p, -1});
    mid = (std::get<0>(flat.min(1)) + std::get<0>(flat.max(1))) / 2;
  }
  const auto fovea = fovea_crop(frames, side, mid).unsqueeze(1);                      // [N, 1, S, S]
  const int64_t q = std::max<int64_t>(1, r / 4);
  auto periphery = torch::adaptive_avg_pool2d(frames.unsqueeze(1), {q, q});
  periphery = torch::upsample_nearest2d(periphery, std::vector<int64_t>{side, side});  // [N, 1, S, S]
  return torch::cat({fovea, periphery}, 1);
}

}  // namespace nc::nn
