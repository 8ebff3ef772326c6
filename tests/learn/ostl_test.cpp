// OSTL against autograd BPTT over the same sequence (ostl.md §12), in double precision.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/config.h"
#include "neurocore/core/counting_allocator.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/net.h"
#include "learn/ostl_testing.h"

namespace nc::learn {
namespace {

using nn::Activation;

struct Case {
  bool soft = false, recurrent = false, trainable_decay = false, detach_reset = false;
  Activation g = Activation::identity;
  bool readout = true;
  int64_t T = 10, B = 3;
  uint64_t seed = 1;
  int64_t chunk = SNUOstlLayer::kDefaultTraceChunk;  // 0: the tensor-operation path
  int64_t inputs = 0;                                // 0: kIn
  int64_t units = 0;                                 // 0: kUnits
  bool spikes = false;  // inputs in {0, 1} (the held pass skips zeros) instead of analog

  std::string str() const {
    std::ostringstream os;
    os << (soft ? "sSNU" : "SNU") << (recurrent ? "+H" : "") << " g=" << static_cast<int>(g)
       << (trainable_decay ? " trainable_decay" : "") << (detach_reset ? " detach_reset" : "")
       << (readout ? " readout" : "") << " T=" << T << " B=" << B << " seed=" << seed
       << " trace_chunk=" << chunk << " inputs=" << inputs << " units=" << units
       << (spikes ? " spikes" : "");
    return os.str();
  }
};

constexpr int64_t kIn = 5, kUnits = 4, kOut = 3;

int64_t units_of(const Case& c) { return c.units ? c.units : kUnits; }

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-300);
}

struct Net {
  std::vector<nn::SNUCell> cells;
  torch::nn::Linear readout = nullptr;

  std::vector<torch::Tensor> params() const {
    std::vector<torch::Tensor> p;
    for (const auto& c : cells) {
      for (const auto& t : c->parameters()) p.push_back(t);
    }
    if (readout) {
      for (const auto& t : readout->parameters()) p.push_back(t);
    }
    return p;
  }
  void zero_grad() {
    for (auto& p : params()) {
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
    }
  }
  std::vector<torch::Tensor> grads() const {
    std::vector<torch::Tensor> g;
    for (const auto& p : params()) {
      g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    return g;
  }
};

nn::SNUOptions options_of(const Case& c, int64_t in, int64_t out) {
  return nn::SNUOptions(in, out)
      .soft(c.soft)
      .recurrent(c.recurrent)
      .trainable_decay(c.trainable_decay)
      .detach_reset(c.detach_reset)
      .g(c.g)
      .decay(0.7)
      .threshold_init(0.6);
}

// `layers` stacked SNU cells (units_of(c) each) and an optional linear readout, float64, with
// random thresholds and decays so that every parameter matters.
Net make_net(const Case& c, int layers = 1) {
  torch::manual_seed(c.seed);
  Net net;
  int64_t in = c.inputs ? c.inputs : kIn;
  for (int l = 0; l < layers; ++l) {
    nn::SNUCell cell(options_of(c, in, units_of(c)));
    cell->to(torch::kFloat64);
    torch::NoGradGuard no_grad;
    cell->threshold.uniform_(0.3, 0.9);
    if (c.trainable_decay) cell->rho.uniform_(-1, 2);
    net.cells.push_back(cell);
    in = units_of(c);
  }
  if (c.readout) {
    net.readout = torch::nn::Linear(units_of(c), kOut);
    net.readout->to(torch::kFloat64);
  }
  return net;
}

// Per-step loss E^t = 0.5 * |o^t - target^t|^2 summed over batch and outputs.
torch::Tensor step_loss(const torch::Tensor& o, const torch::Tensor& target) {
  return 0.5 * (o - target).pow(2).sum();
}

struct Data {
  torch::Tensor x, target;
};

Data make_data(const Case& c, int64_t out) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed + 1000);
  Data d;
  d.x = torch::rand({c.T, c.B, c.inputs ? c.inputs : kIn}, gen, torch::kFloat64) * 1.5;
  if (c.spikes) d.x = (d.x < 0.45).to(torch::kFloat64);  // p = 0.3
  d.target = torch::rand({c.T, c.B, out}, gen, torch::kFloat64);
  return d;
}

// BPTT: one autograd graph over the whole sequence; also returns the spike fraction.
std::vector<torch::Tensor> bptt_grads(Net& net, const Data& d, double* spike_fraction = nullptr) {
  net.zero_grad();
  std::vector<nn::SNUState> st(net.cells.size());
  torch::Tensor E = torch::zeros({}, torch::kFloat64);
  double spikes = 0;
  const int64_t T = d.x.size(0);
  for (int64_t t = 0; t < T; ++t) {
    torch::Tensor h = d.x[t];
    for (std::size_t l = 0; l < net.cells.size(); ++l) {
      auto [y, next] = net.cells[l]->forward(h, st[l]);
      st[l] = next;
      h = y;
    }
    spikes += h.detach().mean().item<double>();
    E = E + step_loss(net.readout ? net.readout->forward(h) : h, d.target[t]);
  }
  E.backward();
  if (spike_fraction) *spike_fraction = spikes / static_cast<double>(T);
  return net.grads();
}

Ostl make_ostl(Net& net, int64_t chunk = SNUOstlLayer::kDefaultTraceChunk) {
  std::vector<std::shared_ptr<OstlLayer>> layers;
  for (auto& c : net.cells) layers.push_back(std::make_shared<SNUOstlLayer>(c, chunk));
  return Ostl(layers, net.readout ? net.readout->parameters() : std::vector<torch::Tensor>{});
}

// OSTL's gradients over the sequence, taking the steps `sizes[i]` at a time with Ostl::steps
// (cycling through sizes; 0 stands for one step()), with one loss over each call's outputs.
std::vector<torch::Tensor> ostl_grads_steps(Net& net, const Data& d, int64_t chunk,
                                            const std::vector<int64_t>& sizes,
                                            int sequences = 1) {
  net.zero_grad();
  Ostl ostl = make_ostl(net, chunk);
  for (int q = 0; q < sequences; ++q) {
    ostl.begin(d.x.size(1), d.x.options());
    const int64_t T = d.x.size(0);
    for (int64_t t = 0, i = 0; t < T; ++i) {
      const int64_t K = std::min(sizes[i % sizes.size()], T - t);
      torch::Tensor y = K ? ostl.steps(d.x.narrow(0, t, K)) : ostl.step(d.x[t]);
      const torch::Tensor target = K ? d.target.narrow(0, t, K) : d.target[t];
      ostl.backward(step_loss(net.readout ? net.readout->forward(y) : y, target));
      t += std::max<int64_t>(K, 1);
    }
  }
  ostl.write_gradients();
  return net.grads();
}

std::vector<torch::Tensor> ostl_grads(Net& net, const Data& d,
                                      int64_t chunk = SNUOstlLayer::kDefaultTraceChunk) {
  return ostl_grads_steps(net, d, chunk, {0});  // one step() per time step
}

// Max relative error over the parameter tensors (each compared as a whole).
double max_rel_err(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double e = 0;
  for (std::size_t i = 0; i < a.size(); ++i) e = std::max(e, rel_err(a[i], b[i]));
  return e;
}

// Returns the measured error.
double expect_exact(const Case& c) {
  SCOPED_TRACE(c.str());
  Net net = make_net(c);
  const Data d = make_data(c, c.readout ? kOut : units_of(c));
  double spikes = 0;
  const auto ref = bptt_grads(net, d, &spikes);
  const auto got = ostl_grads(net, d, c.chunk);
  // Every parameter matters (at T = 1, H and rho do not: y^0 = s^0 = 0).
  if (c.T > 1) {
    for (const auto& g : ref) EXPECT_GT(g.norm().item<double>(), 0) << "a zero reference gradient";
  }
  const double e = max_rel_err(got, ref);
  EXPECT_LT(e, 1e-9);
  if (!c.soft && c.T >= 10) {  // the reset terms are exercised: some but not all units spike
    EXPECT_GT(spikes, 0.02);
    EXPECT_LT(spikes, 0.98);
  }
  return e;
}

void sweep(bool soft, bool recurrent) {
  double worst = 0;
  for (Activation g : {Activation::identity, Activation::relu, Activation::leaky_relu}) {
    for (bool td : {false, true}) {
      for (bool dr : {false, true}) {
        for (bool ro : {false, true}) {
          using Shape = std::tuple<int64_t, int64_t, uint64_t>;  // T, B, seed
          for (auto [T, B, seed] : {Shape{1, 1, 1}, Shape{10, 3, 2}, Shape{40, 2, 3}}) {
            Case c;
            c.soft = soft, c.recurrent = recurrent, c.g = g, c.trainable_decay = td;
            c.detach_reset = dr, c.readout = ro, c.T = T, c.B = B, c.seed = seed;
            // Diagonal layers: the fused path holding back 3 or 8 trace updates (chunks
            // that do and do not divide T) and the tensor-operation path.
            for (int64_t chunk :
                 recurrent ? std::vector<int64_t>{0} : std::vector<int64_t>{0, 3, 8}) {
              c.chunk = chunk;
              worst = std::max(worst, expect_exact(c));
            }
          }
        }
      }
    }
  }
  std::cout << "largest relative error over the sweep: " << worst << "\n";
}

TEST(Ostl, SNUDiagonalEqualsBptt) { sweep(/*soft=*/false, /*recurrent=*/false); }
TEST(Ostl, SSNUDiagonalEqualsBptt) { sweep(/*soft=*/true, /*recurrent=*/false); }
TEST(Ostl, SNURecurrentEqualsBptt) { sweep(/*soft=*/false, /*recurrent=*/true); }
TEST(Ostl, SSNURecurrentEqualsBptt) { sweep(/*soft=*/true, /*recurrent=*/true); }

// Wide layers take every block width of the trace pass, whose rows run over the units: in
// double, full blocks of 32 lanes and a rest of 2, 3 or 4 vectors of 8 (45 = 32 + 13,
// 83 = 2 x 32 + 19, 61 = 32 + 29); the sweeps above use 4 units, a rest of one vector alone.
// Spike inputs make the pass skip the steps at which an input is zero.
TEST(Ostl, WideLayersEqualBptt) {
  for (const int64_t width : {45, 61, 83}) {
    for (const int64_t chunk : {0, 8}) {
      for (const bool spikes : {false, true}) {
        Case c;
        c.g = Activation::leaky_relu, c.trainable_decay = true, c.T = 20, c.B = 3, c.seed = 9;
        c.inputs = width, c.units = width - 2, c.chunk = chunk, c.spikes = spikes;
        expect_exact(c);
      }
    }
  }
}

// The pass marks an input's non-zero steps 64 to a word: chunks of more steps take several.
TEST(Ostl, HeldChunksOfMoreThan64StepsEqualBptt) {
  for (const bool spikes : {false, true}) {
    Case c;
    c.trainable_decay = true, c.T = 150, c.B = 2, c.seed = 4, c.chunk = 70, c.spikes = spikes;
    expect_exact(c);
  }
}

TEST(Ostl, OtherSurrogatesEqualBptt) {
  for (auto kind : {nn::SurrogateKind::fast_sigmoid, nn::SurrogateKind::arctan,
                    nn::SurrogateKind::triangle}) {
    Case c;
    c.T = 20, c.seed = 7, c.trainable_decay = true;
    Net net = make_net(c);
    net.cells[0]->options.surrogate(nn::Surrogate{kind, 0});
    const Data d = make_data(c, kOut);
    const auto ref = bptt_grads(net, d);
    EXPECT_LT(max_rel_err(ostl_grads(net, d), ref), 1e-9) << static_cast<int>(kind);
  }
}

// Two stacked recurrent layers: OSTL drops the paths through earlier steps of the upper
// layer (ostl.md §7), so the gradients differ; without temporal dependence (d = 0, no H)
// the network is stateless and OSTL is exact at any depth.
TEST(Ostl, DeepStackIsApproximateAndExactWithoutMemory) {
  for (bool soft : {false, true}) {
    for (uint64_t seed : {1, 2, 3}) {
      Case c;
      c.soft = soft, c.T = 30, c.B = 2, c.seed = seed;
      Net net = make_net(c, /*layers=*/2);
      const Data d = make_data(c, kOut);
      const auto ref = bptt_grads(net, d);
      const auto got = ostl_grads(net, d);
      const auto n = net.cells[0]->parameters().size();
      // Top layer and readout: exact (one recurrent layer below the loss on their paths).
      const std::vector<torch::Tensor> ref_top(ref.begin() + n, ref.end());
      const std::vector<torch::Tensor> got_top(got.begin() + n, got.end());
      EXPECT_LT(max_rel_err(got_top, ref_top), 1e-9);
      // Bottom layer: approximate. Bound documented in docs/ostl.md.
      const double e = rel_err(got[0], ref[0]);
      const double cos = (got[0] * ref[0]).sum().item<double>() /
                         (got[0].norm() * ref[0].norm()).item<double>();
      std::cout << (soft ? "sSNU" : "SNU") << " seed " << seed << ": bottom W relative error "
                << e << ", cosine " << cos << "\n";
      EXPECT_GT(e, 1e-6);
      EXPECT_LT(e, 1.0);
      EXPECT_GT(cos, 0.9);

      {
        torch::NoGradGuard no_grad;
        for (auto& cell : net.cells) cell->named_buffers()["decay"].zero_();
      }
      const auto ref0 = bptt_grads(net, d);
      EXPECT_LT(max_rel_err(ostl_grads(net, d), ref0), 1e-9);
    }
  }
}

// Reading G in the middle of a chunk (update: step reads it after every step) applies the
// held-back trace updates first: the per-step gradients equal the tensor path's, across two
// sequences (the second starts from a reused, not cleared, trace buffer).
TEST(Ostl, HeldBackTraceUpdatesGiveTheSameGradientAtEveryStep) {
  for (Activation g : {Activation::identity, Activation::leaky_relu}) {
    Case c;
    c.g = g, c.trainable_decay = true, c.T = 11, c.B = 3, c.seed = 5;
    SCOPED_TRACE(c.str());
    Net net = make_net(c);
    const Data d = make_data(c, kOut);
    std::vector<std::vector<torch::Tensor>> per_step[2];
    for (int path = 0; path < 2; ++path) {
      Ostl ostl = make_ostl(net, path == 0 ? 0 : 4);
      for (int sequence = 0; sequence < 2; ++sequence) {
        ostl.begin(c.B, d.x.options());
        for (int64_t t = 0; t < c.T; ++t) {
          net.zero_grad();
          torch::Tensor y = ostl.step(d.x[t]);
          ostl.backward(step_loss(net.readout->forward(y), d.target[t]));
          ostl.write_gradients();
          per_step[path].push_back(net.grads());
        }
      }
    }
    ASSERT_EQ(per_step[0].size(), per_step[1].size());
    for (std::size_t k = 0; k < per_step[0].size(); ++k) {
      EXPECT_LT(max_rel_err(per_step[1][k], per_step[0][k]), 1e-12) << "step " << k;
    }
  }
}

// Several steps per call: the gradients of one step per call, so BPTT's, for every kind of
// diagonal layer; with calls of 3 steps (not dividing T, held chunk 8), 8 (filling it), 11
// (widening it) and calls of 2 steps mixed with single step() calls.
TEST(Ostl, SeveralStepsAtOnceEqualBptt) {
  double worst = 0;
  for (bool soft : {false, true}) {
    for (Activation g : {Activation::identity, Activation::relu, Activation::leaky_relu}) {
      for (bool td : {false, true}) {
        for (bool dr : {false, true}) {
          for (bool ro : {false, true}) {
            Case c;
            c.soft = soft, c.g = g, c.trainable_decay = td, c.detach_reset = dr, c.readout = ro;
            c.T = 20, c.B = 3, c.seed = 11;
            SCOPED_TRACE(c.str());
            Net net = make_net(c);
            const Data d = make_data(c, ro ? kOut : kUnits);
            const auto ref = bptt_grads(net, d);
            for (const auto& sizes : std::vector<std::vector<int64_t>>{{3}, {8}, {11}, {2, 0}}) {
              const double e = max_rel_err(ostl_grads_steps(net, d, 8, sizes), ref);
              EXPECT_LT(e, 1e-9) << "first call of " << sizes[0] << " steps";
              worst = std::max(worst, e);
            }
          }
        }
      }
    }
  }
  std::cout << "largest relative error: " << worst << "\n";
}

// In a stack, the lower layers' learning signals pass through each upper step's own input
// (the graph steps() builds): the same approximate gradients as one step per call, also when
// the rule's buffers are reused for a second sequence.
TEST(Ostl, SeveralStepsAtOnceInADeepStackEqualOneStepAtATime) {
  for (int layers : {2, 3}) {
    for (bool soft : {false, true}) {
      Case c;
      c.soft = soft, c.trainable_decay = true, c.g = Activation::leaky_relu, c.T = 17, c.B = 2;
      c.seed = 4;
      c.readout = layers == 2;  // 3 layers: the top SNU layer is the readout (an snu-mlp's)
      SCOPED_TRACE(c.str() + " layers=" + std::to_string(layers));
      Net net = make_net(c, layers);
      const Data d = make_data(c, c.readout ? kOut : kUnits);
      const auto one = ostl_grads(net, d);
      EXPECT_LT(max_rel_err(ostl_grads_steps(net, d, 8, {5}), one), 1e-12);
      EXPECT_LT(max_rel_err(ostl_grads_steps(net, d, 4, {6, 0, 3}), one), 1e-12);
      // Two sequences accumulate twice the gradient.
      std::vector<torch::Tensor> twice;
      for (const auto& g : one) twice.push_back(2 * g);
      EXPECT_LT(max_rel_err(ostl_grads_steps(net, d, 8, {8}, 2), twice), 1e-12);
    }
  }
}

// Layers that take their learning signal one step at a time refuse several steps.
TEST(Ostl, SeveralStepsNeedLayersThatHoldTheirSteps) {
  for (const auto& [recurrent, chunk] : {std::pair{true, 8}, std::pair{false, 0}}) {
    Case c;
    c.recurrent = recurrent;
    Net net = make_net(c);
    Ostl ostl = make_ostl(net, chunk);
    ostl.begin(c.B, torch::TensorOptions(torch::kFloat64));
    EXPECT_FALSE(ostl.holds_steps());
    EXPECT_THROW(ostl.steps(torch::zeros({2, c.B, kIn}, torch::kFloat64)), UserError);
  }
  Case c;
  Net net = make_net(c);
  Ostl ostl = make_ostl(net);
  ostl.begin(c.B, torch::TensorOptions(torch::kFloat64));
  EXPECT_TRUE(ostl.holds_steps());
  EXPECT_THROW(ostl.steps(torch::zeros({2, c.B + 1, kIn}, torch::kFloat64)), UserError);
}

// In float (the precision of training), the held steps' pass and several steps per call: BPTT's
// gradient in double to float rounding. Layer widths with and without a partial vector at the
// end of a row; held chunks of 3, 8 and 16 steps; one step or the whole chunk per call; spike
// inputs, inputs that stop being spikes halfway through, and analog inputs.
TEST(Ostl, FloatEqualsBpttInDouble) {
  for (const int64_t inputs : {16, 45, 83}) {
    for (const int64_t chunk : {3, 8, 16}) {
      for (const int kind : {0, 1, 2}) {  // spikes, spikes then analog, analog
        Case c;
        c.trainable_decay = true, c.g = Activation::leaky_relu, c.T = 37, c.B = 3, c.seed = 21;
        c.inputs = inputs, c.units = inputs, c.chunk = chunk;
        SCOPED_TRACE(c.str() + " kind=" + std::to_string(kind));
        Net net = make_net(c);
        Data d = make_data(c, kOut);
        d.x = torch::bernoulli(torch::full_like(d.x, 0.3));
        if (kind == 1) d.x.narrow(0, c.T / 2, c.T - c.T / 2) *= 0.75;
        if (kind == 2) d.x *= 0.75;
        const auto ref = bptt_grads(net, d);
        for (auto& cell : net.cells) cell->to(torch::kFloat32);
        net.readout->to(torch::kFloat32);
        Data f{d.x.to(torch::kFloat32), d.target.to(torch::kFloat32)};
        for (const auto& got :
             {ostl_grads(net, f, chunk), ostl_grads_steps(net, f, chunk, {chunk})}) {
          std::vector<torch::Tensor> g64;
          for (const auto& g : got) g64.push_back(g.to(torch::kFloat64));
          EXPECT_LT(max_rel_err(g64, ref), 2e-5);
        }
        for (auto& cell : net.cells) cell->to(torch::kFloat64);
        net.readout->to(torch::kFloat64);
      }
    }
  }
}

TEST(Ostl, PeakMemoryOfAStepDoesNotGrowWithT) {
  CountingAllocatorScope scope;
  for (bool recurrent : {false, true}) {
    SCOPED_TRACE(recurrent ? "recurrent" : "diagonal");
    Case c;
    c.recurrent = recurrent, c.trainable_decay = true, c.B = 4;
    Net net = make_net(c);
    int64_t ostl_peak[2], bptt_peak[2], carried[2], steps_peak[2] = {0, 0};
    const int64_t Ts[2] = {100, 2000};
    for (int k = 0; k < 2; ++k) {
      c.T = Ts[k];
      const Data d = make_data(c, kOut);
      net.zero_grad();
      Ostl ostl = make_ostl(net);
      ostl_peak[k] = CountingAllocator::peak_bytes([&] {
        ostl.begin(c.B, d.x.options());
        for (int64_t t = 0; t < c.T; ++t) {
          torch::Tensor y = ostl.step(d.x[t]);
          ostl.backward(step_loss(net.readout->forward(y), d.target[t]));
        }
        ostl.write_gradients();
      });
      carried[k] = ostl.carried_bytes();
      if (!recurrent) {  // and with 8 steps per call
        net.zero_grad();
        steps_peak[k] = CountingAllocator::peak_bytes([&] {
          ostl.begin(c.B, d.x.options());
          for (int64_t t = 0; t < c.T; t += 8) {
            const int64_t K = std::min<int64_t>(8, c.T - t);
            torch::Tensor y = ostl.steps(d.x.narrow(0, t, K));
            ostl.backward(step_loss(net.readout->forward(y), d.target.narrow(0, t, K)));
          }
          ostl.write_gradients();
        });
        std::cout << "T=" << c.T << ": OSTL peak with 8 steps per call " << steps_peak[k]
                  << " B (carried " << ostl.carried_bytes() << " B)\n";
      }
      net.zero_grad();
      bptt_peak[k] = CountingAllocator::peak_bytes([&] { bptt_grads(net, d); });
      std::cout << "T=" << c.T << ": OSTL peak " << ostl_peak[k] << " B (carried "
                << carried[k] << " B), BPTT peak " << bptt_peak[k] << " B\n";
    }
    EXPECT_EQ(carried[0], carried[1]);
    EXPECT_LE(ostl_peak[1], ostl_peak[0] + ostl_peak[0] / 20);  // flat in T (5 % slack)
    EXPECT_LE(steps_peak[1], steps_peak[0] + steps_peak[0] / 20);
    EXPECT_GT(bptt_peak[1], 10 * bptt_peak[0]);  // the measurement sees BPTT's growth
  }
}

// The Trainer path: `learn: {rule: ostl}` on an snu-mlp with one hidden layer and a linear
// readout gives the gradient of E = sum_t loss(o^t) / T, equal to BPTT of the same loss.
TEST(Ostl, RuleOnSnuMlpEqualsBpttOfPerStepLoss) {
  for (const std::string loss : {"mse_rate", "cross_entropy"}) {
    for (const std::string neuron : {"false", "true"}) {
      SCOPED_TRACE(loss + " soft=" + neuron);
      torch::manual_seed(3);
      // The sSNU steps one at a time (trace_chunk 0); the SNU 3 steps per call (12 = 4 x 3).
      const std::string yaml = "model: {name: snu-mlp, hidden: [6], readout: linear, soft: " +
                               neuron + "}\nlearn: {rule: ostl, ostl: {update: sequence, " +
                               (neuron == "true" ? "trace_chunk: 0" : "signal_chunk: 3") +
                               "}}\n";
      auto [model, rule] = testing::make_model_and_rule(yaml);
      ASSERT_EQ(rule->name(), "ostl");
      const auto x = torch::rand({12, 5, 1, 2, 3}, torch::kFloat64) * 2;
      const auto labels = torch::randint(0, 4, {5}, torch::kLong);

      testing::expect_rule_equals_per_step_bptt(*rule, *model, x, labels, loss);
    }
  }
}

// An snu-mlp with an SNU readout is a deep stack (the approximation): the rule's several steps
// per call give the gradients of one step per call, for both losses.
TEST(Ostl, RuleWithAnSnuReadoutTakesSeveralStepsWithTheSameGradients) {
  for (const std::string loss : {"mse_rate", "cross_entropy"}) {
    std::vector<torch::Tensor> grads[2];
    for (int one_per_call = 0; one_per_call < 2; ++one_per_call) {
      torch::manual_seed(6);
      auto [model, rule] = testing::make_model_and_rule(
          std::string("model: {name: snu-mlp, hidden: [6, 5], readout: snu}\n") +
          "learn: {rule: ostl, ostl: {signal_chunk: " + (one_per_call ? "1" : "5") + "}}\n");
      const auto x = torch::rand({12, 4, 1, 2, 3}, torch::kFloat64) * 2;
      const auto labels = torch::randint(0, 4, {4}, torch::kLong);
      torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.0));
      rule->train_batch(*model, x, labels, loss, sgd);
      for (const auto& p : model->parameters()) grads[one_per_call].push_back(p.grad().clone());
    }
    EXPECT_LT(max_rel_err(grads[0], grads[1]), 1e-12) << loss;
  }
}

// The rule keeps its traced layers (and their trace buffers) from batch to batch: later
// batches, of another size, and a model converted to float in between still get BPTT's
// gradient (float: to float rounding).
TEST(Ostl, RuleReusedAcrossBatchesEqualsBpttOfPerStepLoss) {
  torch::manual_seed(8);
  auto [model, rule] = testing::make_model_and_rule(
      "model: {name: snu-mlp, hidden: [6], readout: linear, trainable_decay: true}\n"
      "learn: {rule: ostl}\n");
  for (const int64_t B : {5, 5, 3}) {
    const auto x = torch::rand({12, B, 1, 2, 3}, torch::kFloat64) * 2;
    const auto labels = torch::randint(0, 4, {B}, torch::kLong);
    testing::expect_rule_equals_per_step_bptt(*rule, *model, x, labels, "mse_rate");
  }
  model->to(torch::kFloat32);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();  // to() keeps them
  const auto x = torch::rand({12, 4, 1, 2, 3}) * 2;
  const auto labels = torch::randint(0, 4, {4}, torch::kLong);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.0));
  rule->train_batch(*model, x, labels, "mse_rate", sgd);
  std::vector<torch::Tensor> got;
  for (const auto& p : model->parameters()) {
    ASSERT_EQ(p.grad().scalar_type(), torch::kFloat32);
    got.push_back(p.grad().clone());
  }
  model->to(torch::kFloat64);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  const auto ref = testing::expect_rule_equals_per_step_bptt(*rule, *model, x.to(torch::kFloat64),
                                                             labels, "mse_rate");
  for (std::size_t k = 0; k < ref.size(); ++k) {
    EXPECT_LT(rel_err(got[k].to(torch::kFloat64), ref[k]), 1e-4) << "parameter " << k;
  }
}

TEST(Ostl, StepUpdatesChangeWeightsEveryStep) {
  torch::manual_seed(4);
  auto cfg = Config::from_string("model: {name: snu-mlp, hidden: [6], readout: linear}\n"
                                 "learn: {rule: ostl, ostl: {update: step}}\n");
  auto model = nn::make_model(cfg.root().section("model"), nn::InputShape{1, 2, 3}, 4);
  auto rule = make_rule(cfg.root().section("learn"), *model);
  const auto w0 = model->parameters()[0].detach().clone();
  int steps = 0;
  // An SGD whose step counts the calls.
  struct Counting : torch::optim::SGD {
    using SGD::SGD;
    int* n = nullptr;
    torch::Tensor step(LossClosure c = nullptr) override {
      ++*n;
      return SGD::step(c);
    }
  } sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  sgd.n = &steps;
  const auto x = torch::rand({7, 3, 1, 2, 3}) * 2;
  rule->train_batch(*model, x, torch::tensor({0, 1, 2}, torch::kLong), "mse_rate", sgd);
  EXPECT_EQ(steps, 7);
  EXPECT_FALSE(torch::equal(w0, model->parameters()[0].detach()));
}

TEST(Ostl, UnsupportedModelsAndKeysAreUserErrors) {
  auto expect_error = [](const std::string& yaml, const std::string& needle) {
    auto cfg = Config::from_string(yaml);
    try {
      auto model = nn::make_model(cfg.root().section("model"), nn::InputShape{1, 2, 3}, 4);
      make_rule(cfg.root().section("learn"), *model);
      ADD_FAILURE() << "no UserError for " << yaml;
    } catch (const UserError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("model: {name: mlp}\nlearn: {rule: ostl}\n", "supported: model 'snu-mlp'");
  expect_error("model: {name: snu-mlp, lateral_inhibition: true}\nlearn: {rule: ostl}\n",
               "lateral_inhibition");
  expect_error("model: {name: snu-mlp}\nlearn: {rule: ostl, ostl: {update: epoch}}\n",
               "update");
  expect_error("model: {name: snu-mlp}\nlearn: {rule: ostl, ostl: {updat: step}}\n", "updat");
  expect_error("model: {name: snu-mlp}\nlearn: {rule: ostl, ostl: {trace_chunk: -1}}\n",
               "trace_chunk");
  expect_error("model: {name: snu-mlp}\nlearn: {rule: ostl, ostl: {signal_chunk: 0}}\n",
               "signal_chunk");
}

}  // namespace
}  // namespace nc::learn
