// One training step of the SNU-MLP 784-256-256-10 (batch 128, T = 20 steps) against one of
// a plain LibTorch MLP of the same sizes on the flattened 128 * 20 samples: the SNU's cost
// over the same matmuls is the element-wise time loop.
//
//   nc_bench_snu --benchmark_repetitions=10
//
// Prints both times and the ratio SNU / MLP (target <= 1.5) on 2 threads; with repetitions
// the ratio uses each benchmark's fastest repetition.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "neurocore/nn/mlp.h"

namespace {

constexpr int64_t kBatch = 128, kSteps = 20, kIn = 784, kHidden = 256, kClasses = 10;

// Rate-coded input (snu.md §5: P = p k / T with k = 6) and one-hot targets, fixed per run.
struct Data {
  torch::Tensor spikes, onehot;
  Data() {
    torch::manual_seed(0);
    const auto pixels = torch::rand({kBatch, kIn});
    spikes = torch::bernoulli((pixels * 6.0 / kSteps).expand({kSteps, kBatch, kIn}));
    onehot = torch::one_hot(torch::randint(kClasses, {kBatch}), kClasses).to(torch::kFloat);
  }
};

const Data& data() {
  static const Data d;
  return d;
}

void BM_SnuMlpTrainStep(benchmark::State& state) {
  const auto& d = data();
  nc::nn::SNUMLPOptions options(kIn, kClasses);
  options.hidden({kHidden, kHidden})
      .neuron(nc::nn::SNUOptions(1, 1).decay(0.9).g(nc::nn::Activation::leaky_relu));
  nc::nn::SNUMLP net(options);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.5));
  for (auto _ : state) {
    sgd.zero_grad();
    // snu.md §6: MSE between the time-averaged output spikes and the one-hot label.
    const auto loss = torch::mse_loss(net->forward(d.spikes).mean(0), d.onehot);
    loss.backward();
    sgd.step();
    benchmark::DoNotOptimize(loss.item<float>());
  }
}

void BM_MlpTrainStep(benchmark::State& state) {
  const auto& d = data();
  torch::nn::Sequential net(torch::nn::Linear(kIn, kHidden), torch::nn::ReLU(),
                            torch::nn::Linear(kHidden, kHidden), torch::nn::ReLU(),
                            torch::nn::Linear(kHidden, kClasses));
  const auto x = d.spikes.reshape({kSteps * kBatch, kIn});
  const auto target = d.onehot.repeat({kSteps, 1});
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.5));
  for (auto _ : state) {
    sgd.zero_grad();
    const auto loss = torch::mse_loss(net->forward(x), target);
    loss.backward();
    sgd.step();
    benchmark::DoNotOptimize(loss.item<float>());
  }
}

// The minimum over repetitions is the least disturbed by other processes on a shared machine.
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

BENCHMARK(BM_SnuMlpTrainStep)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->ComputeStatistics("min", min_of);
BENCHMARK(BM_MlpTrainStep)->Unit(benchmark::kMillisecond)->UseRealTime()
    ->ComputeStatistics("min", min_of);

// Keeps the time per iteration of each benchmark for the ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      // Without repetitions: the one run; with --benchmark_repetitions: the min aggregate.
      if (r.run_type == Run::RT_Iteration && !ms.count(r.run_name.function_name)) {
        ms[r.run_name.function_name] = r.GetAdjustedRealTime();
      } else if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "min") {
        ms[r.run_name.function_name] = r.GetAdjustedRealTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> ms;
};

}  // namespace

int main(int argc, char** argv) {
  at::set_num_threads(2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  const auto snu = reporter.ms.find("BM_SnuMlpTrainStep");
  const auto mlp = reporter.ms.find("BM_MlpTrainStep");
  if (snu != reporter.ms.end() && mlp != reporter.ms.end()) {
    std::printf("threads=%d  SNU-MLP step %.2f ms  MLP step %.2f ms  ratio %.2f (target <= 1.5)\n",
                at::get_num_threads(), snu->second, mlp->second, snu->second / mlp->second);
  }
  return 0;
}
