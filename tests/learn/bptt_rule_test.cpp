// The BPTT rule's per-step loss option (learn.bptt.loss: per_step), the baseline of OSTL.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "learn/ostl_testing.h"
#include "neurocore/core/error.h"

namespace nc::learn {
namespace {

TEST(BpttRule, PerStepLossGradientEqualsTheMeanOfStepLosses) {
  for (const std::string loss : {"mse_rate", "cross_entropy"}) {
    SCOPED_TRACE(loss);
    torch::manual_seed(5);
    auto [model, rule] = testing::make_model_and_rule(
        "model: {name: snu-mlp, hidden: [6, 5], readout: snu}\n"
        "learn: {rule: bptt, bptt: {loss: per_step}}\n");
    ASSERT_EQ(rule->name(), "bptt");
    const auto x = torch::rand({9, 4, 1, 2, 3}, torch::kFloat64) * 2;
    const auto labels = torch::randint(0, 4, {4}, torch::kLong);
    testing::expect_rule_equals_per_step_bptt(*rule, *model, x, labels, loss);
  }
}

TEST(BpttRule, UnknownLossTimingIsRejected) {
  EXPECT_THROW(testing::make_model_and_rule("model: {name: snu-mlp, hidden: [6]}\n"
                                            "learn: {rule: bptt, bptt: {loss: final}}\n"),
               UserError);
}

}  // namespace
}  // namespace nc::learn
