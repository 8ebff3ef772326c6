// One training step of the SNU-MLP 784-256-256-10 (batch 128, T = 20 steps) against one of
// a plain LibTorch MLP of the same sizes on the flattened 128 * 20 samples: the SNU's cost
// over the same matmuls is the element-wise time loop.
//
//   nc_bench_snu [--benchmark_repetitions=5] [--rounds=30] [--threads=2]
//
// After the two Google Benchmark runs it times the two steps alternately for `rounds` rounds,
// so that both see the same load on a shared machine, and prints the ratio SNU / MLP of the
// fastest steps (wall-clock and CPU time) and the median of the per-round ratios (target
// <= 1.5), on 2 threads unless
// --threads says otherwise. It does so twice: with glibc's default malloc, which returns freed
// memory to the system at the end of each step, so the next step page-faults it back in (the
// SNU keeps s and y of every layer for the backward pass, about twice the MLP's activations,
// and pays more of these faults), then with malloc keeping its memory (M_TRIM_THRESHOLD and
// M_MMAP_THRESHOLD raised, as a training process may set them, or MALLOC_TRIM_THRESHOLD_=...).
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "int_flag.h"
#include "neurocore/core/threads.h"
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

// The MNIST recipe's network (snu.md §7, 256 instead of 250 units), SGD on the MSE between
// the time-averaged output spikes and the one-hot label (snu.md §6).
struct SnuStep {
  nc::nn::SNUMLP net{nc::nn::SNUMLPOptions(kIn, kClasses)
                         .hidden({kHidden, kHidden})
                         .neuron(nc::nn::SNUOptions(1, 1).decay(0.9).g(
                             nc::nn::Activation::leaky_relu))};
  torch::optim::SGD sgd{net->parameters(), torch::optim::SGDOptions(0.5)};
  float run() {
    sgd.zero_grad();
    const auto loss = torch::mse_loss(net->forward(data().spikes).mean(0), data().onehot);
    loss.backward();
    sgd.step();
    return loss.item<float>();
  }
};

// The same matmuls without dynamics: Linear + ReLU on the T * B samples as one batch.
struct MlpStep {
  torch::nn::Sequential net{torch::nn::Linear(kIn, kHidden), torch::nn::ReLU(),
                            torch::nn::Linear(kHidden, kHidden), torch::nn::ReLU(),
                            torch::nn::Linear(kHidden, kClasses)};
  torch::Tensor x = data().spikes.reshape({kSteps * kBatch, kIn});
  torch::Tensor target = data().onehot.repeat({kSteps, 1});
  torch::optim::SGD sgd{net->parameters(), torch::optim::SGDOptions(0.5)};
  float run() {
    sgd.zero_grad();
    const auto loss = torch::mse_loss(net->forward(x), target);
    loss.backward();
    sgd.step();
    return loss.item<float>();
  }
};

template <class Step>
void BM_TrainStep(benchmark::State& state) {
  Step step;
  for (auto _ : state) benchmark::DoNotOptimize(step.run());
}

BENCHMARK_TEMPLATE(BM_TrainStep, SnuStep)->Name("SnuMlpTrainStep")
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_TrainStep, MlpStep)->Name("MlpTrainStep")
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Page faults and CPU time (all threads, user + system) of the process so far.
struct Usage {
  long faults;
  double cpu_ms;
};

Usage usage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec * 1e-3; };
  return {u.ru_minflt + u.ru_majflt, ms(u.ru_utime) + ms(u.ru_stime)};
}

struct Sample {
  double wall_ms, cpu_ms;
  long faults;
};

// One step: wall-clock and CPU milliseconds, page faults.
template <class Step>
Sample measure(Step& step) {
  const Usage u0 = usage();
  const auto t0 = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(step.run());
  const auto t1 = std::chrono::steady_clock::now();
  const Usage u1 = usage();
  return {std::chrono::duration<double, std::milli>(t1 - t0).count(), u1.cpu_ms - u0.cpu_ms,
          u1.faults - u0.faults};
}

// Alternates the two steps, so that both are measured under the same load. The CPU time
// (all threads) is less disturbed by other processes than the wall-clock time, though it also
// counts the thread pool's spinning.
void compare(int rounds, const char* what) {
  SnuStep snu;
  MlpStep mlp;
  measure(snu);  // warm-up: allocator, thread pool
  measure(mlp);
  std::vector<Sample> a, b;
  std::vector<double> ratio;
  for (int r = 0; r < rounds; ++r) {
    a.push_back(measure(snu));
    b.push_back(measure(mlp));
    ratio.push_back(a.back().wall_ms / b.back().wall_ms);
  }
  std::sort(ratio.begin(), ratio.end());
  const auto fastest = [](const std::vector<Sample>& v, double Sample::*field) {
    double m = v.front().*field;
    for (const auto& x : v) m = std::min(m, x.*field);
    return m;
  };
  const auto faults = [&](const std::vector<Sample>& v) {
    long f = 0;
    for (const auto& x : v) f += x.faults;
    return double(f) / rounds;
  };
  const double snu_wall = fastest(a, &Sample::wall_ms), mlp_wall = fastest(b, &Sample::wall_ms);
  const double snu_cpu = fastest(a, &Sample::cpu_ms), mlp_cpu = fastest(b, &Sample::cpu_ms);
  std::printf(
      "%s, threads=%d, rounds=%d (target ratio <= 1.5):\n"
      "  wall: SNU-MLP %.2f ms, MLP %.2f ms (fastest), ratio %.2f; median per-round ratio %.2f\n"
      "  cpu:  SNU-MLP %.2f ms, MLP %.2f ms (fastest), ratio %.2f\n"
      "  page faults per step: SNU-MLP %.0f, MLP %.0f\n",
      what, at::get_num_threads(), rounds, snu_wall, mlp_wall, snu_wall / mlp_wall,
      ratio[ratio.size() / 2], snu_cpu, mlp_cpu, snu_cpu / mlp_cpu, faults(a), faults(b));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 30, threads = 2;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (!nc::bench::int_flag(argv[i], "rounds", 1, 1000000, rounds) &&
        !nc::bench::int_flag(argv[i], "threads", 1, 1024, threads)) {
      args.push_back(argv[i]);
    }
  }
  nc::set_threads(threads);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  compare(rounds, "default malloc");
  nc::keep_freed_memory();
  compare(rounds, "malloc keeping memory");
  return 0;
}
