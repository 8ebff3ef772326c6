#pragma once
// Exact-budget soft top-k by entropic optimal transport (docs/prune.md; spec dtp.md §3-4).
//
// n elements with scores s, costs c > 0 and a budget B (0 < B < sum c) are transported from
// the source mu_i = c_i / sum c to the two targets (prune, keep) with masses
// (1 - B / sum c, B / sum c). The entropic plan has the closed form
//   m_i = Gamma[i, keep] / mu_i = sigmoid((s_i - tau) / eps'),
//   eps' = eps / 2 for the squared cost C = (s^2, (1 - s)^2), eps' = eps for the linear cost,
// with the threshold tau solving  sum_i c_i sigmoid((s_i - tau) / eps') = B  exactly (in
// double). The gradient through tau is implicit:
//   dL/ds_j = (sigma'_j / eps') (g_j - c_j kappa),  kappa = sum g sigma' / sum c sigma',
// with g = dL/dm and sigma'_i = m_i (1 - m_i); costs and budget are constants.
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

namespace nc::compress::prune {

/// The transport cost between a score and the anchors {0 (prune), 1 (keep)}.
enum class OtCost { squared, linear };

/// eps' of the closed form for temperature eps.
double effective_temperature(double eps, OtCost cost);

/// The tau with sum_i c_i sigmoid((s_i - tau) / eps_eff) = budget, by safeguarded Newton
/// (bisection whenever a Newton step leaves the bracket), starting from `guess` when it is
/// finite (warm start). s, c: [n] (any float dtype; computed in double). Converges until the
/// relative budget error is <= 1e-13 or the bracket is one ulp wide.
/// Throws InternalError when budget is not in (0, sum c) or a cost is <= 0.
double solve_threshold(const torch::Tensor& s, const torch::Tensor& c, double budget,
                       double eps_eff, double guess = std::numeric_limits<double>::quiet_NaN());

struct SoftTopK {
  torch::Tensor mask;  // [n] double, in (0, 1); differentiable with respect to s
  double tau = 0;
};

/// The soft top-k mask of `s` (requires_grad or not; converted to double) for costs c
/// (constants) and `budget`, at temperature eps: sum c m = budget (to rounding), 0 < m < 1,
/// ordered like s. Backward is the implicit gradient above. `tau_guess` warm-starts the solve.
SoftTopK soft_topk(const torch::Tensor& s, const torch::Tensor& c, double budget, double eps,
                   OtCost cost = OtCost::squared,
                   double tau_guess = std::numeric_limits<double>::quiet_NaN());

/// A budget cost G(m) of masks m ([n] double) that grows with every m_i: channel pruning's exact
/// count, bilinear in the masks of consecutive layers (structure.h channel_cost). Returns G(m)
/// and, when `grad` is not null, stores dG/dm ([n] double) there.
using MaskCost = std::function<double(const torch::Tensor& m, torch::Tensor* grad)>;

/// The soft top-k under the budget G(m) = budget for a cost that is not linear in m:
/// m_i = sigmoid((s_i - tau) / eps') with tau solving G(m(tau)) = budget (G decreases in tau;
/// safeguarded Newton with dG/dtau = -sum_i dG/dm_i sigma'_i / eps'), so the budget holds
/// exactly on the true cost at every step. Backward: the implicit gradient above with
/// c = dG/dm at the solution (differentiating G(m(s, tau(s))) = B gives the same formula).
/// Throws InternalError when budget is not in (G(0), G(1)).
SoftTopK soft_topk(const torch::Tensor& s, const MaskCost& cost, double budget, double eps,
                   OtCost ot = OtCost::squared,
                   double tau_guess = std::numeric_limits<double>::quiet_NaN());

/// Temperature schedule of the exact solver (spec §4a): exponential
/// eps_t = eps0 (eps_min / eps0)^(t / steps) (t clamped to steps), or inverse eps_t = eps0 / (t + 1).
enum class Schedule { exponential, inverse };
double temperature_at(Schedule schedule, double eps0, double eps_min, int64_t t, int64_t steps);

/// The paper's one-sweep Bregman proximal variant (spec §4b): a plan Gamma [n, 2] kept across
/// steps (detached), started at mu nu^T; each step does one Sinkhorn sweep warm-started from
/// it, K = Gamma_prev * exp(-C(s) / eps), rows scaled to mu, then columns to nu (last, so the
/// kept mass, hence sum c m, equals the budget), and returns m_i = Gamma[i, keep] / mu_i,
/// differentiable with respect to s by autograd through the sweep. The plan restarts at mu nu^T
/// when n changes; new costs or a new budget only move the marginals the sweep scales to.
/// With two targets the plan is carried as its rows' log-odds log(Gamma[i, keep] /
/// Gamma[i, prune]): a row scaling is then a sigmoid and a column scaling a shift of every
/// log-odds, so a step costs a few passes over [n] (bench/dtp_bench.cpp).
class ProxSoftTopK {
 public:
  explicit ProxSoftTopK(double eps, OtCost cost = OtCost::squared) : eps_(eps), cost_(cost) {}
  /// One proximal step (`sweeps` > 1 repeats the sweep on the same cost, for tests).
  torch::Tensor step(const torch::Tensor& s, const torch::Tensor& c, double budget,
                     int sweeps = 1);
  /// The plan's log-odds log(Gamma[i, keep] / Gamma[i, prune]) (detached, [n] double);
  /// undefined before the first step.
  const torch::Tensor& log_odds() const { return log_odds_; }
  void reset() { log_odds_ = torch::Tensor(); }

 private:
  double eps_;
  OtCost cost_;
  torch::Tensor log_odds_;
};

/// Hard selection from scores under a cost budget with constant costs (weight granularity):
/// unit costs keep exactly the top round(budget) scores; otherwise elements are taken in
/// decreasing score while the kept cost stays <= budget, then any remaining element that still
/// fits. Returns a [n] bool tensor.
torch::Tensor hard_topk(const torch::Tensor& s, const torch::Tensor& c, double budget);

}  // namespace nc::compress::prune
