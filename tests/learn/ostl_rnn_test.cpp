// OSTL of one LSTM / GRU layer (torch::nn::LSTMCell, GRUCell) against autograd BPTT through a
// loop of the same cell (ostl.md §6, §12), in double precision.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/learn/ostl_rnn.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/net.h"
#include "learn/ostl_testing.h"

namespace nc::learn {
namespace {

constexpr int64_t kIn = 5, kUnits = 4, kOut = 3;

struct Case {
  bool lstm = true, readout = true, bias = true;
  int64_t T = 10, B = 3;
  uint64_t seed = 1;
  std::string str() const {
    std::ostringstream os;
    os << (lstm ? "LSTM" : "GRU") << (readout ? " readout" : "") << (bias ? "" : " no-bias")
       << " T=" << T << " B=" << B << " seed=" << seed;
    return os.str();
  }
};

// One recurrent cell (either kind) and an optional linear readout, float64.
struct Net {
  torch::nn::LSTMCell lstm = nullptr;
  torch::nn::GRUCell gru = nullptr;
  torch::nn::Linear readout = nullptr;

  explicit Net(const Case& c) {
    torch::manual_seed(c.seed);
    if (c.lstm) {
      lstm = torch::nn::LSTMCell(torch::nn::LSTMCellOptions(kIn, kUnits).bias(c.bias));
      lstm->to(torch::kFloat64);
    } else {
      gru = torch::nn::GRUCell(torch::nn::GRUCellOptions(kIn, kUnits).bias(c.bias));
      gru->to(torch::kFloat64);
    }
    if (c.readout) {
      readout = torch::nn::Linear(kUnits, kOut);
      readout->to(torch::kFloat64);
    }
  }
  std::vector<torch::Tensor> params() const {
    auto p = lstm ? lstm->parameters() : gru->parameters();
    if (readout) {
      for (const auto& t : readout->parameters()) p.push_back(t);
    }
    return p;
  }
  void zero_grad() {
    for (auto& p : params()) p.mutable_grad() = torch::Tensor();
  }
  std::vector<torch::Tensor> grads() const {
    std::vector<torch::Tensor> g;
    for (const auto& p : params()) {
      g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    return g;
  }
  torch::Tensor out(const torch::Tensor& h) { return readout ? readout->forward(h) : h; }
};

struct Data {
  torch::Tensor x, target;
};

Data make_data(const Case& c) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed + 1000);
  Data d;
  d.x = torch::randn({c.T, c.B, kIn}, gen, torch::kFloat64);
  d.target = torch::randn({c.T, c.B, c.readout ? kOut : kUnits}, gen, torch::kFloat64);
  return d;
}

torch::Tensor step_loss(const torch::Tensor& o, const torch::Tensor& target) {
  return 0.5 * (o - target).pow(2).sum();
}

// BPTT: autograd through a loop of the LibTorch cell.
std::vector<torch::Tensor> bptt_grads(Net& net, const Data& d) {
  net.zero_grad();
  const int64_t B = d.x.size(1);
  torch::Tensor h = torch::zeros({B, kUnits}, torch::kFloat64), c = torch::zeros_like(h);
  torch::Tensor E = torch::zeros({}, torch::kFloat64);
  for (int64_t t = 0; t < d.x.size(0); ++t) {
    if (net.lstm) {
      std::tie(h, c) = net.lstm->forward(d.x[t], std::make_tuple(h, c));
    } else {
      h = net.gru->forward(d.x[t], h);
    }
    E = E + step_loss(net.out(h), d.target[t]);
  }
  E.backward();
  return net.grads();
}

std::shared_ptr<OstlLayer> ostl_layer(const Net& net) {
  if (net.lstm) return std::make_shared<LSTMOstlLayer>(net.lstm);
  return std::make_shared<GRUOstlLayer>(net.gru);
}

std::vector<torch::Tensor> ostl_grads(Net& net, const Data& d, int64_t* carried = nullptr) {
  net.zero_grad();
  Ostl ostl({ostl_layer(net)},
            net.readout ? net.readout->parameters() : std::vector<torch::Tensor>{});
  ostl.begin(d.x.size(1), d.x.options());
  for (int64_t t = 0; t < d.x.size(0); ++t) {
    const torch::Tensor y = ostl.step(d.x[t]);
    ostl.backward(step_loss(net.out(y), d.target[t]));
  }
  if (carried) *carried = ostl.carried_bytes();
  ostl.write_gradients();
  return net.grads();
}

double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-300);
}

void sweep(bool lstm) {
  double worst = 0;
  for (bool readout : {false, true}) {
    for (bool bias : {true, false}) {
      using Shape = std::tuple<int64_t, int64_t, uint64_t>;  // T, B, seed
      for (auto [T, B, seed] : {Shape{1, 1, 1}, Shape{10, 3, 2}, Shape{40, 2, 3}, Shape{25, 4, 4}}) {
        Case c;
        c.lstm = lstm, c.readout = readout, c.bias = bias, c.T = T, c.B = B, c.seed = seed;
        SCOPED_TRACE(c.str());
        Net net(c);
        const Data d = make_data(c);
        const auto ref = bptt_grads(net, d);
        const auto got = ostl_grads(net, d);
        ASSERT_EQ(got.size(), ref.size());
        for (std::size_t k = 0; k < ref.size(); ++k) {
          // Every parameter matters (at T = 1, W_hh does not: h^0 = 0).
          if (T > 1) {
            EXPECT_GT(ref[k].norm().item<double>(), 0) << "parameter " << k;
          }
          const double e = rel_err(got[k], ref[k]);
          EXPECT_LT(e, 1e-9) << "parameter " << k;
          if (ref[k].norm().item<double>() > 0) worst = std::max(worst, e);
        }
      }
    }
  }
  std::cout << "largest relative error over the sweep: " << worst << "\n";
}

TEST(OstlRnn, LSTMEqualsBptt) { sweep(/*lstm=*/true); }
TEST(OstlRnn, GRUEqualsBptt) { sweep(/*lstm=*/false); }

// The traces are S_n x (parameters) per sample (docs/ostl.md): 2n for the LSTM, n for the
// GRU; nothing carried depends on T.
TEST(OstlRnn, CarriedBytesAreHiddenTimesParametersPerSample) {
  for (bool lstm : {true, false}) {
    Case c;
    c.lstm = lstm, c.readout = false, c.B = 3;
    Net net(c);
    const int64_t P = (lstm ? 4 : 3) * kUnits * (kIn + kUnits + 2);
    const int64_t S = (lstm ? 2 : 1) * kUnits;
    const int64_t expected = 8 * (c.B * S * P + P + c.B * S);  // traces, G, state
    for (int64_t T : {5, 50}) {
      c.T = T;
      int64_t carried = 0;
      ostl_grads(net, make_data(c), &carried);
      EXPECT_EQ(carried, expected) << (lstm ? "LSTM" : "GRU") << " T=" << T;
    }
  }
}

// The Trainer path: `learn: {rule: ostl}` on the config models `lstm` and `gru` gives the
// gradient of E = sum_t loss(o^t) / T, equal to BPTT (the model's forward) of the same loss.
TEST(OstlRnn, RuleOnLstmAndGruModelsEqualsBpttOfPerStepLoss) {
  for (const std::string name : {"lstm", "gru"}) {
    for (const std::string loss : {"mse_rate", "cross_entropy"}) {
      SCOPED_TRACE(name + " " + loss);
      torch::manual_seed(5);
      const std::string yaml = "model: {name: " + name + ", hidden: 5}\nlearn: {rule: ostl}\n";
      auto [model, rule] = testing::make_model_and_rule(yaml);
      ASSERT_EQ(rule->name(), "ostl");
      const auto x = torch::randn({9, 3, 1, 2, 3}, torch::kFloat64);
      const auto labels = torch::randint(0, 4, {3}, torch::kLong);

      ASSERT_EQ(model->forward(x).sizes(), torch::IntArrayRef({9, 3, 4}));
      const auto ref = testing::expect_rule_equals_per_step_bptt(*rule, *model, x, labels, loss);
      for (std::size_t k = 0; k < ref.size(); ++k) {
        EXPECT_GT(ref[k].norm().item<double>(), 0) << "parameter " << k;  // every one matters
      }
    }
  }
}

TEST(OstlRnn, BadRnnModelKeysAreUserErrors) {
  for (const std::string yaml : {"model: {name: lstm, hidden: 0}\n",
                                 "model: {name: gru, hiden: 4}\n",
                                 "model: {name: gru, readout: snu}\n"}) {
    auto cfg = Config::from_string(yaml);
    EXPECT_THROW(nn::make_model(cfg.root().section("model"), nn::InputShape{1, 2, 3}, 4),
                 UserError)
        << yaml;
  }
}

}  // namespace
}  // namespace nc::learn
