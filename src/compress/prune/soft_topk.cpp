#include "neurocore/compress/prune/soft_topk.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "neurocore/core/error.h"

namespace nc::compress::prune {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor as_double(const torch::Tensor& t) {
  return t.detach().to(torch::kDouble).flatten().contiguous();
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// The raw loops below run every training step over every weight (weight granularity: n is the
// model's weight count): one pass each, no temporaries, which keeps DTP's step close to a plain
// one (bench/dtp_bench.cpp).

// sum_i c_i sigmoid((s_i - tau) / e) and its tau-derivative -sum_i c_i m_i (1 - m_i) / e.
double linear_cost(const double* s, const double* c, int64_t n, double tau, double e, double* d) {
  const double inv = 1.0 / e;
  double f = 0, g = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double m = sigmoid((s[i] - tau) * inv);
    f += c[i] * m;
    g += c[i] * m * (1 - m);
  }
  *d = -g * inv;
  return f;
}

// The tau in (lo, hi) with F(tau) = budget for a decreasing F (F(lo) >= budget >= F(hi)):
// safeguarded Newton from `guess` (bisection whenever a step leaves the bracket), until the
// relative error is <= 1e-13 or the bracket is one ulp wide. eval(tau, &dF) returns F(tau).
template <class Eval>
double newton_threshold(const Eval& eval, double lo, double hi, double budget, double guess) {
  double tau = std::isfinite(guess) && guess > lo && guess < hi ? guess : 0.5 * (lo + hi);
  for (int it = 0; it < 500; ++it) {
    double d = 0;
    const double f = eval(tau, &d) - budget;
    if (std::abs(f) <= 1e-13 * budget) break;
    (f > 0 ? lo : hi) = tau;  // F(tau) > B: the threshold lies higher
    double next = d < 0 ? tau - f / d : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    const bool stuck = next == tau || hi - lo <= 4e-16 * std::max(1.0, std::abs(tau));
    tau = next;
    if (stuck) break;
  }
  return tau;
}

// m = sigmoid((s - tau) / e) with the implicit backward of spec §3 (tau depends on s through
// the budget constraint; c is the cost gradient dG/dm at m, a constant).
struct SoftTopKFunction : torch::autograd::Function<SoftTopKFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& s_in,
                               const torch::Tensor& c, double tau, double e) {
    const auto s = as_double(s_in);
    auto m = torch::empty_like(s);
    const double* sp = s.data_ptr<double>();
    double* mp = m.data_ptr<double>();
    const double inv = 1.0 / e;
    for (int64_t i = 0, n = s.numel(); i < n; ++i) mp[i] = sigmoid((sp[i] - tau) * inv);
    ctx->save_for_backward({m, c});
    ctx->saved_data["e"] = e;
    return m;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto m = saved[0].contiguous(), c = saved[1].contiguous();
    const double e = ctx->saved_data["e"].toDouble();
    const auto g = grad[0].to(torch::kDouble).contiguous();
    const double *mp = m.data_ptr<double>(), *cp = c.data_ptr<double>(), *gp = g.data_ptr<double>();
    const int64_t n = m.numel();
    double cs = 0, gs = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double sp = mp[i] * (1 - mp[i]);
      cs += cp[i] * sp;
      gs += gp[i] * sp;
    }
    // Fully saturated masks: no element can move, the gradient is zero.
    const double kappa = cs > 0 ? gs / cs : 0.0;
    auto out = torch::empty_like(m);
    double* op = out.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) op[i] = mp[i] * (1 - mp[i]) / e * (gp[i] - cp[i] * kappa);
    return {out, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

double effective_temperature(double eps, OtCost cost) {
  return cost == OtCost::squared ? eps / 2 : eps;
}

double solve_threshold(const torch::Tensor& s_in, const torch::Tensor& c_in, double budget,
                       double e, double guess) {
  const auto s = as_double(s_in), c = as_double(c_in);
  const int64_t n = s.numel();
  const double total = c.sum().item<double>();
  const double cmin = c.min().item<double>();
  if (!(e > 0) || !(budget > 0) || !(budget < total) || cmin <= 0) {
    throw InternalError("solve_threshold: needs eps > 0, costs > 0 and 0 < budget < sum c, got eps " +
                        std::to_string(e) + ", budget " + std::to_string(budget) + " of " +
                        std::to_string(total));
  }
  // A bracket without evaluating F: every m_i lies between sigmoid((s_min - tau)/e) and
  // sigmoid((s_max - tau)/e), so F(s_min - e L) >= B >= F(s_max - e L) with L = logit(B / sum c).
  const double logit = std::log(budget / (total - budget));
  double lo = s.min().item<double>() - e * logit, hi = s.max().item<double>() - e * logit;
  if (!(lo < hi)) {  // all scores equal: F is sum c sigmoid((s - tau)/e), solved by lo itself
    lo -= e;
    hi += e;
  }
  const double *sp = s.data_ptr<double>(), *cp = c.data_ptr<double>();
  return newton_threshold([&](double tau, double* d) { return linear_cost(sp, cp, n, tau, e, d); },
                          lo, hi, budget, guess);
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

SoftTopK soft_topk(const torch::Tensor& s, const MaskCost& G, double budget, double eps,
                   OtCost cost, double tau_guess) {
  const double e = effective_temperature(eps, cost);
  const auto sd = as_double(s);
  const double* sp = sd.data_ptr<double>();
  const int64_t n = sd.numel();
  auto mask_at = [&](double tau) {
    auto m = torch::empty({n}, torch::kDouble);
    double* mp = m.data_ptr<double>();
    for (int64_t i = 0; i < n; ++i) mp[i] = sigmoid((sp[i] - tau) / e);
    return m;
  };
  auto F = [&](double tau, double* d) {
    const auto m = mask_at(tau);
    torch::Tensor grad;
    const double f = G(m, d ? &grad : nullptr);
    if (d) *d = -(grad * m * (1 - m)).sum().item<double>() / e;
    return f;
  };
  const double g0 = G(torch::zeros({n}, torch::kDouble), nullptr);
  const double g1 = G(torch::ones({n}, torch::kDouble), nullptr);
  if (!(e > 0) || !(budget > g0) || !(budget < g1)) {
    throw InternalError(fmt::format("soft_topk: needs eps > 0 and G(0) < budget < G(1), got eps {}, "
                                    "budget {} for G(0) {} and G(1) {}", e, budget, g0, g1));
  }
  // Bracket: widen from the scores' range until F(lo) >= B >= F(hi) (F decreases in tau).
  double lo = sd.min().item<double>() - e, hi = sd.max().item<double>() + e;
  for (double w = std::max(hi - lo, e); F(lo, nullptr) < budget; w *= 2) lo -= w;
  for (double w = std::max(hi - lo, e); F(hi, nullptr) > budget; w *= 2) hi += w;
  SoftTopK r;
  r.tau = newton_threshold(F, lo, hi, budget, tau_guess);
  torch::Tensor grad;
  G(mask_at(r.tau), &grad);
  r.mask = SoftTopKFunction::apply(s.to(torch::kDouble).flatten(), as_double(grad), r.tau, e);
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
  const double total = c.sum().item<double>();
  const auto mu = c / total;
  const double keep = budget / total, prune = 1 - keep;
  // With two targets a row scaling is a sigmoid of the row's log-odds keep : prune, and a column
  // scaling adds one constant to every row's log-odds: the sweep in closed form over [n] vectors
  // (the n x 2 plan is never formed). Start: the plan mu nu^T, log-odds log(keep / prune).
  if (!log_odds_.defined() || log_odds_.numel() != s.numel())
    log_odds_ = torch::full({s.numel()}, std::log(keep / prune), torch::kDouble);
  // K = Gamma_prev * exp(-C / eps): log-odds minus (C_keep - C_prune) / eps.
  auto l = log_odds_ - (cost_ == OtCost::squared ? 1 - 2 * s : -s) / eps_;
  torch::Tensor m;
  for (int k = 0; k < std::max(1, sweeps); ++k) {
    const auto sk = (mu * torch::sigmoid(l)).sum(), sp = (mu * torch::sigmoid(-l)).sum();
    m = torch::sigmoid(l) * (keep / sk);  // rows to mu, then the keep column to its mass
    l = l + (std::log(keep / prune) - (sk / sp).log());
  }
  log_odds_ = l.detach();
  return m;
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
