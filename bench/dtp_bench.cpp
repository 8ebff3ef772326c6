// DTP's training-step cost against plain training in one run (issue #22, docs/results/dtp.md):
// one step (forward, backward, SGD) of the same model on the same batch, plain (BpttRule) and
// with DTP's soft masks (compress/prune attach_pruning: the soft top-k from the scores before
// the step, the masks in the forward pass, the scores' gradient and update, the clamp), for the
// MLP 784-300-100-10 and ResNet-20 (Fashion-MNIST shape 1x28x28) at batch 128. Target (issue):
// ResNet-20's DTP step at most 1.15x the plain step.
//
// Configurations are interleaved repetition by repetition (steadier on a shared machine); the
// median of each step's process CPU time is reported, after two warm-up steps. The DTP schedule spans the measured steps
// (epochs 1, soft fraction 1, steps per epoch = reps + 2), so the temperature falls from eps0 to
// eps_min within the run: every temperature is timed, and the threshold's warm start sees a
// larger change per step than in a real run (whose schedule is hundreds of steps long).
//
//   nc_bench_dtp [--threads=1] [--reps=11] [--resnet=1] [--percent=10]   (budget: percent kept)
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "int_flag.h"
#include "neurocore/compress/prune/pruner.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace {

namespace pr = nc::compress::prune;
// Process CPU time, not wall time: on a shared machine (2 cores, several builds) a step's wall
// time is mostly waiting for a core; with one intra-op thread the CPU time is the step's work.
double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double seconds(const std::function<void()>& f) {
  const double t0 = cpu_now();
  f();
  return cpu_now() - t0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

using Factory = std::function<std::shared_ptr<nc::nn::NetImpl>()>;

// One model trained by one rule with its own SGD optimizer (the DTP one also updates the scores).
struct Runner {
  std::string label;
  std::shared_ptr<nc::nn::NetImpl> model;
  std::unique_ptr<pr::Masker> masker;
  std::unique_ptr<nc::learn::Rule> rule;
  std::unique_ptr<torch::optim::SGD> opt;
  std::vector<double> times;
};

Runner plain(const Factory& make) {
  Runner r;
  r.label = "plain";
  torch::manual_seed(1);
  r.model = make();
  r.rule = std::make_unique<nc::learn::BpttRule>();
  r.opt = std::make_unique<torch::optim::SGD>(r.model->parameters(), torch::optim::SGDOptions(1e-4));
  return r;
}

Runner dtp(const Factory& make, const nc::nn::InputShape& in, pr::Granularity g, pr::BudgetKind kind,
           pr::Variant variant, int64_t steps, double budget) {
  Runner r;
  r.label = fmt::format("DTP {} {}, {}", pr::to_string(g), pr::to_string(kind),
                        variant == pr::Variant::exact ? "exact" : "prox");
  torch::manual_seed(1);
  r.model = make();
  r.masker = std::make_unique<pr::Masker>(*r.model, pr::model_structure(*r.model, in), g);
  pr::PruneOptions o;
  o.budget = budget;
  o.kind = kind;
  o.granularity = g;
  o.variant = variant;
  o.epochs = 1;
  o.soft_fraction = 1;
  r.rule = pr::attach_pruning(*r.model, *r.masker, o, std::make_unique<nc::learn::BpttRule>(), steps);
  r.rule->start_epoch(1, 0);
  r.opt = std::make_unique<torch::optim::SGD>(r.model->parameters(), torch::optim::SGDOptions(1e-4));
  return r;
}

void table(const std::string& model, const nc::nn::InputShape& in, const Factory& make,
           const std::vector<std::tuple<pr::Granularity, pr::BudgetKind, pr::Variant>>& configs,
           int reps, double budget) {
  const int64_t steps = reps + 2;
  std::vector<Runner> runners;
  runners.push_back(plain(make));
  for (const auto& [g, k, v] : configs) runners.push_back(dtp(make, in, g, k, v, steps, budget));
  auto gen = nc::make_generator(2, "bench");
  const auto x = torch::randn({128, in.channels, in.height, in.width}, gen);
  const auto y = torch::randint(0, 10, {128}, gen);
  for (int r = 0; r < steps; ++r) {
    for (auto& run : runners) {
      const double t = seconds([&] { run.rule->train_batch(*run.model, x, y, "cross_entropy", *run.opt); });
      if (r >= 2) run.times.push_back(t);
    }
  }
  const double base = median(runners[0].times);
  for (const auto& run : runners) {
    fmt::print("| {} | {} | {:.2f} | {:.3f}x |\n", model, run.label, 1e3 * median(run.times),
               median(run.times) / base);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 11, resnet = 1, percent = 10;
  for (int i = 1; i < argc; ++i) {
    if (nc::bench::int_flag(argv[i], "threads", 1, 256, threads)) continue;
    if (nc::bench::int_flag(argv[i], "reps", 1, 10000, reps)) continue;
    if (nc::bench::int_flag(argv[i], "resnet", 0, 1, resnet)) continue;
    if (nc::bench::int_flag(argv[i], "percent", 1, 99, percent)) continue;
    fmt::print(stderr, "usage: nc_bench_dtp [--threads=N] [--reps=N] [--resnet=0|1] [--percent=P]\n");
    return 2;
  }
  at::set_num_threads(threads);
  const double budget = percent / 100.0;
  fmt::print("threads: {}, batch 128, median of {} steps after 2 warm-up steps, budget {:g} kept\n\n",
             threads, reps, budget);
  fmt::print("| model | step | CPU ms | / plain |\n|---|---|---|---|\n");
  using G = pr::Granularity;
  using K = pr::BudgetKind;
  using V = pr::Variant;
  const nc::nn::InputShape mnist{1, 28, 28};
  table("MLP 784-300-100-10", mnist,
        [] { return nc::nn::MLP(nc::nn::MLPOptions(784, 10).hidden({300, 100})).ptr(); },
        {{G::weight, K::params, V::exact}, {G::weight, K::params, V::prox}}, reps, budget);
  if (resnet) {
    table("ResNet-20 (1x28x28)", mnist,
          [] { return nc::nn::ResNet(nc::nn::ResNetOptions(20, 10).in_channels(1)).ptr(); },
          {{G::channel, K::params, V::exact},
           {G::channel, K::flops, V::exact},
           {G::channel, K::params, V::prox},
           {G::weight, K::params, V::exact}},
          reps, budget);
  }
  return 0;
}
