#include "neurocore/learn/charlm.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"

namespace {

using nc::learn::CharLm;
using nc::learn::LmOptions;

CharLm make_model(const std::string& cell, bool recurrent, const std::string& rule, int64_t seed) {
  LmOptions o;
  o.cell = cell;
  o.hidden = 4;
  o.recurrent = recurrent;
  o.rule = rule;
  o.batch_size = 3;
  torch::manual_seed(seed);
  CharLm m(5, o);
  m->to(torch::kFloat64);
  return m;
}

std::vector<torch::Tensor> window_grads(CharLm& m, const torch::Tensor& x, const torch::Tensor& y) {
  for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
  auto learner = nc::learn::make_lm_learner(m);
  learner->begin(x.size(1));
  learner->train_window(x, y, nullptr);
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().clone());
  return g;
}

// One window from a fresh state: OSTL's accumulated gradient of the window's mean
// cross-entropy equals (truncated) BPTT's, for every cell.
TEST(CharLm, OstlWindowGradientEqualsBptt) {
  struct Case {
    std::string cell;
    bool recurrent;
  };
  for (const auto& c : {Case{"ssnu", false}, Case{"snu", false}, Case{"ssnu", true},
                        Case{"lstm", false}, Case{"gru", false}}) {
    for (int64_t seed : {1, 2}) {
      torch::manual_seed(100 + seed);
      // Windows shorter and longer than the 16 steps a diagonal SNU layer takes per call.
      const int64_t W = seed == 1 ? 7 : 37;
      const auto x = torch::randint(5, {W, 3}, torch::kLong);
      const auto y = torch::randint(5, {W, 3}, torch::kLong);
      auto bptt = make_model(c.cell, c.recurrent, "bptt", seed);
      auto ostl = make_model(c.cell, c.recurrent, "ostl", seed);
      const auto gb = window_grads(bptt, x, y);
      const auto go = window_grads(ostl, x, y);
      ASSERT_EQ(gb.size(), go.size());
      for (std::size_t i = 0; i < gb.size(); ++i) {
        const double rel = (go[i] - gb[i]).norm().item<double>() /
                           std::max(gb[i].norm().item<double>(), 1e-300);
        EXPECT_LT(rel, 1e-9) << c.cell << (c.recurrent ? " recurrent" : "") << " seed " << seed
                             << " parameter " << i;
      }
    }
  }
}

TEST(CharLm, UniformModelScoresLog2OfTheVocabulary) {
  auto m = make_model("lstm", false, "bptt", 1);
  torch::NoGradGuard no_grad;
  m->readout->weight.zero_();
  m->readout->bias.zero_();
  const auto codes = torch::randint(5, {101}, torch::kLong);
  EXPECT_NEAR(nc::learn::evaluate_bpc(m, codes, 4), std::log2(5.0), 1e-12);
}

TEST(CharLm, LearnsARepeatingText) {
  auto m = make_model("ssnu", false, "ostl", 3);
  m->options.learning_rate = 0.05;
  const auto codes = torch::arange(3, torch::kLong).repeat({400});  // 0 1 2 0 1 2 ...
  auto learner = nc::learn::make_lm_learner(m);
  torch::optim::Adam adam(m->parameters(), torch::optim::AdamOptions(0.05));
  const auto x = codes.narrow(0, 0, 1197).view({3, 399}).t();
  const auto y = codes.narrow(0, 1, 1197).view({3, 399}).t();
  learner->begin(3);
  for (int64_t t = 0; t + 10 <= x.size(0); t += 10) {
    learner->train_window(x.narrow(0, t, 10), y.narrow(0, t, 10), &adam);
  }
  // Untrained: log2(5) = 2.32 bits; the best context-free model: log2(3) = 1.58 bits.
  EXPECT_LT(nc::learn::evaluate_bpc(m, codes, 2), 0.5);
}

TEST(CharLm, OptionsRejectBadFields) {
  auto parse = [](const std::string& yaml) {
    auto cfg = nc::Config::from_string(yaml);
    auto r = cfg.root();
    return nc::learn::lm_options(r.section("model"), r.section("learn"), r.section("train"));
  };
  EXPECT_EQ(parse("model: {cell: gru, hidden: 8}").cell, "gru");
  EXPECT_THROW(parse("model: {cell: lstm, recurrent: true}"), nc::UserError);
  EXPECT_THROW(parse("learn: {window: 0}"), nc::UserError);
  EXPECT_THROW(parse("train: {optimizer: rmsprop}"), nc::UserError);
  EXPECT_THROW(parse("model: {cell: ssnu, decay: 1.0}"), nc::UserError);
}

TEST(CharLm, OstlTraceMemoryBeyondTheLimitIsRefused) {
  LmOptions o;
  o.cell = "lstm";
  o.hidden = 256;
  o.rule = "ostl";
  o.batch_size = 32;
  CharLm m(80, o);
  try {
    nc::learn::make_lm_learner(m);
    FAIL() << "expected a UserError";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("MiB"), std::string::npos) << e.what();
  }
}

}  // namespace
