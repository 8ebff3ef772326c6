// Exact-budget soft top-k (spec dtp.md §7, properties 1, 2, 3, 4, 5, 6, 9).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/compress/prune/soft_topk.h"
#include "neurocore/core/error.h"

namespace nc::compress::prune {
namespace {

const auto kD = torch::TensorOptions().dtype(torch::kDouble);

double budget_error(const torch::Tensor& m, const torch::Tensor& c, double b) {
  return std::abs((m * c).sum().item<double>() - b) / b;
}

TEST(SoftTopK, BudgetExactAtEveryTemperatureForParamAndFlopCosts) {
  torch::manual_seed(1);
  const int64_t n = 500;
  const auto s = torch::rand({n}, kD);
  // Unit costs (parameters, weights), per-filter parameter costs and FLOP costs of ~1e7 total.
  const auto unit = torch::ones({n}, kD);
  const auto params = torch::randint(1, 5, {n}, kD) * 9 * 16;
  const auto flops = params * 32 * 32;
  for (const auto& c : {unit, params, flops}) {
    for (double r : {0.5, 0.2, 0.05}) {
      const double b = c.equal(unit) ? std::round(r * n) : r * c.sum().item<double>();
      double tau = NAN;
      for (int64_t t = 0; t <= 40; ++t) {
        const double eps = temperature_at(Schedule::exponential, 1.0, 1e-3, t, 40);
        for (auto cost : {OtCost::squared, OtCost::linear}) {
          const auto r2 = soft_topk(s, c, b, eps, cost, tau);
          EXPECT_LE(budget_error(r2.mask, c, b), 1e-9) << "eps " << eps << " r " << r;
          EXPECT_GE(r2.mask.min().item<double>(), 0.0);
          EXPECT_LE(r2.mask.max().item<double>(), 1.0);
          if (cost == OtCost::squared) tau = r2.tau;
        }
      }
    }
  }
}

TEST(SoftTopK, MaskFollowsScoreOrder) {
  torch::manual_seed(2);
  const auto s = torch::rand({200}, kD);
  const auto r = soft_topk(s, torch::ones({200}, kD), 50, 0.1);
  const auto order = std::get<1>(s.sort());
  const auto sorted = r.mask.index_select(0, order);
  EXPECT_TRUE((sorted.slice(0, 1) >= sorted.slice(0, 0, -1)).all().item<bool>());
}

TEST(SoftTopK, LowTemperatureGivesHardTopK) {
  // Well separated scores: 0, 1/n, 2/n, ...; the top 30 of 100.
  const int64_t n = 100;
  const auto s = torch::randperm(n, kD) / n;
  const auto c = torch::ones({n}, kD);
  const auto hard = hard_topk(s, c, 30).to(torch::kDouble);
  EXPECT_EQ(hard.sum().item<double>(), 30);
  EXPECT_TRUE(hard.masked_select(s >= 0.70).all().item<bool>());
  const auto m = soft_topk(s, c, 30, 1e-3).mask;
  EXPECT_LT((m - hard).abs().sum().item<double>(), 1e-3);
}

TEST(SoftTopK, ImplicitGradientEqualsFiniteDifferences) {
  torch::manual_seed(3);
  const int64_t n = 40;
  const auto s0 = torch::rand({n}, kD);
  const auto w = torch::randn({n}, kD);
  for (const auto& c : {torch::ones({n}, kD), torch::randint(1, 9, {n}, kD)}) {
    const double b = 0.3 * c.sum().item<double>();
    auto loss = [&](const torch::Tensor& s) {
      const auto m = soft_topk(s, c, b, 0.2).mask;
      return (w * m).sum() + 0.5 * (m * m).sum();
    };
    const auto s = s0.clone().requires_grad_(true);
    loss(s).backward();
    const auto g = s.grad();
    const double h = 1e-6;
    for (int64_t j = 0; j < n; ++j) {
      auto sp = s0.clone(), sm = s0.clone();
      sp[j] += h;
      sm[j] -= h;
      const double fd = (loss(sp).item<double>() - loss(sm).item<double>()) / (2 * h);
      EXPECT_NEAR(g[j].item<double>(), fd, 1e-6 * std::max(1.0, std::abs(fd))) << j;
    }
    // Shifting every score shifts tau alike and leaves the mask: the gradient sums to zero.
    EXPECT_NEAR(g.sum().item<double>(), 0.0, 1e-10);
  }
}

// A bilinear cost like a channel count: (kept of group A) x (kept of group B) x 3 + linear terms.
double bilinear(const torch::Tensor& m, torch::Tensor* grad) {
  const auto a = m.slice(0, 0, 6).sum().item<double>(), b = m.slice(0, 6).sum().item<double>();
  if (grad) {
    *grad = torch::empty({12}, kD);
    grad->slice(0, 0, 6).fill_(3 * b + 7);
    grad->slice(0, 6).fill_(3 * a + 2);
  }
  return 3 * a * b + 7 * a + 2 * b;
}

TEST(SoftTopK, NonlinearCostBudgetExactAndGradientEqualsFiniteDifferences) {
  torch::manual_seed(9);
  const auto s0 = torch::rand({12}, kD);
  const double b = 0.2 * bilinear(torch::ones({12}, kD), nullptr);
  double tau = NAN;
  for (double eps : {1.0, 0.1, 0.01, 1e-3}) {
    const auto r = soft_topk(s0, bilinear, b, eps, OtCost::squared, tau);
    tau = r.tau;
    EXPECT_LE(std::abs(bilinear(r.mask, nullptr) - b) / b, 1e-9) << eps;
    const auto order = std::get<1>(s0.sort());
    const auto sorted = r.mask.index_select(0, order);
    EXPECT_TRUE((sorted.slice(0, 1) >= sorted.slice(0, 0, -1)).all().item<bool>());
  }
  const auto w = torch::randn({12}, kD);
  auto loss = [&](const torch::Tensor& s) {
    const auto m = soft_topk(s, bilinear, b, 0.3).mask;
    return (w * m).sum() + 0.5 * (m * m).sum();
  };
  const auto s = s0.clone().requires_grad_(true);
  loss(s).backward();
  const double h = 1e-6;
  for (int64_t j = 0; j < 12; ++j) {
    auto sp = s0.clone(), sm = s0.clone();
    sp[j] += h;
    sm[j] -= h;
    const double fd = (loss(sp).item<double>() - loss(sm).item<double>()) / (2 * h);
    EXPECT_NEAR(s.grad()[j].item<double>(), fd, 1e-6 * std::max(1.0, std::abs(fd))) << j;
  }
  EXPECT_THROW(soft_topk(s0, bilinear, bilinear(torch::ones({12}, kD), nullptr), 0.1), InternalError);
}

// Log-domain Sinkhorn on the n x 2 problem, run to convergence: the reference of the closed form.
torch::Tensor sinkhorn_mask(const torch::Tensor& s, const torch::Tensor& c, double b, double eps) {
  const double total = c.sum().item<double>();
  const auto mu = (c / total).unsqueeze(1);
  const auto nu = torch::tensor({1 - b / total, b / total}, kD).unsqueeze(0);
  auto lg = -torch::stack({s * s, (1 - s) * (1 - s)}, 1) / eps;
  for (int k = 0; k < 5000; ++k) {
    lg = torch::log_softmax(lg, 1) + mu.log();
    lg = lg - torch::logsumexp(lg, 0, true) + nu.log();
  }
  return lg.exp().select(1, 1) / mu.squeeze(1);
}

TEST(SoftTopK, ClosedFormEqualsConvergedSinkhorn) {
  torch::manual_seed(4);
  const auto s = torch::rand({30}, kD);
  const auto c = torch::randint(1, 4, {30}, kD);
  const double b = 0.4 * c.sum().item<double>();
  for (double eps : {1.0, 0.3}) {
    const auto m = soft_topk(s, c, b, eps).mask;
    EXPECT_LT((m - sinkhorn_mask(s, c, b, eps)).abs().max().item<double>(), 1e-9) << eps;
  }
}

TEST(ProxSoftTopK, ExactStepsEqualOptimalTransportAtEpsOverT) {
  torch::manual_seed(5);
  const auto s = torch::rand({64}, kD);
  const auto c = torch::ones({64}, kD);
  const double eps = 2.0;
  ProxSoftTopK prox(eps);
  for (int t = 1; t <= 5; ++t) {
    const auto m = prox.step(s, c, 16, /*sweeps=*/3000);
    const auto exact = soft_topk(s, c, 16, eps / t).mask;
    EXPECT_LT((m - exact).abs().max().item<double>(), 1e-8) << t;
  }
}

TEST(ProxSoftTopK, OneSweepKeepsBudgetAndAnnealsMonotonicallyAtLargeEps) {
  torch::manual_seed(6);
  const auto s = torch::rand({64}, kD);
  const auto c = torch::ones({64}, kD);
  const auto hard = hard_topk(s, c, 16).to(torch::kDouble);
  ProxSoftTopK prox(100);
  double last = INFINITY;
  for (int t = 1; t <= 3000; ++t) {
    const auto m = prox.step(s, c, 16);
    EXPECT_LE(budget_error(m, c, 16), 1e-9);
    if (t % 100 == 0) {
      const double d = (m - hard).abs().sum().item<double>();
      EXPECT_LT(d, last) << t;
      last = d;
    }
  }
  EXPECT_LT(last, 5.5);  // spec table: ~5 after 1,000 steps, ~1 after 10,000
}

TEST(ProxSoftTopK, GradientFlowsThroughTheSweep) {
  torch::manual_seed(7);
  const auto s = torch::rand({10}, kD).requires_grad_(true);
  ProxSoftTopK prox(1.0);
  const auto m = prox.step(s, torch::ones({10}, kD), 4);
  (m * torch::arange(10, kD)).sum().backward();
  EXPECT_GT(s.grad().abs().sum().item<double>(), 0);
}

TEST(HardTopK, CostBudgetKeptAndNothingElseFits) {
  torch::manual_seed(8);
  const auto s = torch::rand({100}, kD);
  const auto c = torch::randint(1, 20, {100}, kD);
  const double b = 0.3 * c.sum().item<double>();
  const auto keep = hard_topk(s, c, b);
  const double used = c.masked_select(keep).sum().item<double>();
  EXPECT_LE(used, b);
  const auto rest = c.masked_select(keep.logical_not());
  EXPECT_GT(rest.min().item<double>(), b - used);
}

}  // namespace
}  // namespace nc::compress::prune
