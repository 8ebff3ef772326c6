#include "neurocore/nn/snu.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

#include "neurocore/core/counting_allocator.h"
#include "neurocore/core/error.h"
#include "nn/numerics.h"

namespace {

using nc::nn::Activation;
using nc::nn::SNU;
using nc::nn::SNUCell;
using nc::nn::SNUOptions;
using nc::nn::SNUState;
using nc::nn::testing::relative_error;

// Steps the cell over x_seq [T, B, in] from the zero state: the reference for the layer.
torch::Tensor run_cell(SNUCell& cell, const torch::Tensor& x_seq, SNUState state = {},
                       bool fused = false) {
  std::vector<torch::Tensor> ys;
  for (int64_t t = 0; t < x_seq.size(0); ++t) {
    auto [y, next] = fused ? cell->forward_fused(x_seq[t], state) : cell->forward(x_seq[t], state);
    ys.push_back(y);
    state = next;
  }
  return torch::stack(ys);
}

// A neuron configuration of the gradient-equivalence tests below.
struct NeuronCase {
  Activation g;
  bool soft, detach_reset, trainable_decay;
  std::string surrogate;
  bool recurrent = false;
};

SNUOptions options_of(const NeuronCase& c, int64_t in, int64_t out) {
  return SNUOptions(in, out)
      .g(c.g)
      .soft(c.soft)
      .detach_reset(c.detach_reset)
      .trainable_decay(c.trainable_decay)
      .recurrent(c.recurrent)
      .surrogate(nc::nn::parse_surrogate(c.surrogate, 0))
      .threshold_init(0.4);
}

TEST(SNU, OutputIsBinaryAndSoftOutputInOpenUnitInterval) {
  torch::manual_seed(1);
  const auto x = torch::rand({30, 8, 20}) * 2;
  SNU hard(SNUOptions(20, 16).decay(0.9));
  const auto y = hard->forward(x);
  EXPECT_TRUE(torch::equal(y, (y > 0.5).to(y.scalar_type())));
  EXPECT_GT(y.sum().item<double>(), 0);  // some spikes
  EXPECT_LT(y.sum().item<double>(), y.numel());

  SNU soft(SNUOptions(20, 16).soft(true));
  soft->to(torch::kDouble);
  const auto x64 = x.to(torch::kDouble);
  const auto y2 = soft->forward(x64);
  EXPECT_GT(y2.min().item<double>(), 0);
  EXPECT_LT(y2.max().item<double>(), 1);
}

TEST(SNU, StateShapes) {
  SNUCell cell(SNUOptions(5, 3).recurrent(true).trainable_decay(true));
  const auto st = cell->initial_state(4);
  EXPECT_EQ(st.s.sizes(), torch::IntArrayRef({4, 3}));
  EXPECT_EQ(st.y.sizes(), torch::IntArrayRef({4, 3}));
  EXPECT_EQ(st.s.scalar_type(), torch::kFloat);
  EXPECT_EQ(cell->initial_state(2, torch::kDouble).s.scalar_type(), torch::kDouble);
  auto [y, next] = cell->forward(torch::rand({4, 5}), st);
  EXPECT_EQ(y.sizes(), torch::IntArrayRef({4, 3}));
  EXPECT_EQ(next.s.sizes(), torch::IntArrayRef({4, 3}));
  EXPECT_EQ(cell->weight.sizes(), torch::IntArrayRef({3, 5}));
  EXPECT_EQ(cell->recurrent_weight.sizes(), torch::IntArrayRef({3, 3}));
  EXPECT_EQ(cell->threshold.sizes(), torch::IntArrayRef({3}));
  EXPECT_EQ(cell->rho.sizes(), torch::IntArrayRef({3}));
  EXPECT_NEAR(cell->decay()[0].item<double>(), 0.8, 1e-6);

  SNU layer(SNUOptions(5, 3));
  EXPECT_EQ(layer->forward(torch::rand({7, 4, 5})).sizes(), torch::IntArrayRef({7, 4, 3}));
  auto [ys, last] = layer->unroll(torch::rand({7, 4, 5}), {});
  EXPECT_EQ(last.s.sizes(), torch::IntArrayRef({4, 3}));

  EXPECT_THROW(cell->forward(torch::rand({4, 6}), st), nc::UserError);
  EXPECT_THROW(cell->forward(torch::rand({2, 5}), st), nc::UserError);
  EXPECT_THROW(layer->forward(torch::rand({4, 5})), nc::UserError);
  EXPECT_THROW(SNU(SNUOptions(5, 0)), nc::UserError);
  EXPECT_THROW(SNU(SNUOptions(5, 3).decay(1.0).trainable_decay(true)), nc::UserError);
  EXPECT_THROW(SNU(SNUOptions(5, 3).g_slope(1.0)), nc::UserError);
}

// snu.md §8.3: after a spike, s_t = g(W x_t + H y_{t-1}) whatever s_{t-1} was.
TEST(SNU, SpikeResetsTheMembrane) {
  torch::manual_seed(2);
  for (auto g : {Activation::identity, Activation::relu, Activation::leaky_relu}) {
    SNUCell cell(SNUOptions(6, 4).recurrent(true).g(g));
    cell->to(torch::kDouble);
    const auto x = torch::rand({3, 6}, torch::kDouble);
    const auto y_prev = torch::tensor({{1., 0., 1., 0.}, {1., 1., 1., 1.}, {0., 0., 1., 0.}},
                                      torch::kDouble);
    auto s_a = torch::rand({3, 4}, torch::kDouble) * 5;
    auto s_b = torch::rand({3, 4}, torch::kDouble) * -5;
    auto [ya, a] = cell->forward(x, {s_a, y_prev});
    auto [yb, b] = cell->forward(x, {s_b, y_prev});
    torch::NoGradGuard no_grad;
    auto u = torch::nn::functional::linear(x, cell->weight) +
             torch::nn::functional::linear(y_prev, cell->recurrent_weight);
    auto want = g == Activation::identity ? u
                : g == Activation::relu   ? torch::relu(u)
                                          : torch::leaky_relu(u, 0.1);
    const auto spiked = y_prev > 0;
    EXPECT_TRUE(torch::equal(a.s.masked_select(spiked), b.s.masked_select(spiked)));
    EXPECT_TRUE(torch::allclose(a.s.masked_select(spiked), want.masked_select(spiked), 0, 1e-15));
    // Units that did not spike remember their different potentials.
    EXPECT_FALSE(torch::equal(a.s.masked_select(~spiked), b.s.masked_select(~spiked)));
  }
}

// snu.md §8.4: with x = 0, no recurrence and no spikes, s_t = d^t s_0.
TEST(SNU, FreeDecay) {
  for (auto g : {Activation::identity, Activation::relu}) {
    SNUCell cell(SNUOptions(3, 5).g(g).decay(0.7).threshold_init(100));
    cell->to(torch::kDouble);
    const auto s0 = torch::rand({2, 5}, torch::kDouble) * 3;
    SNUState st{s0, torch::zeros({2, 5}, torch::kDouble)};
    const auto x = torch::zeros({2, 3}, torch::kDouble);
    // The decay as stored (0.7 rounded to float: the module was built in float32).
    const double d = cell->decay()[0].item<double>();
    EXPECT_NEAR(d, 0.7, 1e-7);
    for (int t = 1; t <= 25; ++t) {
      auto [y, next] = cell->forward(x, st);
      st = next;
      EXPECT_EQ(y.sum().item<double>(), 0);
      EXPECT_TRUE(torch::allclose(st.s, std::pow(d, t) * s0, 1e-13, 0)) << "t=" << t;
    }
  }
}

// snu.md §8.7: one spike anywhere in a row zeroes every unit's decay term of that row.
TEST(SNU, LateralInhibitionResetsTheWholeLayer) {
  torch::manual_seed(3);
  SNUCell cell(SNUOptions(4, 5).lateral_inhibition(true));
  cell->to(torch::kDouble);
  const auto x = torch::rand({2, 4}, torch::kDouble);
  const auto s_prev = torch::rand({2, 5}, torch::kDouble);
  auto y_prev = torch::zeros({2, 5}, torch::kDouble);
  y_prev[0][3] = 1;  // row 0: one unit spiked; row 1: none
  auto [y, st] = cell->forward(x, {s_prev, y_prev});
  torch::NoGradGuard no_grad;
  const auto wx = torch::nn::functional::linear(x, cell->weight);
  EXPECT_TRUE(torch::equal(st.s[0], wx[0]));
  EXPECT_TRUE(torch::allclose(st.s[1], wx[1] + cell->decay() * s_prev[1], 0, 1e-15));

  // The layer agrees with the cell.
  SNU layer(SNUOptions(4, 5).lateral_inhibition(true).decay(0.95).threshold_init(0.3));
  layer->to(torch::kDouble);
  const auto xs = torch::rand({12, 3, 4}, torch::kDouble);
  EXPECT_TRUE(torch::equal(layer->forward(xs), run_cell(layer->cell, xs)));
}

// The layer's one-matmul + fused time loop computes the numbers of the step-by-step cell.
TEST(SNU, LayerPathEqualsStepByStepCell) {
  torch::manual_seed(4);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (auto g : {Activation::identity, Activation::relu, Activation::leaky_relu}) {
      for (bool soft : {false, true}) {
        SNU layer(SNUOptions(30, 20).g(g).soft(soft).decay(0.9).threshold_init(0.5));
        layer->to(dtype);
        const auto x = torch::rand({25, 7, 30}, dtype);
        const auto fast = layer->forward(x);
        const auto ref = run_cell(layer->cell, x);
        if (soft) {
          // The sigmoid may differ by an ulp between LibTorch's vector kernel and std::exp.
          EXPECT_LT((fast - ref).abs().max().item<double>(),
                    dtype == torch::kFloat ? 1e-5 : 1e-13);
        } else {
          EXPECT_TRUE(torch::equal(fast, ref)) << "g=" << static_cast<int>(g);
          EXPECT_GT(ref.sum().item<double>(), 0);
        }
      }
    }
  }
  // Recurrent layers step the cell.
  SNU rec(SNUOptions(10, 6).recurrent(true));
  const auto x = torch::rand({9, 2, 10});
  EXPECT_TRUE(torch::equal(rec->forward(x), run_cell(rec->cell, x)));
}

// The hand-written backward of the fused loop equals autograd through the cell's torch ops.
TEST(SNU, LayerGradientEqualsCellAutograd) {
  torch::manual_seed(5);
  const std::vector<NeuronCase> cases = {
      {Activation::identity, false, false, false, "tanh"},
      {Activation::relu, false, false, true, "fast_sigmoid"},
      {Activation::leaky_relu, false, true, false, "arctan"},
      {Activation::identity, false, false, false, "sigmoid"},
      {Activation::leaky_relu, false, false, true, "triangle"},
      {Activation::relu, false, true, false, "straight_through"},
      {Activation::identity, true, false, true, "tanh"},
      {Activation::leaky_relu, true, true, false, "tanh"},
  };
  for (const auto& c : cases) {
    SNU layer(options_of(c, 12, 9));
    layer->to(torch::kDouble);
    const auto x = torch::rand({15, 4, 12}, torch::kDouble).requires_grad_(true);
    const auto target = torch::rand({15, 4, 9}, torch::kDouble);
    std::vector<torch::Tensor> params = layer->parameters();
    params.push_back(x);
    auto loss_of = [&](const torch::Tensor& y) { return (y - target).pow(2).sum(); };
    const auto fast = torch::autograd::grad({loss_of(layer->forward(x))}, params);
    const auto ref = torch::autograd::grad({loss_of(run_cell(layer->cell, x))}, params);
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_LT(relative_error(fast[i], ref[i]), 1e-12)
          << c.surrogate << " soft=" << c.soft << " param " << i;
    }
  }
}

// The fused step (one autograd node) computes the same outputs and gradients as the cell's
// operations, recurrent or not, from the zero state or a given one.
TEST(SNU, FusedStepEqualsCellStep) {
  torch::manual_seed(6);
  const std::vector<NeuronCase> cases = {
      {Activation::identity, false, false, false, "tanh", false},
      {Activation::relu, false, false, true, "fast_sigmoid", true},
      {Activation::leaky_relu, false, true, false, "arctan", true},
      {Activation::leaky_relu, false, false, true, "triangle", false},
      {Activation::identity, true, false, true, "tanh", true},
      {Activation::leaky_relu, true, true, false, "tanh", false},
  };
  for (const auto& c : cases) {
    SNUCell cell(options_of(c, 7, 5));
    cell->to(torch::kDouble);
    const auto x = torch::rand({9, 3, 7}, torch::kDouble).requires_grad_(true);
    const auto s0 = torch::rand({3, 5}, torch::kDouble).requires_grad_(true);
    const auto y0 = torch::bernoulli(torch::full({3, 5}, 0.5, torch::kDouble)).requires_grad_(true);
    for (const bool from_state : {false, true}) {
      const SNUState st = from_state ? SNUState{s0, y0} : SNUState{};
      std::vector<torch::Tensor> params = cell->parameters();
      params.push_back(x);
      if (from_state) params.insert(params.end(), {s0, y0});
      const auto fused = run_cell(cell, x, st, /*fused=*/true);
      const auto ref = run_cell(cell, x, st);
      // Spikes are equal; the sSNU's sigmoid is LibTorch's in the cell, the kernel's own in the
      // fused step (1 ulp apart).
      if (c.soft) {
        EXPECT_LT(relative_error(fused, ref), 1e-14) << c.surrogate;
      } else {
        EXPECT_TRUE(torch::equal(fused, ref)) << c.surrogate;
      }
      const auto w = torch::rand_like(ref);
      const auto gf = torch::autograd::grad({(fused * w).sum()}, params, {}, false, false, true);
      const auto gr = torch::autograd::grad({(ref * w).sum()}, params, {}, false, false, true);
      for (std::size_t i = 0; i < params.size(); ++i) {
        // The fused step returns zeros where the cell's graph has no path (y0 with detach_reset).
        const auto ref_i = gr[i].defined() ? gr[i] : torch::zeros_like(params[i]);
        ASSERT_TRUE(gf[i].defined()) << c.surrogate << " param " << i;
        EXPECT_LT(relative_error(gf[i], ref_i), 1e-12) << c.surrogate << " param " << i;
      }
    }
  }
}

// Gradients also reach a given initial state (truncated BPTT) and agree with the cell.
TEST(SNU, LayerGradientFromAStateEqualsCellAutograd) {
  torch::manual_seed(9);
  for (bool detach_reset : {false, true}) {
    SNU layer(SNUOptions(6, 5).g(Activation::relu).detach_reset(detach_reset).threshold_init(0.3));
    layer->to(torch::kDouble);
    const auto x = torch::rand({7, 3, 6}, torch::kDouble);
    const auto s0 = torch::rand({3, 5}, torch::kDouble).requires_grad_(true);
    const auto y0 = torch::bernoulli(torch::full({3, 5}, 0.5, torch::kDouble)).requires_grad_(true);
    std::vector<torch::Tensor> params = layer->parameters();
    params.push_back(s0);
    if (!detach_reset) params.push_back(y0);  // else y0 feeds only the detached reset
    const auto fast =
        torch::autograd::grad({std::get<0>(layer->unroll(x, {s0, y0})).pow(2).sum()}, params);
    const auto ref = torch::autograd::grad({run_cell(layer->cell, x, {s0, y0}).pow(2).sum()},
                                           params);
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_LT(relative_error(fast[i], ref[i]), 1e-12) << "detach_reset=" << detach_reset
                                                        << " param " << i;
    }
    EXPECT_GT(fast[layer->parameters().size()].abs().sum().item<double>(), 0);  // s0
  }
}

// The backward pass writes dL/d(W x) over the incoming dL/dy when nothing else holds it, so
// BPTT keeps three [T, B, N] tensors (s, y, one gradient), not four: the peak of a forward
// and backward pass stays below 3.5 of them (input and weights excluded). A gradient of y that
// someone else holds must be left intact.
TEST(SNU, BackwardKeepsThreeSequenceTensorsAndLeavesHeldGradientsIntact) {
  nc::CountingAllocatorScope counting;
  torch::manual_seed(10);
  const int64_t T = 200, B = 8, N = 64;
  SNU layer(SNUOptions(16, N).decay(0.9).threshold_init(0.3));
  const auto x = torch::bernoulli(torch::full({T, B, 16}, 0.3));
  const int64_t seq_bytes = T * B * N * static_cast<int64_t>(sizeof(float));
  // Two losses whose incoming gradient is a new tensor of the autograd engine's: weights on y
  // (the gradient of a plain sum would be broadcast, and its contiguous copy ours anyway), and
  // a linear readout (its gradient is a [T, B, N] view of a [T B, N] product).
  const auto c = torch::rand({T, B, N});
  torch::nn::Linear readout(N, 3);
  const std::vector<std::function<torch::Tensor(const torch::Tensor&)>> losses = {
      [&](const torch::Tensor& y) { return (y * c).sum(); },
      [&](const torch::Tensor& y) { return readout->forward(y).pow(2).sum(); }};
  for (std::size_t k = 0; k < losses.size(); ++k) {
    torch::Tensor y;
    const int64_t peak = nc::CountingAllocator::peak_bytes([&] {
      y = layer->forward(x);
      const auto loss = losses[k](y);  // temporaries of the loss are freed here
      loss.backward();
    });
    EXPECT_LT(peak, seq_bytes * 7 / 2)
        << "loss " << k << ": peak " << peak << " bytes, one [T, B, N] tensor " << seq_bytes;
    EXPECT_GT(y.sum().item<double>(), 0);  // spikes, so the gradient path is exercised
  }

  SNU small(SNUOptions(6, 5).g(Activation::relu).threshold_init(0.3));
  small->to(torch::kDouble);
  const auto xs = torch::rand({7, 3, 6}, torch::kDouble);
  const auto target = torch::rand({7, 3, 5}, torch::kDouble);
  const auto w = small->cell->weight;
  // A hook keeping the gradient of y (no copy): it must stay dL/dy = 2 (y - target).
  auto ys = small->forward(xs);
  torch::Tensor kept;
  ys.register_hook([&](const torch::Tensor& g) { kept = g; });
  (ys - target).pow(2).sum().backward();
  EXPECT_LT(relative_error(kept, 2 * (ys - target).detach()), 1e-15);
  const auto ref = torch::autograd::grad(
      {(run_cell(small->cell, xs) - target).pow(2).sum()}, {w})[0];
  EXPECT_LT(relative_error(w.grad(), ref), 1e-12);
  // y feeding two terms (the engine sums their gradients into one buffer first).
  auto both = [&](const torch::Tensor& y) { return y.sum() + (y - target).pow(2).sum(); };
  const auto fast2 = torch::autograd::grad({both(small->forward(xs))}, {w})[0];
  const auto ref2 = torch::autograd::grad({both(run_cell(small->cell, xs))}, {w})[0];
  EXPECT_LT(relative_error(fast2, ref2), 1e-12);
}

TEST(SNU, UnrollContinuesFromAState) {
  torch::manual_seed(6);
  SNU layer(SNUOptions(8, 5).decay(0.9).threshold_init(0.3));
  const auto x = torch::rand({20, 3, 8});
  auto [first, mid] = layer->unroll(x.slice(0, 0, 12), {});
  auto [second, end] = layer->unroll(x.slice(0, 12), mid);
  EXPECT_TRUE(torch::equal(torch::cat({first, second}), layer->forward(x)));
}

// snu.md §8.8: BPTT through a 2-layer sSNU network matches central finite differences.
TEST(SNU, BpttMatchesFiniteDifferences) {
  torch::manual_seed(7);
  for (bool recurrent : {false, true}) {
    SNU l1(SNUOptions(4, 5).soft(true).recurrent(recurrent).g(Activation::leaky_relu));
    SNU l2(SNUOptions(5, 3).soft(true).recurrent(recurrent));
    l1->to(torch::kDouble);
    l2->to(torch::kDouble);
    const auto x = torch::rand({6, 2, 4}, torch::kDouble);
    const auto target = torch::rand({2, 3}, torch::kDouble);
    auto loss = [&] { return (l2->forward(l1->forward(x)).mean(0) - target).pow(2).sum(); };
    std::vector<torch::Tensor> params = l1->parameters();
    for (const auto& p : l2->parameters()) params.push_back(p);
    const auto ag = nc::nn::testing::autograd_gradient(loss, params);
    const auto fd = nc::nn::testing::finite_difference(loss, params);
    for (std::size_t i = 0; i < params.size(); ++i) {
      EXPECT_LT(relative_error(ag[i], fd[i]), 1e-6) << "recurrent=" << recurrent << " " << i;
    }
  }
}

// snu.md §8.9: the gradient with respect to rho (d = sigmoid(rho)) matches finite differences.
TEST(SNU, TrainableDecayGradientMatchesFiniteDifferences) {
  torch::manual_seed(8);
  SNU layer(SNUOptions(4, 6).soft(true).trainable_decay(true).decay(0.6));
  layer->to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(layer->cell->decay(), torch::full({6}, 0.6, torch::kDouble)));
  const auto x = torch::rand({8, 3, 4}, torch::kDouble);
  auto loss = [&] { return layer->forward(x).pow(2).mean(); };
  const auto ag = nc::nn::testing::autograd_gradient(loss, {layer->cell->rho});
  const auto fd = nc::nn::testing::finite_difference(loss, {layer->cell->rho});
  EXPECT_GT(ag[0].abs().max().item<double>(), 1e-6);
  EXPECT_LT(relative_error(ag[0], fd[0]), 1e-6);
}

TEST(SNU, CloneCopiesParametersAndBuffers) {
  SNU layer(SNUOptions(4, 3).decay(0.3));
  auto copy = std::dynamic_pointer_cast<nc::nn::SNUImpl>(layer->clone());
  ASSERT_TRUE(copy);
  EXPECT_TRUE(torch::equal(copy->cell->weight, layer->cell->weight));
  EXPECT_TRUE(torch::equal(copy->cell->decay(), layer->cell->decay()));
  EXPECT_NE(copy->cell->weight.data_ptr(), layer->cell->weight.data_ptr());
}

}  // namespace
