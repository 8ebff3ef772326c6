#include "neurocore/learn/grapes.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "learn/ostl_testing.h"
#include "nn/numerics.h"

namespace {

using nc::learn::Grapes;
using nc::learn::GrapesOptions;
using nc::learn::GrapesVersion;
using nc::nn::testing::relative_error;
using torch::Tensor;

torch::nn::LinearImpl& linear(nc::nn::MLPImpl& m, std::size_t i) {
  return *m.layers[i]->as<torch::nn::Linear>();
}

std::shared_ptr<nc::nn::MLPImpl> double_mlp(std::vector<int64_t> hidden,
                                            nc::nn::MLPActivation act, uint64_t seed) {
  torch::manual_seed(seed);
  nc::nn::MLPOptions o(6, 3);
  o.hidden(std::move(hidden)).activation(act);
  auto m = std::make_shared<nc::nn::MLPImpl>(o);
  m->to(torch::kDouble);
  return m;
}

struct Grads {
  std::vector<Tensor> w, b;
};

// Autograd gradients of the mean cross-entropy of m(x), with whatever is attached to m.
Grads autograd(nc::nn::MLPImpl& m, const Tensor& x, const Tensor& labels) {
  m.zero_grad();
  torch::nn::functional::cross_entropy(m.forward(x), labels).backward();
  Grads g;
  for (std::size_t i = 0; i < m.layers->size(); ++i) {
    g.w.push_back(linear(m, i).weight.grad().clone());
    g.b.push_back(linear(m, i).bias.grad().clone());
  }
  return g;
}

// The hand-written recursion of grapes.md §4 (propagating) and §5 (local) on a tanh MLP:
//   δ̃^L = e = (softmax(a^L) - t) / B;  δ^l = (W^{l+1}ᵀ δ̃^{l+1}) ⊙ f'(a^l);
//   propagating: δ̃^l = F^l ⊙ δ^l, G^l = δ̃^l (h^{l-1})ᵀ;
//   local: the unmodulated δ^l propagates and G^l = diag(F^l) δ^l (h^{l-1})ᵀ.
Grads by_hand(nc::nn::MLPImpl& m, const Tensor& x, const Tensor& labels,
              const std::vector<Tensor>& F, GrapesVersion version) {
  torch::NoGradGuard no_grad;
  const std::size_t n = m.layers->size();
  std::vector<Tensor> h{x};  // h[l]: the input of layer l
  Tensor logits;
  for (std::size_t l = 0; l < n; ++l) {
    const auto a = h.back().mm(linear(m, l).weight.t()) + linear(m, l).bias;
    if (l + 1 < n) h.push_back(torch::tanh(a)); else logits = a;
  }
  const int64_t B = x.size(0);
  Tensor err = (torch::softmax(logits, 1) -
                torch::one_hot(labels, logits.size(1)).to(torch::kDouble)) / B;
  Grads g{std::vector<Tensor>(n), std::vector<Tensor>(n)};
  for (std::size_t l = n; l-- > 0;) {
    Tensor used = err;
    if (l + 1 < n && version == GrapesVersion::local) used = F[l] * err;
    g.w[l] = used.t().mm(h[l]);
    g.b[l] = used.sum(0);
    if (l == 0) break;
    const Tensor delta = err.mm(linear(m, l).weight) * (1 - h[l] * h[l]);  // tanh' = 1 - h²
    err = version == GrapesVersion::propagating ? F[l - 1] * delta : delta;
  }
  return g;
}

// ---- factors -------------------------------------------------------------------------

TEST(Grapes, FactorsEqualTheFormulaOnAHandExample) {
  // Row L1 norms 4, 3, 6, 1.5; max 6; 2 I / max = 4/3, 1, 2, 1/2.
  const auto W = torch::tensor({1.0, -3.0, 0.0, -3.0, 2.0, -4.0, 0.5, 1.0}, torch::kDouble).view({4, 2});
  const auto I = nc::learn::grapes_importance(W);
  EXPECT_TRUE(torch::equal(I, torch::tensor({4.0, 3.0, 6.0, 1.5}, torch::kDouble)));
  const auto clipped = nc::learn::grapes_factor(I, true);
  const auto unclipped = nc::learn::grapes_factor(I, false);
  EXPECT_TRUE(torch::allclose(clipped, torch::tensor({4.0 / 3, 1.0, 2.0, 1.0}, torch::kDouble), 0, 1e-15));
  EXPECT_TRUE(torch::allclose(unclipped, torch::tensor({4.0 / 3, 1.0, 2.0, 0.5}, torch::kDouble), 0, 1e-15));
}

TEST(Grapes, ClippedFactorsLieInOneToTwo) {
  torch::manual_seed(1);
  const auto W = torch::randn({64, 20}, torch::kDouble) * torch::rand({64, 1}, torch::kDouble);
  const auto I = nc::learn::grapes_importance(W);
  const auto F = nc::learn::grapes_factor(I, true);
  EXPECT_GE(F.min().item<double>(), 1.0);
  EXPECT_LE(F.max().item<double>(), 2.0);
  EXPECT_EQ(F[I.argmax()].item<double>(), 2.0);
  const auto low = I <= 0.5 * I.max();
  ASSERT_GT(low.sum().item<int64_t>(), 0);
  EXPECT_TRUE(torch::all(F.masked_select(low) == 1).item<bool>());
  const auto raw = nc::learn::grapes_factor(I, false);
  EXPECT_GE(raw.min().item<double>(), 0.0);
  EXPECT_LT(raw.min().item<double>(), 1.0);  // unclipped goes below 1
}

// The published bug (spec §10.6): importance summed over the whole layer instead of per unit
// gives I_n = sum |W| for every n, hence F ≡ 2. Per unit, F follows each row.
TEST(Grapes, ImportanceIsPerUnitNotPerLayer) {
  torch::manual_seed(2);
  const auto W = torch::randn({8, 5}, torch::kDouble);
  const auto F = nc::learn::grapes_factor(nc::learn::grapes_importance(W), false);
  EXPECT_GT((F.max() - F.min()).item<double>(), 0.1) << "F is constant: importance per layer?";
  double max_row = 0;
  for (int64_t n = 0; n < 8; ++n) max_row = std::max(max_row, W[n].abs().sum().item<double>());
  for (int64_t n = 0; n < 8; ++n)
    EXPECT_NEAR(F[n].item<double>(), 2 * W[n].abs().sum().item<double>() / max_row, 1e-14);
  // Through the modulation attached to a model, too.
  auto m = double_mlp({7, 5}, nc::nn::MLPActivation::tanh, 3);
  Grapes g(*m);
  for (const auto& f : g.factors()) EXPECT_LT(f.min().item<double>(), 2.0);
}

TEST(Grapes, ConvImportanceIsOnePerOutputChannel) {
  torch::manual_seed(4);
  const auto K = torch::randn({4, 3, 2, 2}, torch::kDouble);
  const auto I = nc::learn::grapes_importance(K);
  ASSERT_EQ(I.sizes(), torch::IntArrayRef({4}));
  EXPECT_TRUE(torch::allclose(I, K.abs().sum({1, 2, 3}), 1e-14, 0));
  EXPECT_NEAR(I[2].item<double>(), K[2].abs().sum().item<double>(), 1e-14);
}

TEST(Grapes, ZeroUnitGetsOneClippedAndZeroUnclipped) {
  auto W = torch::ones({3, 4}, torch::kDouble);
  W[1].zero_();  // a dropped (or dead) unit
  EXPECT_TRUE(torch::equal(nc::learn::grapes_factor(nc::learn::grapes_importance(W), true),
                           torch::tensor({2.0, 1.0, 2.0}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(nc::learn::grapes_factor(nc::learn::grapes_importance(W), false),
                           torch::tensor({2.0, 0.0, 2.0}, torch::kDouble)));
  // An all-zero layer: F = 1 (documented choice), never NaN.
  EXPECT_TRUE(torch::equal(nc::learn::grapes_factor(torch::zeros({3}, torch::kDouble), false),
                           torch::ones({3}, torch::kDouble)));
}

TEST(Grapes, FactorsAreRecomputedPerBatchWithoutGradient) {
  auto m = double_mlp({5}, nc::nn::MLPActivation::tanh, 5);
  Grapes g(*m);
  const auto before = g.factors()[0].clone();
  EXPECT_FALSE(before.requires_grad());
  {
    torch::NoGradGuard no_grad;
    linear(*m, 0).weight[0].mul_(100);  // unit 0 becomes the most important
  }
  EXPECT_TRUE(torch::equal(g.factors()[0], before));  // not until before_batch
  g.before_batch(*m);
  EXPECT_EQ(g.factors()[0][0].item<double>(), 2.0);
  EXPECT_FALSE(g.factors()[0].requires_grad());
  EXPECT_FALSE(torch::equal(g.factors()[0], before));
}

// ---- gradients ------------------------------------------------------------------------

class GrapesGradients : public ::testing::TestWithParam<GrapesVersion> {};

// Spec §10.3 (and §5 for the local version): autograd with GRAPES attached equals the
// hand-written recursion, 3 hidden layers, float64.
TEST_P(GrapesGradients, EqualTheHandWrittenPropagationOfModulatedDeltas) {
  auto m = double_mlp({7, 6, 5}, nc::nn::MLPActivation::tanh, 6);
  torch::manual_seed(7);
  const auto x = torch::randn({4, 6}, torch::kDouble);
  const auto labels = torch::tensor({0, 2, 1, 2}, torch::kLong);
  Grapes g(*m, GrapesOptions().version(GetParam()));
  for (const auto& f : g.factors()) {  // a meaningful example: factors strictly inside (1, 2)
    ASSERT_LT(f.min().item<double>(), 2.0);
    ASSERT_GT(f.max().item<double>(), 1.0);
  }
  const auto got = autograd(*m, x, labels);
  const auto want = by_hand(*m, x, labels, g.factors(), GetParam());
  for (std::size_t l = 0; l < got.w.size(); ++l) {
    EXPECT_LT(relative_error(got.w[l], want.w[l]), 1e-12) << "weight of layer " << l;
    EXPECT_LT(relative_error(got.b[l], want.b[l]), 1e-12) << "bias of layer " << l;
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, GrapesGradients,
                         ::testing::Values(GrapesVersion::propagating, GrapesVersion::local),
                         [](const auto& info) {
                           return info.param == GrapesVersion::local ? "local" : "propagating";
                         });

// Spec §10.4: the top hidden layer's factor acts the same in both versions; only the
// propagating version passes the factor of layer 2 down to layer 1.
TEST(Grapes, LocalAndPropagatingDifferOnlyBelowTheTopHiddenLayer) {
  auto m = double_mlp({7, 5}, nc::nn::MLPActivation::tanh, 8);
  torch::manual_seed(9);
  const auto x = torch::randn({5, 6}, torch::kDouble);
  const auto labels = torch::tensor({0, 1, 2, 1, 0}, torch::kLong);
  const auto bp = autograd(*m, x, labels);
  Grads prop, local;
  std::vector<Tensor> F;
  {
    Grapes g(*m);
    prop = autograd(*m, x, labels);
    F = g.factors();
  }
  {
    Grapes g(*m, GrapesOptions().version(GrapesVersion::local));
    local = autograd(*m, x, labels);
  }
  // Output layer: never modulated.
  EXPECT_TRUE(torch::equal(prop.w[2], bp.w[2]));
  EXPECT_TRUE(torch::equal(local.w[2], bp.w[2]));
  // Top hidden layer: the same F^2 ⊙ δ^2 either way.
  EXPECT_LT(relative_error(prop.w[1], local.w[1]), 1e-13);
  EXPECT_LT(relative_error(local.w[1], F[1].unsqueeze(1) * bp.w[1]), 1e-13);
  // Lowest layer: local = diag(F^1) BP; propagating also carries F^2 and differs.
  EXPECT_LT(relative_error(local.w[0], F[0].unsqueeze(1) * bp.w[0]), 1e-13);
  EXPECT_LT(relative_error(local.b[0], F[0] * bp.b[0]), 1e-13);
  EXPECT_GT(relative_error(prop.w[0], local.w[0]), 1e-3);
}

// Spec §10.5: equal-magnitude weights in every layer give F ≡ 2, and the propagating
// gradient of layer l is exactly 2^(number of hidden layers at or above l) times BP's.
TEST(Grapes, EqualMagnitudeWeightsScaleBackpropByPowersOfTwoExactly) {
  auto m = double_mlp({8, 6, 5}, nc::nn::MLPActivation::relu, 10);
  {
    torch::NoGradGuard no_grad;
    for (std::size_t l = 0; l < m->layers->size(); ++l) {
      auto& w = linear(*m, l).weight;
      w.copy_(torch::sign(torch::randn_like(w)) * (0.3 + 0.1 * l));
    }
  }
  torch::manual_seed(11);
  const auto x = torch::randn({6, 6}, torch::kDouble);
  const auto labels = torch::tensor({0, 1, 2, 2, 1, 0}, torch::kLong);
  const auto bp = autograd(*m, x, labels);
  Grapes g(*m);
  for (const auto& f : g.factors()) EXPECT_TRUE(torch::all(f == 2).item<bool>());
  const auto got = autograd(*m, x, labels);
  const std::size_t n = m->layers->size();  // 3 hidden + output
  for (std::size_t l = 0; l < n; ++l) {
    const double scale = std::ldexp(1.0, static_cast<int>(n - 1 - l));  // 8, 4, 2, 1
    EXPECT_GT(bp.w[l].abs().max().item<double>(), 0);
    EXPECT_TRUE(torch::equal(got.w[l], scale * bp.w[l])) << "weight of layer " << l;
    EXPECT_TRUE(torch::equal(got.b[l], scale * bp.b[l])) << "bias of layer " << l;
  }
}

TEST(Grapes, DetachingRestoresPlainBackprop) {
  auto m = double_mlp({5, 4}, nc::nn::MLPActivation::tanh, 12);
  const auto x = torch::randn({3, 6}, torch::kDouble);
  const auto labels = torch::tensor({0, 1, 2}, torch::kLong);
  const auto bp = autograd(*m, x, labels);
  for (auto v : {GrapesVersion::propagating, GrapesVersion::local}) {
    { Grapes g(*m, GrapesOptions().version(v)); }
    EXPECT_FALSE(m->hidden_hook());
    const auto again = autograd(*m, x, labels);
    for (std::size_t l = 0; l < bp.w.size(); ++l) EXPECT_TRUE(torch::equal(again.w[l], bp.w[l]));
  }
}

// ---- every model ----------------------------------------------------------------------

struct ModelCase {
  std::string name;
  std::function<std::shared_ptr<nc::nn::NetImpl>()> make;
  Tensor input;
  std::function<Tensor(nc::nn::NetImpl&)> output_weight;
};

std::vector<ModelCase> model_cases() {
  using namespace nc::nn;
  torch::manual_seed(13);
  std::vector<ModelCase> c;
  c.push_back({"mlp", [] { return std::make_shared<MLPImpl>(MLPOptions(12, 3).hidden({6, 5})); },
               torch::randn({4, 1, 3, 4}),
               [](NetImpl& m) { return linear(dynamic_cast<MLPImpl&>(m), 2).weight; }});
  for (auto readout : {Readout::snu, Readout::linear}) {
    c.push_back({readout == Readout::snu ? "snu-mlp" : "snu-mlp-linear",
                 [readout] {
                   SNUMLPOptions o(12, 3);
                   o.hidden({6, 5}).readout(readout);
                   o.neuron(SNUOptions(1, 1).threshold_init(0.2));
                   return std::make_shared<SNUMLPImpl>(o);
                 },
                 (torch::rand({5, 4, 12}) < 0.5).to(torch::kFloat),
                 [](NetImpl& m) {
                   auto& s = dynamic_cast<SNUMLPImpl&>(m);
                   return nc::learn::grapes_weight(*s.layers[s.layers->size() - 1]);
                 }});
  }
  c.push_back({"lenet5",
               [] { return std::make_shared<LeNet5Impl>(InputShape{1, 16, 16}, 3); },
               torch::randn({2, 1, 16, 16}),
               [](NetImpl& m) { return dynamic_cast<LeNet5Impl&>(m).fc3->weight; }});
  c.push_back({"resnet8",
               [] { return std::make_shared<ResNetImpl>(ResNetOptions(8, 3).in_channels(2).width(4)); },
               torch::randn({2, 2, 8, 8}),
               [](NetImpl& m) { return dynamic_cast<ResNetImpl&>(m).fc->weight; }});
  return c;
}

// The hook point: every model hands each hidden activation to the hook, in the order of
// hidden_producers(), and never the output layer's.
TEST(Grapes, EveryModelPassesItsHiddenActivationsToTheHook) {
  for (const auto& c : model_cases()) {
    auto m = c.make();
    std::vector<const torch::nn::Module*> seen;
    m->set_hidden_hook([&seen](const torch::nn::Module& p, const Tensor& a) {
      seen.push_back(&p);
      return a;
    });
    m->forward(c.input);
    const auto producers = m->hidden_producers();
    ASSERT_EQ(seen.size(), producers.size()) << c.name;
    ASSERT_FALSE(seen.empty()) << c.name;
    for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], producers[i].get()) << c.name;
  }
}

// The forward pass is bit-identical, the output layer's gradient is BP's exactly, and for
// the propagating version the first hidden layer's gradient changes.
TEST(Grapes, AttachesToEveryModelWithoutChangingTheForwardPass) {
  for (const auto& c : model_cases()) {
    for (auto v : {GrapesVersion::propagating, GrapesVersion::local}) {
      auto m = c.make();
      m->train();
      auto run = [&] {
        m->zero_grad();
        auto out = m->forward(c.input);
        (out * out).sum().backward();
        const auto first = nc::learn::grapes_weight(*m->hidden_producers()[0]);
        return std::make_tuple(out.detach(), c.output_weight(*m).grad().clone(),
                               first.grad().clone());
      };
      const auto [out_bp, top_bp, first_bp] = run();
      Grapes g(*m, GrapesOptions().version(v));
      g.before_batch(*m);
      const auto [out_g, top_g, first_g] = run();
      EXPECT_TRUE(torch::equal(out_g, out_bp)) << c.name;
      EXPECT_TRUE(torch::equal(top_g, top_bp)) << c.name;
      if (first_bp.abs().max().item<double>() > 0) {
        EXPECT_FALSE(torch::equal(first_g, first_bp)) << c.name;
      }
    }
  }
}

// ---- configuration --------------------------------------------------------------------

std::unique_ptr<nc::learn::Modulation> from_yaml(const std::string& yaml, nc::nn::NetImpl& m) {
  auto config = nc::Config::from_string(yaml, "t.yaml");
  auto learn = config.root().section("learn");
  auto mod = nc::learn::make_modulation(learn, m);
  learn.finish();
  return mod;
}

TEST(Grapes, IsConfiguredFromTheLearnSection) {
  auto m = double_mlp({5}, nc::nn::MLPActivation::relu, 14);
  EXPECT_EQ(from_yaml("learn: {modulation: none}\n", *m), nullptr);
  {
    auto mod = from_yaml("learn: {modulation: grapes}\n", *m);
    auto* g = dynamic_cast<Grapes*>(mod.get());
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->name(), "grapes");
    EXPECT_EQ(g->options().version(), GrapesVersion::propagating);
    EXPECT_TRUE(g->options().clip());
  }
  {
    auto mod = from_yaml("learn: {modulation: grapes, grapes: {version: local, clip: false}}\n", *m);
    auto* g = dynamic_cast<Grapes*>(mod.get());
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->options().version(), GrapesVersion::local);
    EXPECT_FALSE(g->options().clip());
  }
  EXPECT_THROW(from_yaml("learn: {modulation: grapse}\n", *m), nc::UserError);
  EXPECT_THROW(from_yaml("learn: {modulation: grapes, grapes: {version: both}}\n", *m),
               nc::UserError);
  EXPECT_THROW(from_yaml("learn: {modulation: grapes, grapes: {clip: maybe}}\n", *m),
               nc::UserError);
  try {
    from_yaml("learn: {modulation: grapes, grapes: {versoin: local}}\n", *m);
    FAIL() << "unknown key accepted";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("version"), std::string::npos) << e.what();
  }
}

TEST(Grapes, RejectsAModelWithoutHiddenLayers) {
  auto m = std::make_shared<nc::nn::MLPImpl>(nc::nn::MLPOptions(6, 3).hidden(std::vector<int64_t>{}));
  try {
    Grapes g(*m);
    FAIL() << "no hidden layer accepted";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("hidden layer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(from_yaml("learn: {modulation: grapes}\n", *m), nc::UserError);
}

// GRAPES with OSTL: the modulation sits between OSTL's traced layer and the readout, so for
// one SNU layer + linear readout OSTL+GRAPES must equal BPTT through the GRAPES-hooked model
// exactly (the factor is a fixed per-unit scale of the learning signal at every step).
TEST(Grapes, WithOstlEqualsBpttWithGrapesOnOneSnuLayer) {
  for (const std::string soft : {"false", "true"}) {
    SCOPED_TRACE("soft=" + soft);
    torch::manual_seed(5);
    auto [model, rule] = nc::learn::testing::make_model_and_rule(
        "model: {name: snu-mlp, hidden: [6], readout: linear, soft: " + soft +
        "}\nlearn: {rule: ostl}\n");
    const auto x = torch::rand({10, 4, 1, 2, 3}, torch::kFloat64) * 2;
    const auto labels = torch::randint(0, 4, {4}, torch::kLong);
    // Plain BPTT gradient of the hidden weight, for the check that GRAPES changed it.
    const auto out = model->forward(x);
    Tensor E = torch::zeros({}, torch::kFloat64);
    for (int64_t t = 0; t < out.size(0); ++t) {
      E = E + nc::learn::classification_loss(out[t], labels, "cross_entropy") / 10.0;
    }
    const auto plain = torch::autograd::grad({E}, {model->parameters()[0]})[0];

    Grapes grapes(*model);
    grapes.before_batch(*model);
    ASSERT_GT((grapes.factors()[0] - 1).abs().max().item<double>(), 0.01);
    const auto ref = nc::learn::testing::expect_rule_equals_per_step_bptt(*rule, *model, x,
                                                                           labels, "cross_entropy");
    EXPECT_GT(relative_error(ref[0], plain), 1e-3);  // the reference is really modulated
  }
}

}  // namespace

