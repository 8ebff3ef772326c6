#pragma once
// Helpers shared by the nn modules (private to nc_nn).
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>

namespace nc::nn::detail {

/// "[2, 3]": a tensor's shape for error messages.
inline std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

/// Glorot (Xavier) uniform in place: U(-a, a), a = sqrt(6 / (fan_in + fan_out)), for a
/// [fan_out, fan_in] weight (snu.md §7).
inline void glorot_uniform_(torch::Tensor& w) {
  const double a = std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));
  torch::NoGradGuard no_grad;
  w.uniform_(-a, a);
}

}  // namespace nc::nn::detail
