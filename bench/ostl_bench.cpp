// Cost of OSTL against BPTT for one SNU layer (256 inputs, spikes at rate 0.2 by default,
// 256 units, no recurrent weights, batch 32, float32) with a stateless linear readout (10 outputs) and a per-step MSE loss,
// over sequences of T = 10 ... 10,000 steps (issue 3, docs/results/ostl.md):
//   OstlSequence/T: nc::learn::Ostl, one step + learning signal + trace update per time step;
//   OstlSteps/T:    the same with Ostl::steps, the held chunk's steps per call (16 by
//                   default: readout, loss and learning signals once per 16 steps; the same
//                   gradient);
//   BpttSequence/T: the SNU layer's own forward over the sequence (one matmul for W x of all
//                   steps, the fused time loop) and one backward of the summed loss.
// Both compute the gradient of the same loss (no optimizer step). Reported per benchmark:
//   step_time   wall-clock time per time step (sequence time / T)
//   peak_bytes  peak bytes of live CPU tensors during one sequence above those live before
//               (LibTorch's CPU allocator wrapped by a counting allocator; input excluded)
//   carried     OSTL only: bytes carried from one step to the next (state, traces, G)
//
// malloc keeps freed memory, as in the neurocore executable.
//
//   nc_bench_ostl [--threads=1] [--trace_chunk=N] [--spike_percent=P] [--benchmark_filter=...]
//   (--trace_chunk: SNUOstlLayer's, default its kDefaultTraceChunk; --spike_percent: the
//   inputs' spike rate, default 20, 0 for analog inputs in [0, 1), which OSTL's trace pass
//   cannot skip)
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "int_flag.h"
#include "neurocore/core/counting_allocator.h"
#include "neurocore/core/threads.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/nn/snu.h"

namespace {

constexpr int64_t kBatch = 32, kIn = 256, kUnits = 256, kOut = 10;
int trace_chunk = nc::learn::SNUOstlLayer::kDefaultTraceChunk;
int spike_percent = 20;  // inputs are spikes at this rate; 0: analog, uniform in [0, 1)

struct Setup {
  nc::nn::SNU layer{nc::nn::SNUOptions(kIn, kUnits).decay(0.9)};
  torch::nn::Linear readout{kUnits, kOut};
  torch::Tensor x, target;  // [T, B, in] rate-coded spikes, [T, B, out]
  explicit Setup(int64_t T) {
    torch::manual_seed(0);
    x = spike_percent ? torch::bernoulli(torch::full({T, kBatch, kIn}, spike_percent / 100.0))
                      : torch::rand({T, kBatch, kIn});
    target = torch::rand({T, kBatch, kOut});
  }
  void zero_grad() {
    for (auto& p : layer->parameters()) p.mutable_grad() = torch::Tensor();
    for (auto& p : readout->parameters()) p.mutable_grad() = torch::Tensor();
  }
};

void report(benchmark::State& state, int64_t T, int64_t peak) {
  state.counters["step_time"] = benchmark::Counter(
      static_cast<double>(T), benchmark::Counter::kIsIterationInvariantRate |
                                  benchmark::Counter::kInvert);
  state.counters["peak_bytes"] = benchmark::Counter(static_cast<double>(peak),
                                                    benchmark::Counter::kDefaults,
                                                    benchmark::Counter::kIs1024);
}

// One sequence by nc::learn::Ostl, K steps per Ostl::steps call, or one step() per time step
// when K is 0.
void ostl_sequence(benchmark::State& state, int64_t K) {
  const int64_t T = state.range(0);
  Setup s(T);
  nc::learn::Ostl ostl({std::make_shared<nc::learn::SNUOstlLayer>(s.layer->cell, trace_chunk)},
                       s.readout->parameters());
  const auto run = [&] {
    s.zero_grad();
    ostl.begin(kBatch, s.x.options());
    for (int64_t t = 0; t < T; t += std::max<int64_t>(K, 1)) {
      const int64_t k = std::min(K, T - t);
      const torch::Tensor y = K ? ostl.steps(s.x.narrow(0, t, k)) : ostl.step(s.x[t]);
      const torch::Tensor o = s.readout->forward(y);
      ostl.backward(0.5 * (o - (K ? s.target.narrow(0, t, k) : s.target[t])).pow(2).sum());
    }
    ostl.write_gradients();
  };
  int64_t peak = 0;
  for (auto _ : state) peak = std::max(peak, nc::CountingAllocator::peak_bytes(run));
  report(state, T, peak);
  state.counters["carried"] = benchmark::Counter(static_cast<double>(ostl.carried_bytes()),
                                                 benchmark::Counter::kDefaults,
                                                 benchmark::Counter::kIs1024);
}

void BM_OstlSequence(benchmark::State& state) { ostl_sequence(state, 0); }
void BM_OstlSteps(benchmark::State& state) { ostl_sequence(state, std::max(trace_chunk, 1)); }

void BM_BpttSequence(benchmark::State& state) {
  const int64_t T = state.range(0);
  Setup s(T);
  const auto run = [&] {
    s.zero_grad();
    const torch::Tensor o = s.readout->forward(s.layer->forward(s.x));
    (0.5 * (o - s.target).pow(2).sum()).backward();
  };
  int64_t peak = 0;
  for (auto _ : state) peak = std::max(peak, nc::CountingAllocator::peak_bytes(run));
  report(state, T, peak);
}

// One iteration is enough for the long sequences (seconds each); the short ones repeat.
BENCHMARK(BM_OstlSequence)->Name("OstlSequence")->Arg(10)->Arg(100)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OstlSequence)->Name("OstlSequence")->Arg(1000)->Arg(10000)->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OstlSteps)->Name("OstlSteps")->Arg(10)->Arg(100)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OstlSteps)->Name("OstlSteps")->Arg(1000)->Arg(10000)->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BpttSequence)->Name("BpttSequence")->Arg(10)->Arg(100)->Arg(1000)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BpttSequence)->Name("BpttSequence")->Arg(10000)->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (!nc::bench::int_flag(argv[i], "threads", 1, 1024, threads) &&
        !nc::bench::int_flag(argv[i], "trace_chunk", 0, 1024, trace_chunk) &&
        !nc::bench::int_flag(argv[i], "spike_percent", 0, 100, spike_percent)) {
      args.push_back(argv[i]);
    }
  }
  nc::set_threads(threads);
  // As the neurocore executable (cli/main.cpp): malloc keeps freed memory, so the traces'
  // buffers are not page-faulted back in at every step.
  nc::keep_freed_memory();
  nc::CountingAllocatorScope counting;
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
