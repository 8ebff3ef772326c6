// Time per training step (forward, backward, SGD step) of an MLP 784-[256 x depth]-10 with
// and without GRAPES, in one process (docs/results/grapes.md). Factors are recomputed every
// step, as the trainer does.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <memory>

#include "neurocore/core/threads.h"
#include "neurocore/learn/grapes.h"
#include "neurocore/nn/mlp.h"

namespace {

// mode: 0 plain backprop, 1 GRAPES propagating, 2 GRAPES local.
void train_step(benchmark::State& state) {
  const int64_t depth = state.range(0), mode = state.range(1);
  torch::manual_seed(0);
  auto model = std::make_shared<nc::nn::MLPImpl>(
      nc::nn::MLPOptions(784, 10).hidden(std::vector<int64_t>(depth, 256)));
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.01));
  std::unique_ptr<nc::learn::Grapes> grapes;
  if (mode > 0) {
    grapes = std::make_unique<nc::learn::Grapes>(
        *model, nc::learn::GrapesOptions().version(mode == 1 ? nc::learn::GrapesVersion::propagating
                                                             : nc::learn::GrapesVersion::local));
  }
  const auto x = torch::rand({64, 784});
  const auto y = torch::randint(10, {64}, torch::kLong);
  for (auto _ : state) {
    if (grapes) grapes->before_batch(*model);
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    opt.step();
  }
  state.SetLabel(mode == 0 ? "bp" : mode == 1 ? "grapes-propagating" : "grapes-local");
}

BENCHMARK(train_step)
    ->ArgsProduct({{1, 3, 8}, {0, 1, 2}})
    ->ArgNames({"depth", "mode"})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(1.0);

// The factor computation alone (Grapes::before_batch): the part of GRAPES' overhead that does
// not scale with the batch size.
void factors_only(benchmark::State& state) {
  const int64_t depth = state.range(0);
  torch::manual_seed(0);
  auto model = std::make_shared<nc::nn::MLPImpl>(
      nc::nn::MLPOptions(784, 10).hidden(std::vector<int64_t>(depth, 256)));
  nc::learn::Grapes grapes(*model);
  for (auto _ : state) grapes.before_batch(*model);
}

BENCHMARK(factors_only)->Arg(1)->Arg(3)->Arg(8)->ArgName("depth")->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  nc::keep_freed_memory();  // as the neurocore executable does
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
