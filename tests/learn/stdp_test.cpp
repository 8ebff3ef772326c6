// ST-STDP: the rule against hand computations, the short-term decay, winner-take-all, the
// event-driven simulator against the dense reference, Poisson input, labelling, errors.
#include "neurocore/learn/stdp.h"

#include <gtest/gtest.h>

#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/stdp_protocol.h"

namespace {

using nc::learn::Plasticity;
using nc::learn::SpikeTrain;
using nc::learn::StdpNetwork;
using nc::learn::StdpOptions;
using nc::nn::LifWtaOptions;

std::string user_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const nc::UserError& e) {
    return e.what();
  }
  return "";
}

LifWtaOptions neurons(int64_t n, double v_th) {
  LifWtaOptions o;
  o.neurons = n;
  o.v_th = v_th;
  return o;
}

TEST(Stdp, UpdateEqualsHandComputationForAPairOfSpikeTrains) {
  StdpOptions o;
  o.gamma = 0.05;
  o.x0 = 0.2;
  o.eta = 0.01;
  o.x_tar = 0.4;
  o.mu = 0.2;
  StdpNetwork net(o, neurons(1, 1.2), 2, 1);
  net.weights() = {0.5, 0.3};
  // Input 0 spikes at steps 0 and 3, input 1 at step 5: V = 0.5, 0.5 e^{-3/100} + 0.5 = 0.985,
  // then 0.985 e^{-2/100} + 0.3 = 1.265 > 1.2: the neuron spikes at step 5 only.
  const SpikeTrain in = {{0, 0}, {3, 0}, {5, 1}};
  const auto out = net.run(in, 8, Plasticity{true, true, false});
  ASSERT_EQ(out, (SpikeTrain{{5, 0}}));
  const double x0_at5 = (std::exp(-3.0 / 20) + 1.0) * std::exp(-2.0 / 20), x1_at5 = 1.0;
  const double w0 = 0.5 + 0.01 * (x0_at5 - 0.4) * std::pow(1.0 - 0.5, 0.2);
  const double w1 = 0.3 + 0.01 * (x1_at5 - 0.4) * std::pow(1.0 - 0.3, 0.2);
  EXPECT_NEAR(net.weights()[0], w0, 1e-15);
  EXPECT_NEAR(net.weights()[1], w1, 1e-15);
  // F: one increment γ (x_i − x_0) at step 5, then 3 steps of decay to now() = 8.
  EXPECT_NEAR(net.short_term(0, 0), 0.05 * (x0_at5 - 0.2) * std::exp(-3.0 / 200), 1e-15);
  EXPECT_NEAR(net.short_term(1, 0), 0.05 * (x1_at5 - 0.2) * std::exp(-3.0 / 200), 1e-15);
}

TEST(Stdp, ShortTermEfficacyDecaysWithTauF) {
  for (double tau_f : {50.0, 200.0, 1000.0}) {
    StdpOptions o;
    o.tau_f = tau_f;
    StdpNetwork net(o, neurons(1, 0.5), 3, 2);
    net.weights() = {0.9, 0.0, 0.0};
    net.run({{0, 0}}, 1, Plasticity{false, true, false});  // spikes at step 0: F = γ(x − x0)
    const double f0 = net.short_term(0, 0), f2 = net.short_term(2, 0);
    ASSERT_NE(f0, 0.0);
    ASSERT_LT(f2, 0.0);  // silent input: depressed by γ x0
    for (int64_t gap : {1, 7, 300, 5000}) {
      const int64_t t = net.now() - 1 + gap;
      net.run({}, gap, Plasticity{false, true, false});
      // F was set at step 0 and f0 read at step 1: F(now)/F(1) = exp(-(now - 1)/τ_F).
      const double want = std::exp(-static_cast<double>(t) / tau_f);
      EXPECT_NEAR(net.short_term(0, 0) / f0, want, 1e-12 * want) << tau_f << " " << gap;
      EXPECT_NEAR(net.short_term(2, 0) / f2, want, 1e-12 * want);
    }
  }
}

TEST(Stdp, HardWtaGivesOneWinnerPerStepLowestIndexOnTies) {
  StdpNetwork net(StdpOptions{}, neurons(8, 0.5), 4, 3);
  for (auto& w : net.weights()) w = 0.6;  // every neuron crosses at once: a tie
  const auto out = net.run({{0, 0}}, 1, Plasticity{});
  ASSERT_EQ(out, (SpikeTrain{{0, 0}}));
  // Strong random drive: never two spikes in one step, and refractoriness holds.
  StdpNetwork busy(StdpOptions{}, neurons(20, 2.0), 100, 4);
  std::mt19937_64 rng(5);
  std::vector<float> p(100, 1.0f);
  const auto in = nc::learn::poisson_input(p.data(), 100, 200, 500, 1.0, rng);
  const auto spikes = busy.run(in, 500, Plasticity{true, true, true});
  ASSERT_GT(spikes.size(), 20u);
  std::vector<int64_t> last(20, -100);
  for (size_t s = 0; s < spikes.size(); ++s) {
    if (s > 0) {
      EXPECT_LT(spikes[s - 1].step, spikes[s].step);
    }
    EXPECT_GT(spikes[s].step - last[spikes[s].index], 5);  // t_ref = 5 steps
    last[spikes[s].index] = spikes[s].step;
  }
}

// Two identical networks, one run event-driven, one dense, over several windows (one quiet):
// the same spikes, the same W and F bits, the same event counts.
void expect_event_equals_dense(bool hard_wta, double gamma_minus) {
  StdpOptions o;
  o.gamma = 0.2;
  o.gamma_minus = gamma_minus;
  o.tau_f = 50;
  o.eta = 0.05;
  LifWtaOptions n = neurons(12, 1.5);
  n.hard_wta = hard_wta;
  n.w_inh = 0.5;
  n.tau_a = 500;
  n.delta_a = 0.2;
  StdpNetwork a(o, n, 60, 9), b(o, n, 60, 9);
  std::mt19937_64 rng(11);
  std::vector<float> p(60);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i % 7) / 6.0f;
  int64_t total = 0;
  for (int window = 0; window < 6; ++window) {
    const int64_t steps = window == 3 ? 120 : 200;
    const auto in = window == 3 ? SpikeTrain{} : nc::learn::poisson_input(p.data(), 60, 150, steps, 1.0, rng);
    const Plasticity pl{window < 4, true, window < 4};
    const auto ea = a.run(in, steps, pl);
    const auto eb = b.run_dense(in, steps, pl);
    ASSERT_EQ(ea, eb) << "window " << window;
    total += static_cast<int64_t>(ea.size());
    if (window == 4) {
      a.reset();
      b.reset();
    }
  }
  EXPECT_GT(total, 30);
  EXPECT_EQ(a.weights(), b.weights());
  for (int64_t i = 0; i < 60; ++i)
    for (int64_t j = 0; j < 12; ++j) ASSERT_EQ(a.short_term(i, j), b.short_term(i, j));
  EXPECT_EQ(a.synaptic_events(), b.synaptic_events());
}

TEST(Stdp, EventDrivenEqualsDenseReferenceBitForBit) {
  expect_event_equals_dense(true, 0.0);
  expect_event_equals_dense(false, 0.0);
  expect_event_equals_dense(true, 0.01);
}

TEST(Stdp, ZeroGammaGivesTheStaticNetworksSpikes) {
  StdpOptions o;
  o.gamma = 0;
  StdpNetwork a(o, neurons(10, 3.0), 50, 6), b(o, neurons(10, 3.0), 50, 6);
  std::mt19937_64 rng(2);
  std::vector<float> p(50, 0.7f);
  const auto in = nc::learn::poisson_input(p.data(), 50, 200, 400, 1.0, rng);
  EXPECT_EQ(a.run(in, 400, Plasticity{false, true, false}), b.run(in, 400, Plasticity{}));
}

TEST(Stdp, PoissonCountsMatchRateTimesDuration) {
  std::mt19937_64 rng(3);
  std::vector<float> p = {1.0f, 0.5f, 0.0f};
  const int trials = 10000, steps = 100;
  double count[3] = {0, 0, 0};
  for (int t = 0; t < trials; ++t)
    for (const auto& s : nc::learn::poisson_input(p.data(), 3, 63.75, steps, 1.0, rng)) count[s.index] += 1;
  for (int i = 0; i < 2; ++i) {
    const double q = 63.75 * p[i] / 1000.0, mean = trials * steps * q;
    EXPECT_NEAR(count[i], mean, 3 * std::sqrt(trials * steps * q * (1 - q))) << i;
  }
  EXPECT_EQ(count[2], 0);
}

TEST(Stdp, LabelsOfTemplateNeuronsAreTheirTemplatesClasses) {
  // Neuron j's W is class (j % 5)'s template: a block of 10 inputs of its own.
  const int64_t classes = 5, inputs = 50, n = 10;
  StdpNetwork net(StdpOptions{}, neurons(n, 2.0), inputs, 7);
  std::vector<std::vector<float>> images(classes, std::vector<float>(inputs, 0.0f));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < inputs; ++i) net.weights()[i * n + j] = i / 10 == j % classes ? 0.9 : 0.0;
  for (int64_t c = 0; c < classes; ++c)
    for (int64_t i = c * 10; i < c * 10 + 10; ++i) images[c][i] = 1.0f;
  std::vector<const float*> ptr;
  std::vector<int64_t> labels;
  for (int r = 0; r < 4; ++r)
    for (int64_t c = 0; c < classes; ++c) ptr.push_back(images[c].data()), labels.push_back(c);
  std::mt19937_64 rng(1);
  const auto got = nc::learn::assign_labels(net, ptr, labels, classes, rng);
  for (int64_t j = 0; j < n; ++j) EXPECT_EQ(got[j], j % classes) << j;
  EXPECT_EQ(nc::learn::predict({0, 0, 3, 0, 0, 0, 0, 1, 0, 0}, got, classes), 2);
  EXPECT_EQ(nc::learn::predict(std::vector<int64_t>(n, 0), got, classes), -1);
}

TEST(Stdp, BadOptionsAreUserErrorsNamingFieldValueAndExpectation) {
  StdpOptions o;
  o.tau_f = -5;
  auto msg = user_error([&] { o.validate(); });
  EXPECT_NE(msg.find("learn.stdp.tau_f: got -5, expected a number > 0"), std::string::npos) << msg;
  LifWtaOptions n;
  n.tau_m = -1;
  msg = user_error([&] { n.validate(); });
  EXPECT_NE(msg.find("model.tau_m: got -1, expected a number > 0"), std::string::npos) << msg;
  n = {};
  n.tau_a = 10;
  EXPECT_NE(user_error([&] { n.validate(); }).find("tau_a: got 10"), std::string::npos);
  auto c = nc::Config::from_string("stdp: {gamma: -0.1}\n", "t.yaml");
  msg = user_error([&] { StdpOptions::from_config(c.root().section("stdp")); });
  EXPECT_NE(msg.find("stdp.gamma: got -0.1"), std::string::npos) << msg;
}

TEST(Stdp, CalibrationReachesTheTargetSpikeCount) {
  StdpOptions o;
  o.present_ms = 200;
  StdpNetwork net(o, neurons(20, 1.0), 100, 8);
  std::vector<float> img(100, 0.5f);
  std::vector<const float*> images = {img.data(), img.data()};
  std::mt19937_64 rng(4);
  const double v = nc::learn::calibrate_threshold(net, images, rng);
  EXPECT_GT(v, 0.0);
  EXPECT_EQ(net.neurons().v_th(), v);
}

}  // namespace

namespace {

TEST(Stdp, SetShortTermReplacesTheRuleAndChecksIt) {
  StdpNetwork net(StdpOptions{}, neurons(1, 0.5), 2, 3);
  net.weights() = {0.9, 0.0};
  net.set_short_term(0.3, 50, 0.1);
  EXPECT_EQ(net.options().gamma, 0.3);
  net.run({{0, 0}}, 11, Plasticity{false, true, false});  // post spike at step 0, read at 11
  EXPECT_NEAR(net.short_term(0, 0), 0.3 * (1.0 - 0.1) * std::exp(-11.0 / 50), 1e-15);
  EXPECT_NE(user_error([&] { net.set_short_term(0.3, -1, 0.1); }).find("tau_f: got -1"), std::string::npos);
}

}  // namespace
