// RNN-T loss against brute-force enumeration of all alignments, finite differences and its own
// definitions (asr.md §10, properties 1-5).
#include "neurocore/asr/rnnt_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

#include "neurocore/core/error.h"
#include "neurocore/core/threads.h"

namespace nc::asr {
namespace {

// log P(y|x) as logsumexp over every alignment of the (T, U+1) lattice, each ending with the
// final blank, built with torch ops so that autograd gives the reference gradient.
torch::Tensor brute_force_log_p(const torch::Tensor& lp, const std::vector<int64_t>& y,
                                int64_t blank) {
  const int64_t T = lp.size(0), U = static_cast<int64_t>(y.size());
  std::vector<torch::Tensor> paths;
  std::function<void(int64_t, int64_t, torch::Tensor)> walk = [&](int64_t t, int64_t u,
                                                                    torch::Tensor score) {
    if (t == T - 1 && u == U) {
      paths.push_back(score + lp[t][u][blank]);
      return;
    }
    if (u < U) walk(t, u + 1, score + lp[t][u][y[u]]);
    if (t < T - 1) walk(t + 1, u, score + lp[t][u][blank]);
  };
  walk(0, 0, torch::zeros({}, torch::kDouble));
  return torch::logsumexp(torch::stack(paths), 0);
}

int64_t n_alignments(int64_t T, int64_t U) {  // C(T-1+U, U)
  int64_t r = 1;
  for (int64_t i = 1; i <= U; ++i) r = r * (T - 1 + i) / i;
  return r;
}

double max_abs(const torch::Tensor& a) { return a.abs().max().item<double>(); }

TEST(RnntLoss, EqualsBruteForceLossAndGradient) {
  torch::manual_seed(1);
  for (auto kind : {RnntInput::Logits, RnntInput::LogProbs})
    for (int64_t V : {3, 5})
      for (int64_t T = 1; T <= 4; ++T)
        for (int64_t U = 0; U <= 3; ++U) {
          const int64_t blank = V - 1 - (T % 2) * (V - 1);  // blank 0 or V-1
          auto z = torch::randn({1, T, U + 1, V}, torch::kDouble) * 2;
          auto y = torch::randint(0, V - 1, {1, U}, torch::kLong);
          y = y + (y >= blank).to(torch::kLong);  // skip the blank
          auto input = (kind == RnntInput::Logits ? z : torch::log_softmax(z, -1))
                           .detach()
                           .requires_grad_(true);
          auto loss = rnnt_loss(input, y, torch::tensor({T}), torch::tensor({U}),
                                RnntLossOptions().input(kind).blank(blank));
          auto g = torch::autograd::grad({loss}, {input})[0];

          auto ref_in = input.detach().clone().requires_grad_(true);
          auto lp = kind == RnntInput::Logits ? torch::log_softmax(ref_in[0], -1) : ref_in[0];
          std::vector<int64_t> yv(y.data_ptr<int64_t>(), y.data_ptr<int64_t>() + U);
          auto ref = -brute_force_log_p(lp, yv, blank);
          auto g_ref = torch::autograd::grad({ref}, {ref_in})[0];
          SCOPED_TRACE("T=" + std::to_string(T) + " U=" + std::to_string(U) +
                       " V=" + std::to_string(V) + " paths=" + std::to_string(n_alignments(T, U)));
          EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-10);
          EXPECT_LT(max_abs(g - g_ref), 1e-10);
        }
}

TEST(RnntLoss, DiagonalIdentity) {
  torch::manual_seed(2);
  const int64_t T = 5, U = 3, V = 4;
  auto lp = torch::log_softmax(torch::randn({T, U + 1, V}, torch::kDouble), -1);
  auto lat = rnnt_lattice(lp, torch::tensor({1, 3, 2}), 0);
  const double log_p = lat.beta[0][0].item<double>();
  for (int64_t n = 0; n <= T - 1 + U; ++n) {
    std::vector<torch::Tensor> terms;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t u = n - t;
      if (u >= 0 && u <= U) terms.push_back(lat.alpha[t][u] + lat.beta[t][u]);
    }
    EXPECT_NEAR(torch::logsumexp(torch::stack(terms), 0).item<double>(), log_p, 1e-10) << n;
  }
  EXPECT_NEAR((lat.alpha[T - 1][U] + lp[T - 1][U][0]).item<double>(), log_p, 1e-12);
}

TEST(RnntLoss, GradientEqualsFiniteDifferences) {
  torch::manual_seed(3);
  for (auto kind : {RnntInput::Logits, RnntInput::LogProbs}) {
    auto input = torch::randn({2, 3, 3, 4}, torch::kDouble);
    if (kind == RnntInput::LogProbs) input = torch::log_softmax(input, -1);
    input.requires_grad_(true);
    auto y = torch::tensor({{1, 2}, {3, 0}});
    auto tl = torch::tensor({2, 1}), ll = torch::tensor({3, 2});
    auto opts = RnntLossOptions().input(kind).reduction(RnntReduction::MeanPerToken);
    auto g = torch::autograd::grad({rnnt_loss(input, y, ll, tl, opts)}, {input})[0];
    auto x = input.detach().clone();
    auto fd = torch::zeros_like(x);
    const double eps = 1e-6;
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto flat = x.view(-1);
      const double v = flat[i].item<double>();
      flat[i] = v + eps;
      const double plus = rnnt_loss(x, y, ll, tl, opts).item<double>();
      flat[i] = v - eps;
      const double minus = rnnt_loss(x, y, ll, tl, opts).item<double>();
      flat[i] = v;
      fd.view(-1)[i] = (plus - minus) / (2 * eps);
    }
    EXPECT_LT((g - fd).norm().item<double>() / fd.norm().item<double>(), 1e-6);
  }
}

TEST(RnntLoss, LogitsAndLogProbsAgree) {
  torch::manual_seed(4);
  auto z = torch::randn({3, 4, 3, 5}, torch::kDouble);
  auto y = torch::tensor({{1, 2}, {3, 4}, {2, 2}});
  auto ll = torch::tensor({4, 3, 2}), tl = torch::tensor({2, 1, 2});
  auto a = rnnt_loss(z, y, ll, tl, RnntLossOptions().reduction(RnntReduction::None));
  auto b = rnnt_loss(torch::log_softmax(z, -1), y, ll, tl,
                     RnntLossOptions().input(RnntInput::LogProbs).reduction(RnntReduction::None));
  EXPECT_LT(max_abs(a - b), 1e-12);
}

TEST(RnntLoss, PaddedBatchEqualsUtterancesAndReductionsTheirDefinitions) {
  torch::manual_seed(5);
  const int64_t B = 3, T = 5, U = 3, V = 6;
  auto z = torch::randn({B, T, U + 1, V}, torch::kDouble).requires_grad_(true);
  auto y = torch::randint(1, V, {B, U}, torch::kLong);
  auto ll = torch::tensor({5, 2, 4}), tl = torch::tensor({3, 0, 2});
  auto none = rnnt_loss(z, y, ll, tl, RnntLossOptions().reduction(RnntReduction::None));
  auto g = torch::autograd::grad({none.sum()}, {z})[0];
  for (int64_t b = 0; b < B; ++b) {
    const int64_t Tb = ll[b].item<int64_t>(), Ub = tl[b].item<int64_t>();
    auto zb = z.detach()[b].slice(0, 0, Tb).slice(1, 0, Ub + 1).unsqueeze(0).clone()
                  .requires_grad_(true);
    auto lb = rnnt_loss(zb, y[b].slice(0, 0, Ub).unsqueeze(0), torch::tensor({Tb}),
                        torch::tensor({Ub}));
    EXPECT_NEAR(lb.item<double>(), none[b].item<double>(), 1e-12);
    auto gb = torch::autograd::grad({lb}, {zb})[0][0];
    auto gpad = g[b];
    EXPECT_LT(max_abs(gpad.slice(0, 0, Tb).slice(1, 0, Ub + 1) - gb), 1e-12);
    EXPECT_EQ(gpad.abs().sum().item<double>() -
                  gpad.slice(0, 0, Tb).slice(1, 0, Ub + 1).abs().sum().item<double>(),
              0.0);  // zero outside the utterance's lattice
  }
  auto red = [&](RnntReduction r) {
    return rnnt_loss(z, y, ll, tl, RnntLossOptions().reduction(r)).item<double>();
  };
  auto n = none.detach();
  EXPECT_NEAR(red(RnntReduction::Sum), n.sum().item<double>(), 1e-12);
  EXPECT_NEAR(red(RnntReduction::Mean), n.mean().item<double>(), 1e-12);
  EXPECT_NEAR(red(RnntReduction::MeanPerToken),
              (n[0] / 3 + n[1] / 1 + n[2] / 2).item<double>() / 3, 1e-12);
}

TEST(RnntLoss, FloatInputAgreesWithDoubleAndThreadsAgree) {
  torch::manual_seed(6);
  auto z = torch::randn({4, 7, 4, 9}, torch::kDouble);
  auto y = torch::randint(1, 9, {4, 3}, torch::kLong);
  auto ll = torch::tensor({7, 5, 6, 7}), tl = torch::tensor({3, 2, 3, 1});
  auto d = rnnt_costs(z, y, ll, tl, RnntInput::Logits, 0, -1, true);
  auto f = rnnt_costs(z.to(torch::kFloat), y.to(torch::kInt), ll.to(torch::kInt), tl,
                      RnntInput::Logits, 0, -1, true);
  EXPECT_LT(max_abs((f.costs - d.costs) / d.costs), 1e-5);
  EXPECT_LT(max_abs(f.grad.to(torch::kDouble) - d.grad), 1e-5);
  nc::set_threads(2);
  auto d2 = rnnt_costs(z, y, ll, tl, RnntInput::Logits, 0, -1, true);
  nc::set_threads(1);
  EXPECT_TRUE(torch::equal(d.costs, d2.costs));
  EXPECT_TRUE(torch::equal(d.grad, d2.grad));
}

TEST(RnntLoss, ClampBoundsTheGradient) {
  torch::manual_seed(7);
  auto z = (torch::randn({1, 4, 3, 5}, torch::kDouble) * 5).requires_grad_(true);
  auto y = torch::tensor({{1, 2}});
  auto loss = rnnt_loss(z, y, torch::tensor({4}), torch::tensor({2}),
                        RnntLossOptions().clamp(0.05).reduction(RnntReduction::Sum));
  auto g = torch::autograd::grad({loss}, {z})[0];
  EXPECT_LE(max_abs(g), 0.05 + 1e-15);
  auto full = rnnt_costs(z, y, torch::tensor({4}), torch::tensor({2}), RnntInput::Logits, 0, -1,
                         true);
  EXPECT_GT(max_abs(full.grad), 0.05);
}

TEST(RnntLoss, BadInputIsAUserError) {
  auto z = torch::randn({1, 3, 3, 4});
  auto ll = torch::tensor({3}), tl = torch::tensor({2});
  EXPECT_THROW(rnnt_loss(z, torch::tensor({{1, 0}}), ll, tl), UserError);  // target = blank
  EXPECT_THROW(rnnt_loss(z, torch::tensor({{1, 4}}), ll, tl), UserError);  // outside V
  EXPECT_THROW(rnnt_loss(z, torch::tensor({{1, 2}}), torch::tensor({4}), tl), UserError);
  EXPECT_THROW(rnnt_loss(z, torch::tensor({{1, 2}}), ll, torch::tensor({3})), UserError);
  EXPECT_THROW(rnnt_loss(z, torch::tensor({{1, 2}}), ll, tl, RnntLossOptions().blank(4)),
               UserError);
  EXPECT_THROW(rnnt_loss(z[0], torch::tensor({{1, 2}}), ll, tl), UserError);
  EXPECT_THROW(parse_rnnt_input("probs", "asr.loss_input"), UserError);
  EXPECT_EQ(parse_rnnt_reduction("mean_per_token", "r"), RnntReduction::MeanPerToken);
}

}  // namespace
}  // namespace nc::asr
