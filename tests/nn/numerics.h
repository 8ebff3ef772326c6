#pragma once
// The nn tests' numerics harness (STYLE.md: one comparison with a reference, one
// finite-difference gradient check, both in double precision).
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace nc::nn::testing {

/// ||a - b|| / max(||a||, ||b||, tiny): 0 when both are zero.
inline double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const double diff = (a - b).norm().item<double>();
  const double scale = std::max({a.norm().item<double>(), b.norm().item<double>(), 1e-300});
  return diff / scale;
}

/// Central finite differences of the scalar loss() with respect to each tensor in `params`
/// (perturbed in place, then restored): (L(p + eps) - L(p - eps)) / (2 eps).
inline std::vector<torch::Tensor> finite_difference(const std::function<torch::Tensor()>& loss,
                                                    const std::vector<torch::Tensor>& params,
                                                    double eps = 1e-6) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    auto g = torch::zeros_like(p);
    auto flat = p.view(-1);
    auto gflat = g.view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double orig = flat[i].item<double>();
      flat[i] = orig + eps;
      const double plus = loss().item<double>();
      flat[i] = orig - eps;
      const double minus = loss().item<double>();
      flat[i] = orig;
      gflat[i] = (plus - minus) / (2 * eps);
    }
    grads.push_back(g);
  }
  return grads;
}

/// Autograd gradients of loss() with respect to `params` (which must require grad).
inline std::vector<torch::Tensor> autograd_gradient(const std::function<torch::Tensor()>& loss,
                                                    const std::vector<torch::Tensor>& params) {
  return torch::autograd::grad({loss()}, params);
}

}  // namespace nc::nn::testing
