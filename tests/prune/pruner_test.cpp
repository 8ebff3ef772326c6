// Masks, one-shot selections and a whole prune run through the Trainer (spec dtp.md §6, §7.3).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "neurocore/compress/prune/pruner.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/data/registry.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/rule.h"
#include "neurocore/learn/trainer.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress::prune {
namespace {

namespace fs = std::filesystem;

TEST(Masker, WeightMasksMultiplyTheWeights) {
  torch::manual_seed(1);
  auto net = std::make_shared<nn::LeNet5Impl>(nn::InputShape{1, 28, 28}, 10);
  const auto x = torch::randn({2, 1, 28, 28});
  const auto st = model_structure(*net, {1, 28, 28});
  torch::Tensor masked;
  auto copy = std::make_shared<nn::LeNet5Impl>(nn::InputShape{1, 28, 28}, 10);
  {
    torch::NoGradGuard g;
    for (const auto& p : net->named_parameters()) copy->named_parameters()[p.key()].copy_(p.value());
  }
  {
    Masker m(*net, st, Granularity::weight);
    const auto mask = (torch::rand({m.size()}) > 0.5).to(torch::kFloat);
    m.set(mask);
    masked = net->forward(x);
    torch::NoGradGuard g;
    const auto cst = model_structure(*copy, {1, 28, 28});
    for (std::size_t l = 0; l < st.layers.size(); ++l) cst.layers[l].weight.mul_(m.weight_mask(l));
  }
  EXPECT_TRUE(torch::allclose(masked, copy->forward(x), 1e-5, 1e-5));
  // Uninstalled: the model computes with its own weights again.
  EXPECT_FALSE(torch::allclose(net->forward(x), masked, 1e-5, 1e-5));
}

TEST(HardMasks, EveryMethodMeetsTheBudget) {
  torch::manual_seed(2);
  nn::ResNetImpl res(nn::ResNetOptions(8, 10));
  nn::LeNet5Impl lenet(nn::InputShape{1, 28, 28}, 10);
  for (auto g : {Granularity::channel, Granularity::weight}) {
    nn::NetImpl& net = g == Granularity::channel ? static_cast<nn::NetImpl&>(res) : lenet;
    const nn::InputShape in = g == Granularity::channel ? nn::InputShape{3, 16, 16} : nn::InputShape{1, 28, 28};
    Masker m(net, model_structure(net, in), g);
    const auto scores = torch::rand({m.size()}, torch::kDouble);
    for (auto kind : {BudgetKind::params, BudgetKind::flops}) {
      for (double r : {0.5, 0.2, 0.05}) {
        for (auto method : {Method::dtp, Method::magnitude, Method::uniform, Method::l1}) {
          if (method == Method::l1 && g == Granularity::weight) continue;
          const auto hard = hard_masks(m, method, scores, r, kind);
          double target = r * dense_cost(m.structure(), kind);
          // Unit costs: exactly round(r n) weights, the nearest count to the budget.
          if (g == Granularity::weight && kind == BudgetKind::params && method != Method::uniform)
            target = std::round(target);
          const double cost = masked_cost(m, hard, kind);
          EXPECT_LE(cost, target * (1 + 1e-12)) << to_string(method) << " " << r;
          EXPECT_GT(cost, 0.5 * target) << to_string(method) << " " << r;
          if (g == Granularity::weight && kind == BudgetKind::params && method != Method::uniform) {
            EXPECT_EQ(hard.sum().item<double>(), std::round(r * m.size()));
          }
          if (g == Granularity::weight && method != Method::uniform) {
            // Per-layer budgets: each layer on its own; parameters exactly, FLOPs within.
            const auto lh = hard_masks(m, method, scores, r, kind, Scope::layer);
            const auto budgets = layer_budgets(m.structure(), r, kind);
            const auto c = weight_costs(m.structure(), kind);
            int64_t off = 0;
            for (std::size_t l = 0; l < budgets.size(); ++l) {
              const int64_t n = m.structure().layers[l].weight.numel();
              const double used = (lh.slice(0, off, off + n).to(torch::kDouble) * c.slice(0, off, off + n)).sum().item<double>();
              if (kind == BudgetKind::params) {
                EXPECT_EQ(used, budgets[l]) << l;
              } else {
                EXPECT_LE(used, budgets[l]) << l;
                EXPECT_GT(used, budgets[l] - c.slice(0, off, off + n).max().item<double>()) << l;
              }
              off += n;
            }
          }
          if (g == Granularity::channel && method == Method::dtp) {
            // Nothing left out would still fit.
            for (int64_t e = 0; e < m.size(); ++e) {
              if (hard[e].item<float>() > 0) continue;
              auto more = hard.clone();
              more[e] = 1;
              EXPECT_GT(masked_cost(m, more, kind), target) << e;
            }
          }
        }
      }
    }
  }
}

// The counts of channel_layer_shares by brute force: every level at which some group's count
// max(1, floor(q n_g)) changes (q = j / n_g), the highest whose exact cost fits.
std::vector<int64_t> brute_force_shares(const ModelStructure& st, const std::vector<std::vector<int64_t>>& groups,
                                        double target, BudgetKind kind) {
  std::vector<int64_t> best;
  double best_q = -1;
  for (const auto& gq : groups) {
    const auto nq = static_cast<int64_t>(gq.size());
    for (int64_t j = 0; j <= nq; ++j) {
      const double q = static_cast<double>(j) / static_cast<double>(nq);
      std::vector<int64_t> k;
      auto m = torch::zeros({st.elements}, torch::kDouble);
      for (const auto& g : groups) {
        const auto n = static_cast<int64_t>(g.size());
        // floor(q n) for q = j / nq, in integers.
        k.push_back(std::max<int64_t>(1, j * n / nq));
        for (int64_t i = 0; i < k.back(); ++i) m[g[i]] = 1.0;
      }
      if (channel_cost(st, m, kind) <= target && q > best_q) {
        best_q = q;
        best = k;
      }
    }
  }
  return best;
}

double group_sum(const torch::Tensor& m, const std::vector<int64_t>& g) {
  return m.to(torch::kDouble).index_select(0, torch::tensor(g, torch::kLong)).sum().item<double>();
}

// Per-layer channel budgets: each layer's own elements keep exactly their share, the largest
// uniform fraction whose exact cost fits; every method keeps those counts, magnitude's per-layer
// selection is layer-uniform magnitude itself.
TEST(HardMasks, ChannelLayerScopeKeepsEachLayersShare) {
  torch::manual_seed(12);
  nn::ResNetImpl res(nn::ResNetOptions(8, 10));
  nn::LeNet5Impl lenet(nn::InputShape{1, 28, 28}, 10);
  for (nn::NetImpl* net : {static_cast<nn::NetImpl*>(&res), static_cast<nn::NetImpl*>(&lenet)}) {
    const nn::InputShape in = net == &res ? nn::InputShape{3, 16, 16} : nn::InputShape{1, 28, 28};
    Masker m(*net, model_structure(*net, in), Granularity::channel);
    const auto& st = m.structure();
    const auto scores = torch::rand({m.size()}, torch::kDouble);
    for (auto kind : {BudgetKind::params, BudgetKind::flops}) {
      for (double r : {0.5, 0.2, 0.1}) {
        const auto sh = channel_layer_shares(st, r, kind);
        const double target = r * dense_cost(st, kind);
        EXPECT_EQ(sh.keep, brute_force_shares(st, sh.elements, target, kind)) << r;
        EXPECT_LE(sh.cost, target);
        // The groups partition the elements.
        int64_t total = 0;
        for (const auto& g : sh.elements) total += static_cast<int64_t>(g.size());
        EXPECT_EQ(total, st.elements);
        for (auto method : {Method::dtp, Method::ste, Method::magnitude}) {
          const auto hard = hard_masks(m, method, scores, r, kind, Scope::layer);
          for (std::size_t g = 0; g < sh.elements.size(); ++g)
            EXPECT_EQ(group_sum(hard, sh.elements[g]), static_cast<double>(sh.keep[g])) << g;
          EXPECT_EQ(masked_cost(m, hard, kind), sh.cost);
          if (method != Method::magnitude) {
            // Within a group the kept elements are the best-scoring ones.
            for (const auto& g : sh.elements) {
              double worst_kept = 2, best_dropped = -1;
              for (auto e : g) {
                const double sc = scores[e].item<double>();
                if (hard[e].item<float>() > 0) {
                  worst_kept = std::min(worst_kept, sc);
                } else {
                  best_dropped = std::max(best_dropped, sc);
                }
              }
              EXPECT_GT(worst_kept, best_dropped);
            }
          }
        }
        EXPECT_TRUE(hard_masks(m, Method::magnitude, {}, r, kind, Scope::layer)
                        .equal(hard_masks(m, Method::uniform, {}, r, kind)));
      }
    }
  }
}

double metric(learn::Rule& rule, const std::string& name) {
  for (const auto& [k, v] : rule.epoch_metrics())
    if (k == name) return v;
  throw std::runtime_error("no metric " + name);
}

// Channel DTP on a ResNet keeps its budget at every step (exact: the bilinear count itself;
// prox: its tangent, converging). Regression: costs linearised at the previous step's masks
// made the budget unreachable after the first step.
TEST(PruneRule, ResNetChannelBudgetHoldsAtEveryStep) {
  for (auto variant : {Variant::exact, Variant::prox}) {
    for (auto kind : {BudgetKind::params, BudgetKind::flops}) {
      torch::manual_seed(3);
      nn::ResNetImpl net(nn::ResNetOptions(8, 10));
      Masker masker(net, model_structure(net, {3, 16, 16}), Granularity::channel);
      PruneOptions o;
      o.budget = 0.2;
      o.granularity = Granularity::channel;
      o.kind = kind;
      o.variant = variant;
      o.epochs = 1;
      o.soft_fraction = 1;
      const int steps = 12;
      auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), steps);
      rule->start_epoch(1, 0);
      torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.05));
      const auto x = torch::randn({16, 3, 16, 16});
      const auto y = torch::randint(0, 10, {16});
      const double target = 0.2 * dense_cost(masker.structure(), kind);
      double first = 0, last = 0;
      for (int t = 0; t < steps; ++t) {
        rule->train_batch(net, x, y, "cross_entropy", opt);
        last = metric(*rule, "budget_rel_error");
        if (t == 0) first = last;
        if (variant == Variant::exact) {
          EXPECT_LE(last, 1e-9) << t;
        }
      }
      if (variant == Variant::prox) {
        EXPECT_LT(last, std::max(1e-3, 0.1 * first));
      }
      rule->finalise();
      const double hard = channel_cost(masker.structure(), masker.mask(), kind);
      EXPECT_LE(hard, target);
      EXPECT_GT(hard, 0.8 * target);
    }
  }
}

// LeNet-5 under a MACs budget with scores built so that the soft top-k's one fractional element
// is a costly conv1 channel: conv1 channel 0, 4 conv2 channels, 60 fc1 and 42 fc2 units score
// 0.9 (kept), conv1 channel 1 scores 0.5 (at the threshold), the rest 0.1; the budget is the
// kept set's cost plus the fraction `theta` of what adding conv1 channel 1 costs, so its soft
// mask tends to theta.
struct FractionalCase {
  ModelStructure st;
  torch::Tensor scores, soft;
  int64_t f = -1;  // the fractional element
  double target = 0;
};
FractionalCase fractional_case(nn::NetImpl& net, double theta) {
  FractionalCase fc;
  fc.st = model_structure(net, {1, 28, 28});
  const auto& st = fc.st;
  fc.scores = torch::full({st.elements}, 0.1, torch::kDouble);
  const int64_t top[] = {1, 4, 60, 42};  // per layer: elements at 0.9
  for (std::size_t l = 0; l < 4; ++l)
    for (int64_t i = 0; i < top[l]; ++i) fc.scores[st.layers[l].out_element[i]] = 0.9;
  fc.f = st.layers[0].out_element[1];
  fc.scores[fc.f] = 0.5;
  const auto kept = (fc.scores > 0.8).to(torch::kDouble);
  auto with_f = kept.clone();
  with_f[fc.f] = 1.0;
  const double base = channel_cost(st, kept, BudgetKind::flops);
  fc.target = base + theta * (channel_cost(st, with_f, BudgetKind::flops) - base);
  const MaskCost cost = [&st](const torch::Tensor& m, torch::Tensor* grad) {
    if (grad) *grad = channel_cost_grad(st, m, BudgetKind::flops);
    return channel_cost(st, m, BudgetKind::flops);
  };
  fc.soft = soft_topk(fc.scores, cost, fc.target, 1e-4).mask.detach();
  return fc;
}

double cost_distance(const FractionalCase& fc, const torch::Tensor& hard) {
  const auto c = channel_cost_grad(fc.st, fc.soft, BudgetKind::flops);
  return (c * (hard.to(torch::kDouble) - fc.soft).abs()).sum().item<double>();
}

// The old (spec §6) rule drops the costly element the soft masks kept at 0.75 and fills its
// budget with elements they had at 0; the nearest rounding keeps it, pays for it with the
// lowest-score kept elements and still meets the budget, leaving nothing out that would fit.
TEST(RoundChannels, KeepsTheCostlyFractionalChannelWithinTheBudget) {
  torch::manual_seed(6);
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  const auto fc = fractional_case(net, 0.75);
  // The construction: one fractional element, the costly conv1 channel, at about 0.75.
  const auto frac = (fc.soft > 1e-6) & (fc.soft < 1 - 1e-6);
  ASSERT_EQ(frac.sum().item<int64_t>(), 1);
  ASSERT_TRUE(frac[fc.f].item<bool>());
  ASSERT_NEAR(fc.soft[fc.f].item<double>(), 0.75, 0.01);
  Masker masker(net, fc.st, Granularity::channel);
  const double r = fc.target / dense_cost(fc.st, BudgetKind::flops);
  const auto greedy = hard_masks(masker, Method::dtp, fc.scores, r, BudgetKind::flops);
  EXPECT_EQ(greedy[fc.f].item<float>(), 0.f);  // the old rule drops it
  const auto nearest = round_channels(fc.st, fc.scores, fc.soft, fc.target, BudgetKind::flops);
  EXPECT_EQ(nearest[fc.f].item<float>(), 1.f);
  const double cost = channel_cost(fc.st, nearest, BudgetKind::flops);
  EXPECT_LE(cost, fc.target);
  for (int64_t e = 0; e < fc.st.elements; ++e) {  // nothing left out would still fit
    if (nearest[e].item<float>() > 0) continue;
    auto more = nearest.clone();
    more[e] = 1;
    EXPECT_GT(channel_cost(fc.st, more, BudgetKind::flops), fc.target) << e;
  }
  for (std::size_t l = 0; l < 4; ++l) {  // no layer emptied
    double k = 0;
    for (auto e : fc.st.layers[l].out_element) k += nearest[e].item<float>();
    EXPECT_GE(k, 1) << l;
  }
  EXPECT_LT(cost_distance(fc, nearest), cost_distance(fc, greedy));
}

// With the costly element mostly pruned (soft mask 0.25) dropping it is the nearer rounding:
// both rules give the same selection.
TEST(RoundChannels, AgreesWithTheGreedyRuleBelowOneHalf) {
  torch::manual_seed(6);
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  const auto fc = fractional_case(net, 0.25);
  ASSERT_NEAR(fc.soft[fc.f].item<double>(), 0.25, 0.01);
  Masker masker(net, fc.st, Granularity::channel);
  const double r = fc.target / dense_cost(fc.st, BudgetKind::flops);
  const auto greedy = hard_masks(masker, Method::dtp, fc.scores, r, BudgetKind::flops);
  const auto nearest = round_channels(fc.st, fc.scores, fc.soft, fc.target, BudgetKind::flops);
  EXPECT_TRUE(torch::equal(greedy, nearest));
  EXPECT_EQ(nearest[fc.f].item<float>(), 0.f);
}

// The prox variant's masks follow its plan's history of scores, not the current scores: after
// 200 steps at one score order and one step at the reversed order the plan still keeps (mostly)
// the first order's channels. `--rounding plan` rounds the plan's own last masks (the
// checkpointed buffer prune_soft), ranked by themselves, so the hard selection is nearer the
// masks the weights were trained with than a selection by the current scores; it keeps the
// budget, and nothing left out would fit. `--rounding greedy` selects by the scores (spec §6);
// `nearest` (the exact solver's masks at eps_min) keeps no buffer.
TEST(PruneRule, ProxChannelRoundingRoundsThePlansOwnMasks) {
  for (auto rounding : {Rounding::plan, Rounding::greedy, Rounding::nearest}) {
    torch::manual_seed(9);
    nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
    Masker masker(net, model_structure(net, {1, 28, 28}), Granularity::channel);
    PruneOptions o;
    o.budget = 0.3;
    o.granularity = Granularity::channel;
    o.kind = BudgetKind::params;
    o.variant = Variant::prox;
    o.rounding = rounding;
    o.epochs = 1;
    o.soft_fraction = 1;
    const int steps = 201;
    auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), steps);
    auto buffers = net.named_buffers(/*recurse=*/false);
    ASSERT_EQ(buffers.contains("prune_soft"), rounding == Rounding::plan);
    if (rounding == Rounding::nearest) continue;
    auto scores = net.named_parameters(/*recurse=*/false)["prune_scores"];
    const auto& st = masker.structure();
    const auto a = torch::rand({st.elements});
    {
      torch::NoGradGuard no_grad;
      scores.copy_(a);
    }
    rule->start_epoch(1, 0);
    torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.0));  // scores held
    const auto x = torch::randn({4, 1, 28, 28});
    const auto y = torch::randint(0, 10, {4});
    for (int t = 0; t < steps; ++t) {
      if (t == steps - 1) {
        torch::NoGradGuard no_grad;
        scores.copy_(1 - a);  // the order reversed for the last step
      }
      rule->train_batch(net, x, y, "cross_entropy", opt);
    }
    const auto soft = masker.mask().to(torch::kDouble);
    const double target = o.budget * dense_cost(st, o.kind);
    const auto by_scores = hard_masks(masker, Method::dtp, scores.detach(), o.budget, o.kind);
    rule->finalise();
    const auto hard = masker.mask();
    if (rounding == Rounding::greedy) {
      EXPECT_TRUE(torch::equal(hard, by_scores));
      continue;
    }
    const auto own = buffers["prune_soft"];
    EXPECT_TRUE(torch::allclose(own.to(torch::kFloat), soft.to(torch::kFloat)));
    EXPECT_TRUE(torch::equal(hard, round_channels(st, own, own, target, o.kind)));
    const double cost = channel_cost(st, hard, o.kind);
    EXPECT_LE(cost, target);
    for (int64_t e = 0; e < st.elements; ++e) {  // nothing left out would still fit
      if (hard[e].item<float>() > 0) continue;
      auto more = hard.clone();
      more[e] = 1;
      EXPECT_GT(channel_cost(st, more, o.kind), target) << e;
    }
    const auto c = channel_cost_grad(st, own, o.kind);
    auto dist = [&](const torch::Tensor& h) {
      return (c * (h.to(torch::kDouble) - own).abs()).sum().item<double>();
    };
    EXPECT_LT(dist(hard), 0.5 * dist(by_scores));
  }
}

// The soft phase never empties a layer: each layer's best element by score is held at mask 1
// (LeNet-5 at 10 % of its MACs: the conv1 channels' initial scores are above every conv2 / fc
// one, and a global threshold gave all of those masks near 0), the budget still exact.
TEST(PruneRule, ChannelSoftMasksKeepEveryLayersBestElement) {
  torch::manual_seed(7);
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  Masker masker(net, model_structure(net, {1, 28, 28}), Granularity::channel);
  PruneOptions o;
  o.budget = 0.1;
  o.granularity = Granularity::channel;
  o.kind = BudgetKind::flops;
  o.epochs = 1;
  o.soft_fraction = 1;
  const int steps = 6;
  auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), steps);
  rule->start_epoch(1, 0);
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.05));
  const auto x = torch::randn({8, 1, 28, 28});
  const auto y = torch::randint(0, 10, {8});
  const auto& st = masker.structure();
  for (int t = 0; t < steps; ++t) {
    rule->train_batch(net, x, y, "cross_entropy", opt);
    EXPECT_LE(metric(*rule, "budget_rel_error"), 1e-9) << t;
    const auto m = masker.mask();
    for (std::size_t l = 0; l < 4; ++l) {
      const auto idx = torch::tensor(st.layers[l].out_element, torch::kLong);
      EXPECT_EQ(m.index_select(0, idx).max().item<float>(), 1.f) << "layer " << l << " step " << t;
    }
  }
}

// Per-layer score initialisation: every layer's best element starts at 1 and each layer keeps
// the order of the global form (its scores are the global ones times a per-layer constant).
TEST(InitialScores, LayerFormPutsEveryLayersBestAtOne) {
  torch::manual_seed(8);
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  for (auto g : {Granularity::channel, Granularity::weight}) {
    Masker m(net, model_structure(net, {1, 28, 28}), g);
    const auto global = initial_scores(m, ScoreInit::global), layer = initial_scores(m, ScoreInit::layer);
    const auto& st = m.structure();
    int64_t off = 0;
    for (std::size_t l = 0; l < st.layers.size(); ++l) {
      torch::Tensor idx;
      if (g == Granularity::weight) {
        idx = torch::arange(off, off + st.layers[l].weight.numel());
        off += st.layers[l].weight.numel();
      } else if (st.layers[l].out_element.front() >= 0) {
        idx = torch::tensor(st.layers[l].out_element, torch::kLong);
      } else {
        continue;  // the classifier: no channel elements
      }
      const auto gl = global.index_select(0, idx), ly = layer.index_select(0, idx);
      EXPECT_DOUBLE_EQ(ly.max().item<double>(), 1.0) << l;
      EXPECT_TRUE(torch::allclose(ly, gl / gl.max(), 1e-12, 1e-12)) << l;
    }
    // The global form does not put every layer's best at 1 (the test can tell them apart).
    EXPECT_FALSE(torch::allclose(global, layer));
  }
}

PruneOptions soft_phase(Method method, double budget) {
  PruneOptions o;
  o.method = method;
  o.budget = budget;
  o.epochs = 1;
  o.soft_fraction = 1;
  return o;
}

// GMP: update k keeps round(r_k n) weights, r_k = r + (1 - r)(1 - (k + 1)/n)^3, each mask inside
// the previous one, the last at the budget.
TEST(PruneRule, GmpFollowsTheCubicScheduleWithNestedMasks) {
  torch::manual_seed(4);
  nn::MLPImpl net(nn::MLPOptions(64, 10).hidden({32, 16}));
  Masker masker(net, model_structure(net, {1, 8, 8}), Granularity::weight);
  auto o = soft_phase(Method::gmp, 0.1);
  o.gmp_updates = 5;
  const int steps = 20;
  auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), steps);
  rule->start_epoch(1, 0);
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const auto x = torch::randn({32, 1, 8, 8});
  const auto y = torch::randint(0, 10, {32});
  const double n = static_cast<double>(masker.size());
  auto prev = torch::ones({masker.size()});
  for (int t = 0; t < steps; ++t) {
    rule->train_batch(net, x, y, "cross_entropy", opt);
    const int k = std::min(4, t * 5 / steps);
    const double r = 0.1 + 0.9 * std::pow(1 - (k + 1) / 5.0, 3);
    const auto m = masker.mask().clone();
    EXPECT_EQ(m.sum().item<double>(), std::round(r * n)) << t;
    EXPECT_TRUE((m <= prev).all().item<bool>()) << t;
    prev = m;
  }
  rule->finalise();
  EXPECT_EQ(masker.mask().sum().item<double>(), std::round(0.1 * n));
  EXPECT_TRUE((masker.mask() <= prev).all().item<bool>());
}

// Straight-through: the forward pass uses the hard top-k of the scores (budget exact), and the
// scores move by the masks' gradient (SGD, no momentum: s - lr x factor x dL/dm, clamped).
TEST(PruneRule, SteUsesHardMasksAndHandsTheirGradientToTheScores) {
  torch::manual_seed(5);
  nn::MLPImpl net(nn::MLPOptions(64, 10).hidden({32}));
  Masker masker(net, model_structure(net, {1, 8, 8}), Granularity::weight);
  const auto o = soft_phase(Method::ste, 0.2);
  auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), 4);
  rule->start_epoch(1, 0);
  const double lr = 1e-3;
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(lr));
  const auto x = torch::randn({16, 1, 8, 8});
  const auto y = torch::randint(0, 10, {16});
  auto scores = net.named_parameters(false)["prune_scores"];
  const auto s0 = scores.detach().clone();
  const auto hard = hard_masks(masker, Method::ste, s0, o.budget, o.kind);
  EXPECT_EQ(hard.sum().item<double>(), std::round(0.2 * masker.size()));
  // dL/dm at the hard masks, by autograd on a leaf mask.
  const auto leaf = hard.clone().requires_grad_(true);
  masker.set(leaf);
  learn::classification_loss(net.forward(x), y, "cross_entropy").backward();
  const auto g = leaf.grad().clone();
  rule->train_batch(net, x, y, "cross_entropy", opt);
  EXPECT_TRUE(masker.mask().equal(hard));
  const auto expected = (s0 - lr * o.score_lr_factor * g).clamp(0, 1);
  EXPECT_TRUE(torch::allclose(scores.detach(), expected, 1e-5, 1e-7));
  EXPECT_GT((scores.detach() - s0).abs().max().item<double>(), 0);
}

// Per-layer budgets: every layer keeps its own fraction, exactly in the soft phase (sum of the
// layer's masks = its budget at every step) and after the hard selection.
TEST(PruneRule, LayerScopeKeepsEachLayersBudget) {
  for (auto variant : {Variant::exact, Variant::prox}) {
    torch::manual_seed(6);
    nn::MLPImpl net(nn::MLPOptions(64, 10).hidden({32, 16}));
    Masker masker(net, model_structure(net, {1, 8, 8}), Granularity::weight);
    auto o = soft_phase(Method::dtp, 0.1);
    o.scope = Scope::layer;
    o.variant = variant;
    auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), 6);
    rule->start_epoch(1, 0);
    torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.05));
    const auto x = torch::randn({32, 1, 8, 8});
    const auto y = torch::randint(0, 10, {32});
    const auto budgets = layer_budgets(masker.structure(), 0.1, BudgetKind::params);
    auto per_layer = [&](const torch::Tensor& m) {
      std::vector<double> k;
      int64_t off = 0;
      for (const auto& l : masker.structure().layers) {
        k.push_back(m.slice(0, off, off + l.weight.numel()).sum().item<double>());
        off += l.weight.numel();
      }
      return k;
    };
    for (int t = 0; t < 6; ++t) {
      rule->train_batch(net, x, y, "cross_entropy", opt);
      EXPECT_LE(metric(*rule, "budget_rel_error"), 1e-9) << t;
      const auto k = per_layer(masker.mask());
      for (std::size_t l = 0; l < k.size(); ++l) EXPECT_NEAR(k[l], budgets[l], 1e-4 * budgets[l]) << t << " " << l;
    }
    rule->finalise();
    const auto k = per_layer(masker.mask());
    for (std::size_t l = 0; l < k.size(); ++l) EXPECT_EQ(k[l], budgets[l]) << l;
  }
}

// Per-layer channel budgets in the soft phase: every group's masks sum to its share at every
// step (exact solver and one-sweep prox), and the hard selection keeps exactly the shares.
TEST(PruneRule, ChannelLayerScopeKeepsEachGroupsShareAtEveryStep) {
  for (auto variant : {Variant::exact, Variant::prox}) {
    torch::manual_seed(13);
    nn::ResNetImpl net(nn::ResNetOptions(8, 10));
    Masker masker(net, model_structure(net, {3, 16, 16}), Granularity::channel);
    auto o = soft_phase(Method::dtp, 0.3);
    o.granularity = Granularity::channel;
    o.scope = Scope::layer;
    o.kind = BudgetKind::flops;
    o.variant = variant;
    const auto sh = channel_layer_shares(masker.structure(), o.budget, o.kind);
    auto rule = attach_pruning(net, masker, o, std::make_unique<learn::BpttRule>(), 6);
    rule->start_epoch(1, 0);
    torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.05));
    const auto x = torch::randn({8, 3, 16, 16});
    const auto y = torch::randint(0, 10, {8});
    const auto s0 = net.named_parameters(false)["prune_scores"].detach().clone();
    for (int t = 0; t < 6; ++t) {
      rule->train_batch(net, x, y, "cross_entropy", opt);
      EXPECT_LE(metric(*rule, "budget_rel_error"), 1e-9) << t;
      for (std::size_t g = 0; g < sh.elements.size(); ++g) {
        const double k = static_cast<double>(sh.keep[g]);
        EXPECT_NEAR(group_sum(masker.mask(), sh.elements[g]), k, 1e-5 * k) << t << " " << g;
      }
    }
    // The scores learned (a gradient reached them through the per-group solves).
    EXPECT_GT((net.named_parameters(false)["prune_scores"].detach() - s0).abs().max().item<double>(), 0);
    rule->finalise();
    for (std::size_t g = 0; g < sh.elements.size(); ++g)
      EXPECT_EQ(group_sum(masker.mask(), sh.elements[g]), static_cast<double>(sh.keep[g])) << g;
    EXPECT_EQ(channel_cost(masker.structure(), masker.mask(), o.kind), sh.cost);
    EXPECT_LE(sh.cost, o.budget * dense_cost(masker.structure(), o.kind));
  }
}

bool fashion_present() {
  for (const auto& d : data::list_datasets())
    if (d.name == "fashion-mnist") return d.available;
  return false;
}

PruneResult small_prune(const std::string& model, const std::string& optimizer, PruneOptions o) {
  const auto runs = (fs::temp_directory_path() / ("nc_prune_" + std::to_string(getpid()))).string();
  fs::remove_all(runs);
  auto c = Config::from_string(
      "seed: 7\nthreads: 1\ndata: {name: fashion-mnist, limit_train: 256, limit_test: 128}\n"
      "train: {epochs: 1, batch_size: 64, learning_rate: 0.02, momentum: 0.9}\n", "test.yaml");
  c.set("runs_dir=" + runs);
  c.set("model.name=" + model);
  c.set("train.optimizer=" + optimizer);
  if (model == "mlp") c.set("model.hidden=[32, 16]");
  if (optimizer == "adam") c.set("train.learning_rate=0.001");
  auto exp = learn::Experiment::build(c);
  auto run = RunDir::create(runs, "p");
  write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  auto r = prune_experiment(exp, run, o);
  fs::remove_all(runs);
  return r;
}

TEST(PruneExperiment, DtpMeetsTheBudgetWithSgdAndAdam) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  PruneOptions o;
  o.budget = 0.2;
  o.epochs = 2;
  for (const char* opt : {"sgd", "adam"}) {
    const auto r = small_prune("mlp", opt, o);
    EXPECT_EQ(r.params_after, std::round(0.2 * r.params_before)) << opt;
    EXPECT_EQ(r.epochs, 2);
    EXPECT_GT(r.acc_after, 15) << opt;  // chance is 10 %; 2 epochs of 256 images
  }
  o.granularity = Granularity::channel;
  o.kind = BudgetKind::flops;
  o.budget = 0.3;
  const auto r = small_prune("lenet5", "sgd", o);
  EXPECT_LE(r.flops_after, r.target);
  EXPECT_GT(r.flops_after, 0.8 * r.target);
}

TEST(PruneExperiment, GmpAndSteMeetTheBudget) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  for (auto method : {Method::gmp, Method::ste}) {
    PruneOptions o;
    o.method = method;
    o.budget = 0.2;
    o.epochs = 2;
    const auto r = small_prune("mlp", "sgd", o);
    EXPECT_EQ(r.params_after, std::round(0.2 * r.params_before)) << to_string(method);
    EXPECT_GT(r.acc_after, 15) << to_string(method);
  }
}

// An interrupted DTP run resumed from its checkpoint (scores and masks on the model) ends where
// the uninterrupted run ends: the same hard masks, the same weights up to the warm start of tau.
TEST(PruneExperiment, ResumedRunEqualsUninterruptedOne) {
  if (!fashion_present()) GTEST_SKIP() << "Fashion-MNIST not installed";
  const auto runs = (fs::temp_directory_path() / ("nc_prune_resume_" + std::to_string(getpid()))).string();
  fs::remove_all(runs);
  auto config = [&] {
    auto c = Config::from_string(
        "seed: 3\nthreads: 1\ndata: {name: fashion-mnist, limit_train: 128, limit_test: 64}\n"
        "model: {name: mlp, hidden: [16]}\n"
        "train: {epochs: 1, batch_size: 64, learning_rate: 0.02, momentum: 0.9}\n", "test.yaml");
    c.set("runs_dir=" + runs);
    return c;
  };
  PruneOptions o;
  o.budget = 0.3;
  o.epochs = 3;  // 2 soft, 1 hard
  int stop = 1;
  auto final_state = [&](const std::string& name, bool interrupt) {
    auto c = config();
    auto exp = learn::Experiment::build(c);
    auto run = RunDir::create(runs, name);
    write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
    if (interrupt) {
      auto o1 = o;
      o1.stop_after = stop;
      EXPECT_EQ(prune_experiment(exp, run, o1).epochs, stop);
      auto c2 = config();
      exp = learn::Experiment::build(c2);
      run = RunDir::open(run.path());
    }
    const auto r = prune_experiment(exp, run, o);
    EXPECT_EQ(r.epochs, 3);
    std::vector<torch::Tensor> state{r.hard};
    for (const auto& p : exp.model->named_parameters()) {
      // After a resume at the hard phase the scores have no gradient, while the uninterrupted
      // run's momentum keeps moving them: they are not used once the hard mask is fixed.
      if (stop == 2 && p.key() == "prune_scores") continue;
      state.push_back(p.value().detach().clone());
    }
    return state;
  };
  const auto a = final_state("straight", false);
  const auto b = final_state("resumed", true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_TRUE(a[0].equal(b[0]));
  for (std::size_t i = 1; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-4, 1e-5)) << i;
  // The prox variant's channels, resumed at the hard phase: its rounding reads the last soft
  // masks from the checkpoint (the plan itself is not recomputable from the scores).
  o.granularity = Granularity::channel;
  o.variant = Variant::prox;
  o.rounding = Rounding::plan;
  stop = 2;
  const auto pa = final_state("prox-straight", false);
  const auto pb = final_state("prox-resumed", true);
  ASSERT_EQ(pa.size(), pb.size());
  EXPECT_TRUE(pa[0].equal(pb[0]));
  for (std::size_t i = 1; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-4, 1e-5)) << i;
  fs::remove_all(runs);
}

TEST(PruneExperiment, BadOptionsNameTheFlag) {
  nn::ResNetImpl b(nn::ResNetOptions(8, 10).shortcut(nn::Shortcut::B));
  const auto st = model_structure(b, {3, 16, 16});
  PruneOptions o;
  for (double bad : {0.0, 1.5, -0.1, 1.0}) {
    o.budget = bad;
    try {
      validate(o, st);
      ADD_FAILURE() << bad;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos);
    }
  }
  o.budget = 0.1;
  o.granularity = Granularity::channel;
  EXPECT_THROW(validate(o, st), UserError);
  o.granularity = Granularity::weight;
  o.method = Method::l1;
  EXPECT_THROW(validate(o, st), UserError);
  EXPECT_THROW(parse_method("foo", "--method"), UserError);
  o.method = Method::dtp;
  o.scope = Scope::layer;
  o.granularity = Granularity::channel;
  nn::ResNetImpl a(nn::ResNetOptions(8, 10));
  const auto sa = model_structure(a, {3, 16, 16});
  EXPECT_NO_THROW(validate(o, sa));
  // A per-layer channel budget below one channel per layer names --budget.
  try {
    channel_layer_shares(sa, 1e-4, BudgetKind::params);
    ADD_FAILURE() << "too small a per-layer budget";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos);
  }
  EXPECT_THROW(parse_scope("layers", "--scope"), UserError);
  // --rounding plan rounds the prox plan's masks: the exact variant (or a layer scope) has none.
  o.scope = Scope::global;
  o.rounding = Rounding::plan;
  try {
    validate(o, sa);
    ADD_FAILURE() << "--rounding plan with the exact variant";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("--rounding"), std::string::npos);
  }
  o.variant = Variant::prox;
  EXPECT_NO_THROW(validate(o, sa));
  o.scope = Scope::layer;
  EXPECT_THROW(validate(o, sa), UserError);
  o.scope = Scope::global;
  o.variant = Variant::exact;
  o.rounding = Rounding::nearest;
  // LeNet-5 at 5 % of its MACs (20,826): one channel per layer costs 22,136 (conv1 alone 28 x 28
  // x 25 = 19,600): refused before any training.
  nn::LeNet5Impl lenet(nn::InputShape{1, 28, 28}, 10);
  const auto sl = model_structure(lenet, {1, 28, 28});
  PruneOptions lo;
  lo.granularity = Granularity::channel;
  lo.kind = BudgetKind::flops;
  lo.budget = 0.05;
  for (auto scope : {Scope::global, Scope::layer}) {
    lo.scope = scope;
    try {
      validate(lo, sl);
      ADD_FAILURE() << "one channel per layer over the budget";
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos);
    }
  }
  lo.budget = 0.1;
  EXPECT_NO_THROW(validate(lo, sl));
}

}  // namespace
}  // namespace nc::compress::prune
