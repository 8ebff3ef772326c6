#include "neurocore/compress/prune/soft_topk.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "neurocore/core/error.h"

namespace nc::compress::prune {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor as_double(const torch::Tensor& t) { return t.detach().to(torch::kDouble).flatten(); }

// m = sigmoid((s - tau) / e) with the implicit backward of spec §3 (tau depends on s through
// the budget constraint; costs and budget are constants).
struct SoftTopKFunction : torch::autograd::Function<SoftTopKFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& s,
                               const torch::Tensor& c, double tau, double e) {
    auto m = torch::sigmoid((s - tau) / e);
    ctx->save_for_backward({m, c});
    ctx->saved_data["e"] = e;
    return m;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto& m = saved[0];
    const auto& c = saved[1];
    const double e = ctx->saved_data["e"].toDouble();
    const auto g = grad[0];
    const auto sp = m * (1 - m);
    const double denom = (c * sp).sum().item<double>();
    // Fully saturated masks: no element can move, the gradient is zero.
    const auto kappa = denom > 0 ? (g * sp).sum() / denom : torch::zeros({}, g.options());
    return {sp / e * (g - c * kappa), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

double effective_temperature(double eps, OtCost cost) {
  return cost == OtCost::squared ? eps / 2 : eps;
}

double solve_threshold(const torch::Tensor& s_in, const torch::Tensor& c_in, double budget,
                       double e, double guess) {
  const auto s = as_double(s_in), c = as_double(c_in);
  const double total = c.sum().item<double>();
  if (!(e > 0) || !(budget > 0) || !(budget < total) || c.min().item<double>() <= 0) {
    throw InternalError("solve_threshold: needs eps > 0, costs > 0 and 0 < budget < sum c, got eps " +
                        std::to_string(e) + ", budget " + std::to_string(budget) + " of " +
                        std::to_string(total));
  }
  auto F = [&](double tau) { return (c * torch::sigmoid((s - tau) / e)).sum().item<double>(); };
  // Bracket: F decreases from sum c to 0; widen until F(lo) >= B >= F(hi).
  double lo = s.min().item<double>() - e, hi = s.max().item<double>() + e;
  for (double w = std::max(hi - lo, e); F(lo) < budget; w *= 2) lo -= w;
  for (double w = std::max(hi - lo, e); F(hi) > budget; w *= 2) hi += w;
  double tau = std::isfinite(guess) && guess > lo && guess < hi ? guess : 0.5 * (lo + hi);
  for (int it = 0; it < 500; ++it) {
    const auto m = torch::sigmoid((s - tau) / e);
    const double f = (c * m).sum().item<double>() - budget;
    if (std::abs(f) <= 1e-13 * budget) break;
    (f > 0 ? lo : hi) = tau;  // F(tau) > B: the threshold lies higher
    const double d = -(c * m * (1 - m)).sum().item<double>() / e;
    double next = d < 0 ? tau - f / d : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const bool stuck = next == tau || hi - lo <= 4e-16 * std::max(1.0, std::abs(tau));
    tau = next;
    if (stuck) break;
  }
  return tau;
}

SoftTopK soft_topk(const torch::Tensor& s, const torch::Tensor& c, double budget, double eps,
                   OtCost cost, double tau_guess) {
  const double e = effective_temperature(eps, cost);
  const auto cd = as_double(c);
  SoftTopK r;
  r.tau = solve_threshold(s, cd, budget, e, tau_guess);
  r.mask = SoftTopKFunction::apply(s.to(torch::kDouble).flatten(), cd, r.tau, e);
  return r;
}

double temperature_at(Schedule schedule, double eps0, double eps_min, int64_t t, int64_t steps) {
  if (schedule == Schedule::inverse) return eps0 / static_cast<double>(t + 1);
  const double frac = steps <= 0 ? 1.0 : std::min<double>(1.0, static_cast<double>(t) / steps);
  return eps0 * std::pow(eps_min / eps0, frac);
}

torch::Tensor ProxSoftTopK::step(const torch::Tensor& s_in, const torch::Tensor& c_in,
                                 double budget, int sweeps) {
  const auto s = s_in.to(torch::kDouble).flatten();
  const auto c = as_double(c_in);
  const int64_t n = s.numel();
  const double total = c.sum().item<double>();
  const auto mu = (c / total).unsqueeze(1);                                   // [n, 1]
  const auto nu = torch::tensor({1 - budget / total, budget / total}, c.options())
                      .unsqueeze(0);                                          // [1, 2]
  if (!plan_.defined() || plan_.size(0) != n) plan_ = mu * nu;
  // Cost columns (prune, keep); only their difference matters after the row scaling.
  const auto cost = cost_ == OtCost::squared
                        ? torch::stack({s * s, (1 - s) * (1 - s)}, 1)
                        : torch::stack({torch::zeros_like(s), -s}, 1);
  // Log domain: log K = log Gamma_prev - C / eps; a row scaling is a row softmax.
  auto log_g = plan_.log() - cost / eps_;
  torch::Tensor g;
  for (int k = 0; k < std::max(1, sweeps); ++k) {
    log_g = torch::log_softmax(log_g, 1) + mu.log();                   // rows sum to mu
    log_g = log_g - torch::logsumexp(log_g, 0, true) + nu.log();       // columns sum to nu
  }
  g = log_g.exp();
  plan_ = g.detach();
  return g.select(1, 1) / mu.squeeze(1);
}

torch::Tensor hard_topk(const torch::Tensor& s_in, const torch::Tensor& c_in, double budget) {
  const auto s = as_double(s_in), c = as_double(c_in);
  const int64_t n = s.numel();
  auto keep = torch::zeros({n}, torch::kBool);
  const auto order = std::get<1>(s.sort(0, /*descending=*/true));
  if ((c == 1).all().item<bool>()) {
    const int64_t k = std::clamp<int64_t>(std::llround(budget), 0, n);
    keep.index_put_({order.slice(0, 0, k)}, true);
    return keep;
  }
  const auto* cp = c.data_ptr<double>();
  const auto* op = order.data_ptr<int64_t>();
  auto* kp = keep.data_ptr<bool>();
  double used = 0;
  // In decreasing score while everything fits; then any remaining element that still fits.
  int64_t i = 0;
  for (; i < n && used + cp[op[i]] <= budget; ++i) {
    kp[op[i]] = true;
    used += cp[op[i]];
  }
  for (; i < n; ++i) {
    if (used + cp[op[i]] <= budget) {
      kp[op[i]] = true;
      used += cp[op[i]];
    }
  }
  return keep;
}

}  // namespace nc::compress::prune
