#include "neurocore/nn/lif.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"
#include "neurocore/nn/snu.h"

namespace {

using nc::nn::LIF;
using nc::nn::LIFCell;
using nc::nn::LIFOptions;
using nc::nn::LIFScheme;
using nc::nn::LIFState;

// snu.md §8.5: an Euler LIF (V_rest = 0, reset to 0, no refractory period, input gain in W)
// and an SNU with g = identity, d = 1 - dt/tau, theta = V_th spike identically.
TEST(LIF, EulerLIFEqualsSNUOn100RandomSequences) {
  torch::manual_seed(11);
  const double tau = 10, dt = 1;
  LIF lif(LIFOptions(16, 12).tau_m(tau).dt(dt).threshold(1.0));
  nc::nn::SNU snu(nc::nn::SNUOptions(16, 12).decay(1 - dt / tau).threshold_init(1.0));
  {
    torch::NoGradGuard no_grad;
    snu->cell->weight.copy_(lif->cell->weight);
  }
  int64_t spikes = 0;
  for (int i = 0; i < 100; ++i) {
    const auto x = torch::rand({40, 4, 16}) * 0.6;
    const auto a = lif->forward(x), b = snu->forward(x);
    ASSERT_TRUE(torch::equal(a, b)) << "sequence " << i;
    spikes += a.sum().item<int64_t>();
  }
  EXPECT_GT(spikes, 1000);
}

TEST(LIF, SchemesAndReset) {
  LIFCell euler(LIFOptions(2, 3).tau_m(20).dt(0.5));
  EXPECT_DOUBLE_EQ(euler->alpha(), 1 - 0.5 / 20);
  LIFCell expo(LIFOptions(2, 3).tau_m(20).dt(0.5).scheme(LIFScheme::exponential));
  EXPECT_DOUBLE_EQ(expo->alpha(), std::exp(-0.5 / 20));

  // After a spike the potential restarts from v_reset.
  LIFCell cell(LIFOptions(2, 3).v_reset(-0.5));
  cell->to(torch::kDouble);
  const auto x = torch::rand({1, 2}, torch::kDouble);
  LIFState st{torch::full({1, 3}, 0.7, torch::kDouble),
              torch::tensor({{1., 0., 1.}}, torch::kDouble), torch::zeros({1, 3}, torch::kLong)};
  auto [y, next] = cell->forward(x, st);
  torch::NoGradGuard no_grad;
  const auto wx = torch::nn::functional::linear(x, cell->weight);
  const double a = cell->alpha();
  EXPECT_TRUE(torch::allclose(next.v[0][0], a * -0.5 + wx[0][0], 0, 1e-15));
  EXPECT_TRUE(torch::allclose(next.v[0][1], a * 0.7 + wx[0][1], 0, 1e-15));
  EXPECT_TRUE(torch::allclose(next.v[0][2], a * -0.5 + wx[0][2], 0, 1e-15));
}

TEST(LIF, RefractoryNeuronIgnoresInput) {
  LIFCell cell(LIFOptions(1, 1).refractory_steps(3).tau_m(5));
  {
    torch::NoGradGuard no_grad;
    cell->weight.fill_(2.0);  // spikes at every step unless refractory
  }
  LIFState st = cell->initial_state(1);
  std::vector<float> ys;
  for (int t = 0; t < 10; ++t) {
    auto [y, next] = cell->forward(torch::ones({1, 1}), st);
    ys.push_back(y.item<float>());
    if (t == 1) {
      EXPECT_EQ(next.v.item<float>(), 0.0f);  // held at v_reset
      EXPECT_EQ(next.refractory.item<int64_t>(), 2);
    }
    st = next;
  }
  EXPECT_EQ(ys, (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0}));
}

TEST(LIF, ShapesAndValidation) {
  LIF layer(LIFOptions(5, 4));
  EXPECT_EQ(layer->forward(torch::rand({6, 2, 5})).sizes(), torch::IntArrayRef({6, 2, 4}));
  const auto st = layer->cell->initial_state(3);
  EXPECT_EQ(st.refractory.scalar_type(), torch::kLong);
  EXPECT_EQ(st.v.sizes(), torch::IntArrayRef({3, 4}));
  EXPECT_THROW(layer->forward(torch::rand({6, 2, 4})), nc::UserError);
  EXPECT_THROW(LIF(LIFOptions(5, 4).tau_m(0.5)), nc::UserError);  // euler, tau < dt
  EXPECT_NO_THROW(LIF(LIFOptions(5, 4).tau_m(0.5).scheme(LIFScheme::exponential)));
  EXPECT_THROW(LIF(LIFOptions(5, 4).refractory_steps(-1)), nc::UserError);
}

TEST(LIF, SurrogateGradientFlows) {
  LIF layer(LIFOptions(5, 4).threshold(0.2));
  const auto x = torch::rand({6, 2, 5});
  layer->forward(x).sum().backward();
  EXPECT_GT(layer->cell->weight.grad().abs().sum().item<double>(), 0);
}

}  // namespace
