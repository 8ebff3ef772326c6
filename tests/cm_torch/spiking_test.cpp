// Spiking (temporal) graphs in the CM compiler (graph.h, docs/cm.md "Spiking graphs"): an
// snu-mlp becomes Linear + Spiking nodes run for T steps per sample, and every evaluator (LibTorch,
// the reference loops, the functional simulator) computes what the model computes, with the
// neurons' state restarting at each sample; timing and accuracy count T frames per image.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/cm/torch/accuracy.h"
#include "neurocore/cm/functional.h"
#include "neurocore/cm/reference_eval.h"
#include "neurocore/cm/timing.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/snu.h"

namespace {

using namespace nc;

constexpr int64_t kSteps = 6;
const nn::InputShape kIn{1, 6, 6};

struct ModelSpec {
  bool soft = false;
  nn::Readout readout = nn::Readout::snu;
  nn::Activation g = nn::Activation::identity;
  bool trainable_decay = false;
  bool recurrent = false;
};

// Per-unit thresholds (and decays) drawn at random, so that each unit's own parameters matter.
nn::SNUMLP make_model(const ModelSpec& spec) {
  torch::manual_seed(5);
  nn::SNUOptions neuron(1, 1);
  neuron.soft(spec.soft).g(spec.g).decay(0.8).trainable_decay(spec.trainable_decay).recurrent(spec.recurrent);
  nn::SNUMLP m(nn::SNUMLPOptions(kIn.channels * kIn.height * kIn.width, 4)
                   .hidden({24, 16})
                   .neuron(neuron)
                   .readout(spec.readout));
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters()) {
    if (p.key().find("threshold") != std::string::npos) p.value().uniform_(0.1, 0.6);
    if (p.key().find("rho") != std::string::npos) p.value().uniform_(-1.0, 2.0);
  }
  m->eval();
  return m;
}

// Binary input frames [T, B, 1, 6, 6].
torch::Tensor spikes(int64_t batch, uint64_t seed = 11) {
  torch::manual_seed(seed);
  return torch::bernoulli(torch::full({kSteps, batch, kIn.channels, kIn.height, kIn.width}, 0.3));
}

// One sample's frames, concatenated (the reference evaluator's and the simulator's layout).
std::vector<float> sample_frames(const torch::Tensor& x, int64_t b) {
  const torch::Tensor s = x.select(1, b).to(torch::kFloat).contiguous();
  return {s.data_ptr<float>(), s.data_ptr<float>() + s.numel()};
}

TEST(CmSpiking, ImportedSnuMlpEqualsTheModelInDoublePrecision) {
  // The step function makes exact equality the only meaningful test: in double precision the
  // graph's spikes must be the model's, step by step.
  for (auto readout : {nn::Readout::snu, nn::Readout::linear}) {
    for (auto g : {nn::Activation::identity, nn::Activation::relu, nn::Activation::leaky_relu}) {
      ModelSpec spec;
      spec.readout = readout;
      spec.g = g;
      auto m = make_model(spec);
      const cm::Graph graph = cm::import_model(*m, kIn, kSteps);
      EXPECT_EQ(graph.time_steps(), kSteps);
      m->to(torch::kDouble);
      const auto x = spikes(5).to(torch::kDouble);
      const auto want = m->forward(x);
      const auto got = cm::evaluate_with_torch(graph, x)[0];
      ASSERT_EQ(got.sizes(), want.sizes());
      EXPECT_LT((got - want).abs().max().item<double>(), 1e-12);
      // Not a vacuous comparison: the hidden layers and the output both spike, not always.
      if (readout == nn::Readout::snu) {
        EXPECT_GT(want.sum().item<double>(), 0.0);
        EXPECT_LT(want.sum().item<double>(), static_cast<double>(want.numel()));
      }
    }
  }
}

TEST(CmSpiking, SoftUnitsWithTrainableDecayMatchTheModel) {
  ModelSpec spec;
  spec.soft = true;
  spec.trainable_decay = true;
  spec.readout = nn::Readout::linear;
  auto m = make_model(spec);
  const cm::Graph graph = cm::import_model(*m, kIn, kSteps);
  const auto x = spikes(4);
  const auto want = m->forward(x);
  const auto got = cm::evaluate_with_torch(graph, x)[0];
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);
}

// The reference loops and the functional simulator restart the state per sample: every sample of
// a stream equals its own evaluation from zero, and equals LibTorch's batch.
TEST(CmSpiking, ReferenceAndFunctionalSimulationEqualLibTorchPerSample) {
  ModelSpec spec;
  spec.soft = true;
  spec.g = nn::Activation::relu;
  auto m = make_model(spec);
  const cm::Graph graph = cm::import_model(*m, kIn, kSteps);
  const auto x = spikes(3);
  const auto torch_out = cm::evaluate_with_torch(graph, x)[0];  // [T, 3, 4]
  cm::Hardware hw;
  hw.crossbar_rows = hw.crossbar_cols = 16;  // split the 36x24 layer over row and column blocks
  const cm::Mapping mapping = cm::map_graph(graph, hw);
  const cm::PolyModel poly(graph);
  cm::FunctionalSimulator sim(graph, mapping, poly, hw);
  std::vector<std::vector<float>> frames;
  for (int64_t b = 0; b < 3; ++b) {
    const auto f = sample_frames(x, b);
    const int64_t per = static_cast<int64_t>(f.size()) / kSteps;
    for (int64_t t = 0; t < kSteps; ++t) frames.emplace_back(f.begin() + t * per, f.begin() + (t + 1) * per);
  }
  const auto sim_out = sim.run(frames);
  ASSERT_EQ(sim_out.size(), static_cast<std::size_t>(3 * kSteps));
  for (int64_t b = 0; b < 3; ++b) {
    const std::vector<float> ref = cm::evaluate(graph, sample_frames(x, b));
    ASSERT_EQ(ref.size(), static_cast<std::size_t>(kSteps * 4));
    const torch::Tensor t_out = torch_out.select(1, b).contiguous();
    const std::vector<float> lib(t_out.data_ptr<float>(), t_out.data_ptr<float>() + t_out.numel());
    EXPECT_LT(cm::max_relative_error(ref, lib), 1e-5) << "sample " << b;
    for (int64_t t = 0; t < kSteps; ++t) {
      const std::vector<float> step(ref.begin() + t * 4, ref.begin() + (t + 1) * 4);
      EXPECT_LT(cm::max_relative_error(sim_out[static_cast<std::size_t>(b * kSteps + t)], step), 1e-5)
          << "sample " << b << ", step " << t;
    }
  }
  EXPECT_THROW(sim.run(std::vector<std::vector<float>>(frames.begin(), frames.begin() + 1)), UserError);
}

// A hand-built graph with image-like spiking values (per-channel decay and threshold), hard spikes.
TEST(CmSpiking, ImageLikeSpikingNodesAgreeAcrossEvaluators) {
  cm::Graph g;
  g.set_time_steps(4);
  torch::manual_seed(2);
  auto values = [](int64_t n, double lo, double hi) {
    const auto t = torch::empty({n}).uniform_(lo, hi);
    return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + n);
  };
  cm::ValueId v = g.input("input", {2, 5, 5});
  v = g.conv2d(v, cm::Conv2dOptions(2, 3, 3).padding(1).bias(false), "conv", values(3 * 2 * 9, -0.6, 0.8));
  v = g.spiking(v, cm::SpikingOptions(), "conv.neurons", values(3, 0.5, 0.95), values(3, 0.2, 0.7));
  v = g.flatten(v, "flatten");
  v = g.linear(v, cm::LinearOptions(75, 5).bias(false), "fc", values(75 * 5, -0.3, 0.3));
  v = g.spiking(v, cm::SpikingOptions().soft(true), "fc.neurons", values(5, 0.5, 0.95), values(5, 0.0, 0.3));
  g.mark_output(v);
  torch::manual_seed(8);
  const auto x = torch::bernoulli(torch::full({4, 2, 2, 5, 5}, 0.4)).to(torch::kDouble);
  const auto lib = cm::evaluate_with_torch(g, x)[0];  // double: the exact spikes
  cm::Hardware hw;
  const cm::Mapping mapping = cm::map_graph(g, hw);
  const cm::PolyModel poly(g);
  cm::FunctionalSimulator sim(g, mapping, poly, hw);
  std::vector<std::vector<float>> frames;
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t t = 0; t < 4; ++t) {
      const auto f = x[t][b].to(torch::kFloat).contiguous();
      frames.emplace_back(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    }
  }
  const auto out = sim.run(frames);
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<float> sample;
    for (int64_t t = 0; t < 4; ++t) sample.insert(sample.end(), frames[static_cast<std::size_t>(b * 4 + t)].begin(), frames[static_cast<std::size_t>(b * 4 + t)].end());
    const auto ref = cm::evaluate(g, sample);
    for (int64_t t = 0; t < 4; ++t) {
      const auto want = lib[t][b].to(torch::kFloat).contiguous();
      const std::vector<float> w(want.data_ptr<float>(), want.data_ptr<float>() + 5);
      const std::vector<float> r(ref.begin() + t * 5, ref.begin() + (t + 1) * 5);
      EXPECT_LT(cm::max_relative_error(r, w), 1e-5) << b << " " << t;
      EXPECT_LT(cm::max_relative_error(out[static_cast<std::size_t>(b * 4 + t)], w), 1e-5) << b << " " << t;
    }
  }
}

TEST(CmSpiking, TimingAndEnergyCountTFramesPerImage) {
  auto m = make_model({});
  cm::Hardware hw;
  auto report = [&](int64_t steps) {
    const cm::Graph g = cm::import_model(*m, kIn, steps);
    const cm::Mapping mapping = cm::map_graph(g, hw);
    const cm::PolyModel poly(g);
    cm::TimingOptions o;
    o.images = 6;
    return cm::simulate_timing(g, mapping, poly, hw, o);
  };
  const cm::TimingReport r2 = report(2), r4 = report(4);
  EXPECT_EQ(r4.images, 6);
  EXPECT_EQ(r4.time_steps, 4);
  ASSERT_EQ(r4.image_done.size(), 6u);
  EXPECT_NEAR(r4.energy.total_pj(), 2 * r2.energy.total_pj(), 1e-9 * r4.energy.total_pj());
  EXPECT_NEAR(r4.energy.digital_pj, 2 * r2.energy.digital_pj, 1e-9 * r4.energy.digital_pj);
  // The steady state is one frame after another: twice the frames, twice the period.
  EXPECT_NEAR(r4.period_cycles, 2 * r2.period_cycles, 0.05 * r4.period_cycles);
  EXPECT_GT(r4.first_latency_cycles, r2.first_latency_cycles);
}

TEST(CmSpiking, IdealAcceleratorScoresAsTheModel) {
  ModelSpec spec;
  spec.soft = true;
  spec.readout = nn::Readout::linear;
  auto m = make_model(spec);
  const cm::Graph g = cm::import_model(*m, kIn, kSteps);
  const auto x = spikes(20, 4);
  const auto labels = m->forward(x).mean(0).argmax(1);  // the model's own decisions
  cm::Hardware hw;
  const cm::Mapping mapping = cm::map_graph(g, hw);
  const cm::PolyModel poly(g);
  cm::AccuracyOptions o;
  o.sim_images = 9;
  o.progress = false;
  const cm::AccuracyReport r = cm::evaluate_accuracy(g, mapping, poly, hw, x, labels, o);
  EXPECT_EQ(r.images, 20);
  EXPECT_DOUBLE_EQ(r.compiled_accuracy, 100.0);
  EXPECT_DOUBLE_EQ(r.accelerator_accuracy, 100.0);
  EXPECT_DOUBLE_EQ(r.agreement, 100.0);
  EXPECT_EQ(r.mvms % kSteps, 0);
  // Frames of the wrong count are named.
  EXPECT_THROW(cm::evaluate_accuracy(g, mapping, poly, hw, x.slice(0, 0, 3), labels, o), UserError);
}

TEST(CmSpiking, WhatCannotBeCompiledIsRefusedByName) {
  ModelSpec spec;
  spec.recurrent = true;
  auto rec = make_model(spec);
  try {
    cm::import_model(*rec, kIn, kSteps);
    ADD_FAILURE() << "a recurrent SNU layer was imported";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("recurrent"), std::string::npos) << e.what();
  }
  auto m = make_model({});
  EXPECT_THROW(cm::import_model(*m, kIn), UserError);  // no time steps
  cm::Graph g;
  const cm::ValueId v = g.input("x", {4});
  EXPECT_THROW(g.spiking(v, cm::SpikingOptions()), UserError);  // not a temporal graph
  EXPECT_THROW(g.set_time_steps(0), UserError);
  g.set_time_steps(3);
  EXPECT_THROW(g.spiking(v, cm::SpikingOptions().g(cm::ActKind::kTanh)), UserError);
  EXPECT_THROW(g.spiking(v, cm::SpikingOptions(), "s", {0.5f}, {0.1f}), UserError);  // [C] = 4
  g.mark_output(g.spiking(v, cm::SpikingOptions(), "s"));
  EXPECT_NE(g.to_string().find("3 time steps"), std::string::npos) << g.to_string();
  EXPECT_NE(g.to_json().find("\"time_steps\": 3"), std::string::npos);
}

}  // namespace
