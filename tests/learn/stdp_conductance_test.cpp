// ST-STDP with conductance-based neurons (model.neuron: conductance): the same pair-based rule as
// a hand computation from the spike times, the dense entry point equal to run(), training and
// labelling through the protocol, the config's option errors.
#include <gtest/gtest.h>

#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/stdp.h"
#include "neurocore/learn/stdp_experiment.h"
#include "neurocore/learn/stdp_protocol.h"

namespace {

using nc::learn::Plasticity;
using nc::learn::SpikeTrain;
using nc::learn::StdpNetwork;
using nc::learn::StdpOptions;
using nc::nn::LifWtaOptions;

LifWtaOptions dc_neurons(int64_t n) {
  LifWtaOptions o;
  o.neuron = nc::nn::NeuronModel::conductance;
  o.neurons = n;
  return o;
}

TEST(StdpConductance, UpdateEqualsTheHandComputationFromTheSpikeTimes) {
  StdpOptions o;
  o.gamma = 0.05;
  o.x0 = 0.2;
  o.eta = 0.01;
  o.x_tar = 0.4;
  o.mu = 0.2;
  o.tau_x = 20;
  o.tau_f = 200;
  auto n = dc_neurons(1);
  n.conductance.v_th = -63;  // a few inputs reach it
  StdpNetwork net(o, n, 3, 1);
  net.weights() = {3.0 / 4, 1.0 / 2, 0.0};
  SpikeTrain in;
  for (int32_t t = 0; t < 60; t += 2) in.push_back({t, t % 4 == 0 ? 0 : 1});
  const auto out = net.run(in, 70, Plasticity{true, true, false});
  ASSERT_GE(out.size(), 2u);  // several post spikes, so the F and W updates accumulate
  // The rule as a function of the spike times alone (stdp.h), input by input.
  std::vector<double> w = {3.0 / 4, 1.0 / 2, 0.0}, f(3, 0.0);
  std::vector<int64_t> tf(3, 0);
  for (const auto& post : out) {
    for (int i = 0; i < 3; ++i) {
      double x = 0;
      for (const auto& pre : in)
        if (pre.index == i && pre.step <= post.step) x += std::exp(-(post.step - pre.step) / 20.0);
      f[i] = f[i] * std::exp(-(post.step - tf[i]) / 200.0) + 0.05 * (x - 0.2);
      tf[i] = post.step;
      w[i] = std::clamp(w[i] + 0.01 * (x - 0.4) * std::pow(1.0 - w[i], 0.2), 0.0, 1.0);
    }
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(net.weights()[static_cast<size_t>(i)], w[i], 1e-12) << i;
    EXPECT_NEAR(net.short_term(i, 0), f[i] * std::exp(-(70 - tf[i]) / 200.0), 1e-12) << i;
  }
}

TEST(StdpConductance, DenseEntryEqualsRunAndHardWtaHolds) {
  StdpOptions o;
  o.gamma = 0.2;
  o.eta = 0.05;
  auto n = dc_neurons(12);
  n.conductance.v_th = -60;  // enough drive to fire
  StdpNetwork a(o, n, 60, 9), b(o, n, 60, 9);
  std::mt19937_64 rng(11);
  std::vector<float> p(60);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>(i % 7) / 6.0f;
  size_t total = 0;
  for (int window = 0; window < 3; ++window) {
    const auto in = nc::learn::poisson_input(p.data(), 60, 150, 200, 1.0, rng);
    const Plasticity pl{window < 2, true, window < 2};
    const auto ea = a.run(in, 200, pl);
    ASSERT_EQ(ea, b.run_dense(in, 200, pl)) << window;
    for (size_t s = 1; s < ea.size(); ++s) EXPECT_LT(ea[s - 1].step, ea[s].step);  // one per step
    total += ea.size();
  }
  EXPECT_GT(total, 10u);
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.synaptic_events(), b.synaptic_events());
  EXPECT_EQ(a.threshold(), -60.0);
  ASSERT_NE(a.conductance(), nullptr);
}

TEST(StdpConductance, TrainsLabelsAndClassifiesThroughTheProtocol) {
  // Two classes, each a block of 20 of 40 inputs. Neurons 0, 1 start slightly tuned to block 0,
  // neurons 2, 3 to block 1 (0.6 against 0.4): training without labels must sharpen that, and
  // labelling must find it.
  const int64_t inputs = 40, n = 4;
  StdpOptions o;
  o.present_ms = 200;
  o.rest_ms = 20;
  o.weight_sum = 20;  // strong enough drive for a few spikes per presentation at 63.75 Hz
  o.eta = 0.05;
  o.frame_ms = 50;
  auto neurons = dc_neurons(n);
  neurons.conductance.theta_plus = 0.2;
  StdpNetwork net(o, neurons, inputs, 5);
  auto block_sum = [&](int64_t j, int64_t block) {
    double sum = 0;
    for (int64_t i = block * 20; i < block * 20 + 20; ++i) sum += net.weights()[static_cast<size_t>(i * n + j)];
    return sum;
  };
  for (int64_t i = 0; i < inputs; ++i)
    for (int64_t j = 0; j < n; ++j) net.weights()[static_cast<size_t>(i * n + j)] = i / 20 == j / 2 ? 0.6 : 0.4;
  std::vector<std::vector<float>> images(2, std::vector<float>(inputs, 0.0f));
  for (int64_t i = 0; i < inputs; ++i) images[static_cast<size_t>(i / 20)][static_cast<size_t>(i)] = 1.0f;
  std::mt19937_64 rng(3);
  int64_t spikes = 0;
  for (int pass = 0; pass < 10; ++pass)
    for (const auto& img : images) spikes += nc::learn::train_image(net, img.data(), rng);
  EXPECT_GT(spikes, 20);
  net.freeze_adaptation();
  std::vector<const float*> ptr = {images[0].data(), images[1].data(), images[0].data(), images[1].data()};
  const auto labels = nc::learn::assign_labels(net, ptr, {0, 1, 0, 1}, 2, rng);
  for (int64_t j = 0; j < n; ++j) {
    if (labels[static_cast<size_t>(j)] < 0) continue;
    EXPECT_EQ(labels[static_cast<size_t>(j)], j / 2) << j;
    EXPECT_GT(block_sum(j, j / 2), 13.0) << j;  // its own block gained weight (from 12 of 20)
  }
  ASSERT_NE(std::count(labels.begin(), labels.end(), 0), 0) << spikes << " " << labels[0] << labels[1] << labels[2] << labels[3];
  ASSERT_NE(std::count(labels.begin(), labels.end(), 1), 0);
  std::vector<float> video(3 * inputs);
  for (int64_t k = 0; k < 3; ++k) std::copy(images[1].begin(), images[1].end(), video.begin() + k * inputs);
  const auto pred = nc::learn::classify_video(net, video.data(), 3, labels, 2, true, rng);
  EXPECT_EQ(pred, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_THROW(nc::learn::calibrate_threshold(net, ptr, rng), nc::InternalError);
}

std::string stdp_config_error(const std::string& model) {
  auto c = nc::Config::from_string("data: {name: omnist}\nmodel: " + model + "\nlearn: {rule: stdp}\n", "t.yaml");
  try {
    nc::learn::StdpExperiment::build(c);
  } catch (const nc::UserError& e) {
    return e.what();
  }
  return "";
}

TEST(StdpConductance, ConfigReadsTheOptionAndRejectsTheOtherModelsKeys) {
  auto c = nc::Config::from_string(
      "data: {name: omnist}\nmodel: {neuron: conductance, conductance: {v_th: -50, dt: 0.25, w_inh: 10}}\n"
      "learn: {rule: stdp}\n", "t.yaml");
  const auto e = nc::learn::StdpExperiment::build(c);
  EXPECT_EQ(e.neurons.neuron, nc::nn::NeuronModel::conductance);
  EXPECT_EQ(e.neurons.conductance.v_th, -50);
  EXPECT_EQ(e.neurons.conductance.dt, 0.25);
  EXPECT_EQ(e.neurons.conductance.w_inh, 10);
  EXPECT_EQ(e.neurons.conductance.v_rest, -65);
  EXPECT_EQ(stdp_config_error("{neuron: current}"), "");
  EXPECT_NE(stdp_config_error("{neuron: conductance, delta_a: 0.01}").find("model.delta_a applies to model.neuron current"),
            std::string::npos);
  EXPECT_NE(stdp_config_error("{conductance: {v_th: -50}}").find("model.conductance applies to model.neuron conductance"),
            std::string::npos);
  EXPECT_NE(stdp_config_error("{neuron: conductance, conductance: {tau_gi: -2}}").find("model.conductance.tau_gi: got -2"),
            std::string::npos);
  EXPECT_NE(stdp_config_error("{neuron: conductance, conductance: {v_reset: -50}}").find("model.conductance.v_th: got -52"),
            std::string::npos);
  EXPECT_NE(stdp_config_error("{neuron: conductance, conductance: {dt: 2}}").find("model.conductance.dt: got 2"),
            std::string::npos);
  EXPECT_NE(stdp_config_error("{neuron: conductance, conductance: {tau_e: 2}}"), "");  // unknown key
  EXPECT_NE(stdp_config_error("{neuron: cond}"), "");
}

}  // namespace
