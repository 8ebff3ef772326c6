#include "neurocore/compress/observer.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "neurocore/core/error.h"

namespace nc::compress {

RangeMethod parse_range_method(const std::string& name, const std::string& field) {
  if (name == "minmax") return RangeMethod::minmax;
  if (name == "percentile") return RangeMethod::percentile;
  if (name == "mse") return RangeMethod::mse;
  throw UserError(field + ": expected minmax, percentile or mse, got '" + name + "'");
}

std::string to_string(RangeMethod m) {
  switch (m) {
    case RangeMethod::minmax: return "minmax";
    case RangeMethod::percentile: return "percentile";
    case RangeMethod::mse: return "mse";
  }
  return "?";
}

namespace {

constexpr double kMinScale = 1e-8;
constexpr int kGridSteps = 80;  // α = max·(1 − 0.01 i), i = 0..79 (efqat.md §4)

// Per-row quantile of rows [C, N] (kthvalue: exact and without torch::quantile's size cap).
torch::Tensor row_quantile(const torch::Tensor& rows, double q) {
  const int64_t n = rows.size(1);
  const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(q * n)), 1, n);
  return std::get<0>(rows.kthvalue(k, 1));
}

struct Range {
  torch::Tensor scale, zero;
};

Range make_range(const torch::Tensor& lo, const torch::Tensor& hi, const QuantSpec& spec) {
  const double qmin = static_cast<double>(spec.qmin()), qmax = static_cast<double>(spec.qmax());
  if (spec.symmetric) {
    // Signed: the grid's positive end Qp carries α; unsigned (z = 0): [0, α] on [0, Qp].
    const auto alpha = spec.is_signed ? torch::max(hi.abs(), lo.abs()) : hi.clamp_min(0);
    return {(alpha / qmax).clamp_min(kMinScale), torch::zeros_like(alpha)};
  }
  const auto scale = ((hi - lo) / (qmax - qmin)).clamp_min(kMinScale);
  const auto zero = torch::round(qmin - lo / scale).clamp(qmin, qmax);
  return {scale, zero};
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> compute_range(const torch::Tensor& x,
                                                      const QuantSpec& spec, RangeMethod method,
                                                      double percentile) {
  torch::NoGradGuard no_grad;
  const auto rows = x.detach().to(torch::kDouble).reshape({spec.per_channel ? x.size(0) : 1, -1});
  torch::Tensor lo = std::get<0>(rows.min(1)).clamp_max(0);
  torch::Tensor hi = std::get<0>(rows.max(1)).clamp_min(0);
  if (method == RangeMethod::percentile) {
    const double q = percentile / 100.0;
    if (spec.symmetric && spec.is_signed) {
      hi = row_quantile(rows.abs(), q);
      lo = -hi;
    } else {
      lo = row_quantile(rows, 1.0 - q).clamp_max(0);
      hi = row_quantile(rows, q).clamp_min(0);
    }
  }
  Range best = make_range(lo, hi, spec);
  if (method == RangeMethod::mse) {
    std::vector<torch::Tensor> errors, scales, zeros;
    for (int i = 0; i < kGridSteps; ++i) {
      const double f = 1.0 - 0.01 * i;
      Range r = make_range(lo * f, hi * f, spec);
      const auto xq = fake_quantize(rows, r.scale, r.zero, spec.qmin(), spec.qmax());
      errors.push_back((rows - xq).pow(2).sum(1));
      scales.push_back(r.scale);
      zeros.push_back(r.zero);
    }
    // argmin returns the first minimum: ties keep the wider range.
    const auto pick = torch::stack(errors).argmin(0).unsqueeze(0);  // [1, C]
    best.scale = torch::stack(scales).gather(0, pick).squeeze(0);
    best.zero = torch::stack(zeros).gather(0, pick).squeeze(0);
  }
  return {best.scale.to(torch::kFloat), best.zero.to(torch::kFloat)};
}

void ActivationObserver::observe(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  const auto flat = x.detach().reshape({-1}).to(torch::kFloat);
  if (flat.numel() == 0) return;
  const double lo = flat.min().item<double>(), hi = flat.max().item<double>();
  if (samples_.empty()) {
    min_ = lo;
    max_ = hi;
  } else {
    min_ = std::min(min_, lo);
    max_ = std::max(max_, hi);
  }
  const int64_t stride = std::max<int64_t>(1, flat.numel() / sample_per_batch_);
  samples_.push_back(flat.slice(0, 0, flat.numel(), stride).clone());
}

std::pair<torch::Tensor, torch::Tensor> ActivationObserver::range(const QuantSpec& spec,
                                                                  RangeMethod method,
                                                                  double percentile) const {
  TORCH_CHECK(!samples_.empty(), "activation observer: no batch observed");
  QuantSpec s = spec;
  s.per_channel = false;
  if (method == RangeMethod::minmax) {
    return compute_range(torch::tensor({min_, max_}, torch::kDouble), s, method);
  }
  return compute_range(torch::cat(samples_), s, method, percentile);
}

}  // namespace nc::compress
