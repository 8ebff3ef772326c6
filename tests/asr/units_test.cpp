// The RNN-T units and model (asr.md §10, property 8; issue #25: AA units' gradients against
// finite differences).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/core/error.h"
#include "neurocore/nn/asr_units.h"
#include "neurocore/nn/rnnt.h"

namespace nc::nn {
namespace {

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() /
         std::max({a.norm().item<double>(), b.norm().item<double>(), 1e-300});
}

// Central finite differences of loss() with respect to every parameter of `m`.
std::vector<torch::Tensor> finite_differences(torch::nn::Module& m,
                                              const std::function<double()>& loss) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  const double eps = 1e-6;
  for (auto& p : m.parameters()) {
    auto g = torch::zeros_like(p);
    auto flat = p.view(-1);
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double v = flat[i].item<double>();
      flat[i] = v + eps;
      const double plus = loss();
      flat[i] = v - eps;
      const double minus = loss();
      flat[i] = v;
      g.view(-1)[i] = (plus - minus) / (2 * eps);
    }
    out.push_back(g);
  }
  return out;
}

TEST(AsrUnits, SmoothUnitsGradientsEqualFiniteDifferences) {
  for (auto kind : {AsrUnitKind::ssnu_aa, AsrUnitKind::ssnu_aa_x, AsrUnitKind::ssnu,
                    AsrUnitKind::lstm}) {
    torch::manual_seed(21);
    AsrUnit unit(AsrUnitOptions(3, 4, kind).trainable_decay(true).threshold_init(0.2));
    unit->to(torch::kDouble);
    auto x = torch::randn({5, 2, 3}, torch::kDouble);
    auto r = torch::randn({5, 2, 4}, torch::kDouble);
    auto loss = [&] {
      AsrUnitState st;
      return (unit->forward(x, st) * r).sum();
    };
    auto grads = torch::autograd::grad({loss()}, unit->parameters());
    auto fd = finite_differences(*unit, [&] { return loss().item<double>(); });
    for (size_t i = 0; i < grads.size(); ++i)
      EXPECT_LT(relative_error(grads[i], fd[i]), 1e-6) << asr_unit_name(kind) << " parameter " << i;
  }
}

TEST(AsrUnits, SpikingAaUnitUsesTheSurrogateThroughTheGate) {
  // SNU-AA: y = o * step(s - theta). d y / d b_a = o (1 - o) z exactly (the gate is smooth),
  // so finite differences in the gate's bias match autograd even for the spiking unit.
  torch::manual_seed(22);
  AsrUnit unit(AsrUnitOptions(3, 4, AsrUnitKind::snu_aa));
  unit->to(torch::kDouble);
  auto x = torch::randn({1, 2, 3}, torch::kDouble);
  AsrUnitState st;
  auto y = unit->forward(x, st);
  auto g = torch::autograd::grad({y.sum()}, {unit->bias})[0];
  auto gate = torch::sigmoid(torch::matmul(x[0], unit->weight.narrow(0, 4, 4).t()) +
                             unit->bias.narrow(0, 4, 4));
  auto z = st[1];
  EXPECT_LT(relative_error(g.narrow(0, 4, 4), (gate * (1 - gate) * z).sum(0)), 1e-12);
  EXPECT_TRUE(((z == 0) | (z == 1)).all().item<bool>());  // the soma spikes; y is graded
}

TEST(AsrUnits, AaWithAnOpenGateEqualsTheSoftUnit) {
  torch::manual_seed(23);
  AsrUnit aa(AsrUnitOptions(3, 4, AsrUnitKind::ssnu_aa));
  AsrUnit plain(AsrUnitOptions(3, 4, AsrUnitKind::ssnu));
  aa->to(torch::kDouble);
  plain->to(torch::kDouble);
  {
    torch::NoGradGuard ng;
    plain->weight.copy_(aa->weight.narrow(0, 0, 4));
    plain->recurrent_weight.copy_(aa->recurrent_weight.narrow(0, 0, 4));
    plain->bias.copy_(aa->bias.narrow(0, 0, 4));
    aa->weight.narrow(0, 4, 4).zero_();
    aa->recurrent_weight.narrow(0, 4, 4).zero_();
    aa->bias.narrow(0, 4, 4).fill_(1000.0);  // sigmoid(1000) == 1 in double: o = 1
  }
  auto x = torch::randn({6, 2, 3}, torch::kDouble);
  AsrUnitState s1, s2;
  EXPECT_TRUE(torch::equal(aa->forward(x, s1), plain->forward(x, s2)));
}

TEST(AsrUnits, MacCountersEqualTheFormulas) {
  const int64_t m = 7, n = 5;
  auto macs = [&](AsrUnitKind k) { return AsrUnit(AsrUnitOptions(m, n, k))->macs_per_step(); };
  EXPECT_EQ(macs(AsrUnitKind::lstm), 4 * n * (m + n));
  EXPECT_EQ(macs(AsrUnitKind::ssnu), n * (m + n));
  EXPECT_EQ(macs(AsrUnitKind::snu), n * (m + n));
  EXPECT_EQ(macs(AsrUnitKind::ssnu_aa), 2 * n * (m + n));
  EXPECT_EQ(macs(AsrUnitKind::ssnu_aa_x), n * (m + n) + n * m);
  // The formulas count every weight once: MACs equal the number of weights (no bias).
  for (auto k : {AsrUnitKind::lstm, AsrUnitKind::ssnu, AsrUnitKind::ssnu_aa, AsrUnitKind::ssnu_aa_x}) {
    AsrUnit u(AsrUnitOptions(m, n, k));
    EXPECT_EQ(u->weight.numel() + u->recurrent_weight.numel(), u->macs_per_step());
  }
  EXPECT_THROW(parse_asr_unit("gru", "model.unit"), UserError);
  EXPECT_THROW(AsrUnit(AsrUnitOptions(0, 3, AsrUnitKind::ssnu)), UserError);
}

TEST(RnntModel, StreamingStepsEqualTheWholeSequence) {
  torch::manual_seed(24);
  RnntModel model(RnntModelOptions(6, 29).hidden(8).embed(5).predictor_hidden(7).joint(9));
  auto x = torch::randn({10, 2, 6});
  auto f = model->encode(x, torch::tensor({10, 10}));
  EncoderState st;
  for (int64_t t = 0; t < 10; ++t)
    EXPECT_LT((model->encode_step(x[t], st) - f[t]).abs().max().item<double>(), 1e-6);
  auto y = torch::tensor({{3, 4, 5}, {1, 2, 2}});
  auto p = model->predict(y);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{2, 4, 7}));
  AsrUnitState ps;
  auto p0 = model->predict_step(torch::zeros({2}, torch::kLong), ps);
  auto p1 = model->predict_step(y.select(1, 0), ps);
  EXPECT_LT((p1 - p.select(1, 1)).abs().max().item<double>(), 1e-6);
  EXPECT_LT((p0 - p.select(1, 0)).abs().max().item<double>(), 1e-6);
  auto l = model->joint(f.transpose(0, 1), p);
  ASSERT_EQ(l.sizes(), (std::vector<int64_t>{2, 10, 4, 29}));
  EXPECT_LT((model->joint_step(f[3][1], p[1][2]) - l[1][3][2]).abs().max().item<double>(), 1e-6);
}

TEST(RnntModel, BidirectionalEncoderIgnoresPadding) {
  torch::manual_seed(25);
  RnntModel model(RnntModelOptions(4, 29).unit(AsrUnitKind::lstm).bidirectional(true).hidden(3));
  auto x = torch::randn({6, 2, 4});
  auto padded = x.clone();
  padded.slice(0, 4).select(1, 1).fill_(9.0);  // utterance 1 has length 4
  auto a = model->encode(x, torch::tensor({6, 4}));
  auto b = model->encode(padded, torch::tensor({6, 4}));
  EXPECT_LT((a.slice(0, 0, 4).select(1, 1) - b.slice(0, 0, 4).select(1, 1)).abs().max().item<double>(), 1e-6);
  auto alone = model->encode(x.slice(0, 0, 4).slice(1, 1, 2), torch::tensor({4}));
  EXPECT_LT((alone.select(1, 0) - b.slice(0, 0, 4).select(1, 1)).abs().max().item<double>(), 1e-6);
  EXPECT_THROW(RnntModel(RnntModelOptions(4, 29).unit(AsrUnitKind::ssnu).bidirectional(true)), UserError);
}

}  // namespace
}  // namespace nc::nn
