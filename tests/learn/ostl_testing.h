#pragma once
// Shared by the OSTL tests: the Trainer rule against BPTT of the same per-step loss.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/net.h"

namespace nc::learn::testing {

/// The model (float64, 2x3 inputs, 4 classes) and the rule of a config with `model` and
/// `learn` sections.
struct ModelAndRule {
  std::shared_ptr<nn::NetImpl> model;
  std::unique_ptr<Rule> rule;
};

inline ModelAndRule make_model_and_rule(const std::string& yaml) {
  auto cfg = Config::from_string(yaml);
  ModelAndRule m;
  m.model = nn::make_model(cfg.root().section("model"), nn::InputShape{1, 2, 3}, 4);
  m.model->to(torch::kFloat64);
  m.rule = make_rule(cfg.root().section("learn"), *m.model);
  return m;
}

/// Expects `rule` (one batch, SGD with lr 0) to leave in every parameter's grad the gradient
/// of E = sum_t loss(o^t, labels) / T, o = model.forward(x) differentiated by autograd, to a
/// relative error < 1e-9, and to report the loss of the time-averaged scores. Returns the
/// reference gradients, in model.parameters() order.
inline std::vector<torch::Tensor> expect_rule_equals_per_step_bptt(
    Rule& rule, nn::NetImpl& model, const torch::Tensor& x, const torch::Tensor& labels,
    const std::string& loss) {
  const auto out = model.forward(x);
  torch::Tensor E = torch::zeros({}, out.options());
  for (int64_t t = 0; t < out.size(0); ++t) {
    E = E + classification_loss(out[t], labels, loss) / static_cast<double>(out.size(0));
  }
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
  E.backward();
  std::vector<torch::Tensor> ref;
  for (auto& p : model.parameters()) ref.push_back(p.grad().clone());

  torch::optim::SGD sgd(model.parameters(), torch::optim::SGDOptions(0.0));
  const auto r = rule.train_batch(model, x, labels, loss, sgd);
  const auto params = model.parameters();
  EXPECT_EQ(params.size(), ref.size());
  for (std::size_t k = 0; k < params.size() && k < ref.size(); ++k) {
    const double err = (params[k].grad() - ref[k]).norm().item<double>() /
                       std::max(ref[k].norm().item<double>(), 1e-300);
    EXPECT_LT(err, 1e-9) << "parameter " << k;
  }
  const auto scores = class_scores(out.detach(), true, loss);
  EXPECT_NEAR(r.loss, classification_loss(scores, labels, loss).item<double>(), 1e-12);
  return ref;
}

}  // namespace nc::learn::testing
