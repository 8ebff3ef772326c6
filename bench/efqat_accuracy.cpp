// Accuracy sweep for docs/results/efqat.md: an MLP 784-256-256-10 trained in FP32 on
// MNIST-10k, then PTQ at W8A8/W4A8/W4A4, EfQAT (1 epoch) at rho in {0, 1, 5, 10, 25, 50,
// 100} % for CWPN/CWPL/LWPN, and full QAT (1 epoch), each from the same PTQ starting point.
// Usage: nc_efqat_accuracy [fp32 epochs (default 3)] [bits list, default W8A8,W4A8,W4A4]
#include <fmt/format.h>
#include <torch/torch.h>

#include <sstream>

#include "neurocore/compress/efqat.h"
#include "neurocore/compress/quantize_stage.h"
#include "neurocore/core/threads.h"
#include "neurocore/data/registry.h"
#include "neurocore/nn/mlp.h"

namespace {

using namespace nc::compress;

// The one accuracy of a classifier (compress/quantize_stage.h), as `neurocore quantize` scores.
double accuracy(nc::nn::NetImpl& net, const torch::Tensor& x, const torch::Tensor& y) {
  return score(net, x, y).accuracy;
}

}  // namespace

int main(int argc, char** argv) {
  nc::set_threads(1);
  const int64_t fp32_epochs = argc > 1 ? std::stoll(argv[1]) : 3;
  std::vector<std::string> bits_list{"W8A8", "W4A8", "W4A4"};
  if (argc > 2) {
    bits_list.clear();
    std::stringstream ss(argv[2]);
    for (std::string b; std::getline(ss, b, ',');) bits_list.push_back(b);
  }
  nc::data::DataOptions d;
  d.name = "mnist-10k";
  const auto train = nc::data::load_dataset(d, "train"), test = nc::data::load_dataset(d, "test");
  const auto norm = nc::data::normalization(train);
  const auto tx = (train.images - norm.mean) / norm.std, ty = train.labels;
  const auto vx = (test.images - norm.mean) / norm.std, vy = test.labels;

  torch::manual_seed(1);
  auto fp32 = std::make_shared<nc::nn::MLPImpl>(nc::nn::MLPOptions(784, 10).hidden({256, 256}));
  torch::optim::SGD opt(fp32->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  const int64_t n = tx.size(0);
  for (int64_t e = 0; e < fp32_epochs; ++e) {
    fp32->train();
    const auto order = torch::randperm(n, torch::kLong);
    for (int64_t i = 0; i < n; i += 64) {
      const auto idx = order.slice(0, i, std::min(n, i + 64));
      opt.zero_grad();
      torch::nn::functional::cross_entropy(fp32->forward(tx.index_select(0, idx)), ty.index_select(0, idx))
          .backward();
      opt.step();
    }
  }
  const double acc_fp32 = accuracy(*fp32, vx, vy);
  fmt::print("FP32 MLP 784-256-256-10, {} epochs SGD lr 0.05 momentum 0.9 batch 64: test {:.2f}%\n",
             fp32_epochs, acc_fp32);
  const std::vector<double> rhos{0, 0.01, 0.05, 0.10, 0.25, 0.50, 1.0};
  for (const auto& bits : bits_list) {
    // Each variant starts from a fresh copy of the FP32 model, calibrated identically.
    auto fresh = [&] {
      auto m = std::make_shared<nc::nn::MLPImpl>(fp32->options);
      {
        torch::NoGradGuard no_grad;
        const auto src = fp32->named_parameters();
        for (auto& p : m->named_parameters()) p.value().copy_(src[p.key()]);
      }
      QuantConfig qc;
      qc.bits = parse_bits(bits);
      auto q = std::make_shared<QuantNetImpl>(m, qc);
      q->calibrate({tx.slice(0, 0, 512), tx.slice(0, 512, 1024)}, false);
      return q;
    };
    auto ptq = fresh();
    fmt::print("\n{}: PTQ {:.2f}%\n", bits, accuracy(*ptq, vx, vy));
    QatOptions o;
    o.epochs = 1;
    o.batch_size = 64;
    o.learning_rate = 0.005;
    o.seed = 1;
    auto qat = fresh();
    o.efqat = false;
    const auto sq = train_quantized(*qat, tx, ty, o);
    fmt::print("{}: QAT 1 epoch {:.2f}% (backward {:.2f} s)\n", bits, accuracy(*qat, vx, vy),
               sq.backward_seconds);
    std::string head = "| mode |", rule = "|---|";
    for (double r : rhos) {
      head += fmt::format(" rho {:g} % |", r * 100);
      rule += "---|";
    }
    fmt::print("{}\n{}\n", head, rule);
    o.efqat = true;
    for (auto mode : {SelectMode::cwpn, SelectMode::cwpl, SelectMode::lwpn}) {
      std::string row = "| " + to_string(mode) + " |";
      for (double r : rhos) {
        auto q = fresh();
        o.efqat_options.mode = mode;
        o.efqat_options.rho = r;
        train_quantized(*q, tx, ty, o);
        row += fmt::format(" {:.2f} |", accuracy(*q, vx, vy));
      }
      fmt::print("{}\n", row);
      std::fflush(stdout);
    }
  }
  return 0;
}
