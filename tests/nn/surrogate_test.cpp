#include "neurocore/nn/surrogate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"

namespace {

using nc::nn::Surrogate;
using nc::nn::SurrogateKind;

// snu.md §4, written out independently of the implementation, one element at a time.
double reference(double z, SurrogateKind kind, double p) {
  switch (kind) {
    case SurrogateKind::tanh: return 1 - std::tanh(z) * std::tanh(z);
    case SurrogateKind::fast_sigmoid: return 1 / std::pow(1 + p * std::abs(z), 2);
    case SurrogateKind::arctan: return (p / 2) / (1 + std::pow(M_PI * p * z / 2, 2));
    case SurrogateKind::sigmoid: {
      const double s = 1 / (1 + std::exp(-p * z));
      return p * s * (1 - s);
    }
    case SurrogateKind::triangle: return std::max(0.0, 1 - std::abs(z) / p) / p;
    case SurrogateKind::straight_through: return 1;
  }
  return NAN;
}

TEST(Surrogate, AutogradGradientEqualsFormulaAt1000Points) {
  const std::vector<std::pair<std::string, double>> cases = {
      {"tanh", 0},         {"fast_sigmoid", 0}, {"fast_sigmoid", 10}, {"arctan", 0},
      {"arctan", 5},       {"sigmoid", 0},      {"sigmoid", 1},       {"triangle", 0},
      {"triangle", 0.5},   {"straight_through", 0}};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  for (const auto& [name, param] : cases) {
    const Surrogate s = nc::nn::parse_surrogate(name, param);
    const double p = nc::nn::surrogate_param(s);
    auto z = (torch::rand({1000}, gen, torch::kDouble) * 6 - 3).requires_grad_(true);
    auto y = nc::nn::spike(z, s);
    auto upstream = torch::rand({1000}, gen, torch::kDouble) + 0.5;
    auto g = torch::autograd::grad({y}, {z}, {upstream})[0];
    double worst = 0;
    for (int64_t i = 0; i < 1000; ++i) {
      const double zi = z[i].item<double>();
      const double want = upstream[i].item<double>() * reference(zi, s.kind, p);
      worst = std::max(worst, std::abs(g[i].item<double>() - want));
    }
    EXPECT_LE(worst, 1e-15) << name << " param " << param;
    // The forward pass is the exact step, in z's dtype.
    EXPECT_EQ(y.scalar_type(), torch::kDouble);
    EXPECT_TRUE(torch::equal(y, (z > 0).to(torch::kDouble))) << name;
  }
}

TEST(Surrogate, DerivativeMatchesSpecDefaults) {
  EXPECT_EQ(nc::nn::surrogate_param(nc::nn::parse_surrogate("fast_sigmoid")), 25);
  EXPECT_EQ(nc::nn::surrogate_param(nc::nn::parse_surrogate("arctan")), 2);
  EXPECT_EQ(nc::nn::surrogate_param(nc::nn::parse_surrogate("sigmoid")), 4);
  EXPECT_EQ(nc::nn::surrogate_param(nc::nn::parse_surrogate("triangle")), 1);
  const auto z0 = torch::zeros({1}, torch::kDouble);
  // Peaks at z = 0: tanh' 1, fast sigmoid 1, arctan alpha/2 = 1, sigmoid' k/4 = 1, triangle 1/w.
  for (const auto& name : nc::nn::surrogate_names()) {
    const auto d = nc::nn::surrogate_derivative(z0, nc::nn::parse_surrogate(name));
    EXPECT_DOUBLE_EQ(d.item<double>(), 1.0) << name;
  }
  // The step at exactly 0 is 0 (snu.md §10).
  EXPECT_EQ(nc::nn::spike(z0, {}).item<double>(), 0.0);
}

TEST(Surrogate, ParseRejectsUnknownNameWithSuggestion) {
  for (const auto& name : nc::nn::surrogate_names()) {
    EXPECT_EQ(nc::nn::surrogate_name(nc::nn::parse_surrogate(name, 0)), name);
  }
  try {
    nc::nn::parse_surrogate("arctn", 0);
    FAIL() << "expected UserError";
  } catch (const nc::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'arctan'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(nc::nn::parse_surrogate("tanh", -1), nc::UserError);
}

}  // namespace
