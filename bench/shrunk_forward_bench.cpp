// Forward time of channel-pruned, shrunk models against their dense source in one run (issue
// #22, docs/results/dtp.md; scripts/reproduce/dtp-shrunk-latency.sh): each RUN_DIR's model
// (config.yaml's model section, which for a prune run carries the shrunk widths, and its last
// checkpoint) is timed on the same random batch in eval mode without autograd; runs are
// interleaved repetition by repetition (steadier on a shared machine) and each reports the
// median process CPU time of one forward pass after two warm-up passes, and its ratio to the
// first RUN_DIR (the dense model). With --torchscript=1 each model is also exported as
// TorchScript (compress/prune/float_torchscript.h) twice, with its BatchNorms as they are and
// folded into the convolutions, and both are timed in the same interleaved loop.
//
//   nc_bench_shrunk_forward [--threads=1] [--reps=21] [--batch=128] [--channels=1]
//       [--size=28] [--classes=10] [--torchscript=0] DENSE_RUN PRUNED_RUN...
// Output: one line per run, "run<TAB>ms<TAB>ratio<TAB>parameters", with --torchscript=1 followed
// by "<TAB>torchscript ms<TAB>torchscript BN-folded ms<TAB>max |folded - unfolded| output".
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include <torch/script.h>
#include <unistd.h>

#include <filesystem>

#include "int_flag.h"
#include "neurocore/compress/prune/float_torchscript.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/nn/net.h"

namespace {

// Process CPU time: on a shared machine a pass's wall time is mostly waiting for a core; with one
// intra-op thread the CPU time is the pass's work.
double cpu_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 21, batch = 128, channels = 1, size = 28, classes = 10, torchscript = 0;
  std::vector<std::string> runs;
  for (int i = 1; i < argc; ++i) {
    if (nc::bench::int_flag(argv[i], "threads", 1, 256, threads)) continue;
    if (nc::bench::int_flag(argv[i], "reps", 1, 10000, reps)) continue;
    if (nc::bench::int_flag(argv[i], "batch", 1, 100000, batch)) continue;
    if (nc::bench::int_flag(argv[i], "channels", 1, 1024, channels)) continue;
    if (nc::bench::int_flag(argv[i], "size", 1, 4096, size)) continue;
    if (nc::bench::int_flag(argv[i], "classes", 1, 100000, classes)) continue;
    if (nc::bench::int_flag(argv[i], "torchscript", 0, 1, torchscript)) continue;
    if (argv[i][0] == '-') {
      fmt::print(stderr, "unknown flag {}\n", argv[i]);
      return 2;
    }
    runs.emplace_back(argv[i]);
  }
  if (runs.empty()) {
    fmt::print(stderr, "usage: nc_bench_shrunk_forward [flags] DENSE_RUN PRUNED_RUN...\n");
    return 2;
  }
  try {
    torch::set_num_threads(threads);
    torch::manual_seed(1);
    const nc::nn::InputShape in{channels, size, size};
    std::vector<std::shared_ptr<nc::nn::NetImpl>> models;
    for (const auto& r : runs) {
      auto run = nc::RunDir::open(r);
      auto config = nc::Config::load(run.file("config.yaml"));
      auto model = nc::nn::make_model(config.root().section("model"), in, classes);
      const auto ckpt = nc::learn::last_checkpoint(run.checkpoints());
      if (ckpt.empty()) throw nc::UserError(r + ": no checkpoint");
      nc::learn::load_checkpoint(ckpt, *model, nullptr);
      model->eval();
      models.push_back(model);
    }
    // Per model: the module itself, then (--torchscript) its export unfolded and BN-folded.
    std::vector<std::vector<torch::jit::Module>> scripts(models.size());
    if (torchscript) {
      const auto path = std::filesystem::temp_directory_path() /
                        ("nc_bench_shrunk_" + std::to_string(getpid()) + ".pt");
      for (std::size_t m = 0; m < models.size(); ++m) {
        for (bool fold : {false, true}) {
          nc::compress::prune::save_float_torchscript(*models[m], path.string(), fold);
          scripts[m].push_back(torch::jit::load(path.string()));
          scripts[m].back().eval();
        }
      }
      std::filesystem::remove(path);
    }
    const auto x = torch::randn({batch, channels, size, size});
    torch::NoGradGuard no_grad;
    const std::size_t variants = torchscript ? 3 : 1;
    std::vector<std::vector<std::vector<double>>> t(models.size(), std::vector<std::vector<double>>(variants));
    for (int rep = 0; rep < reps + 2; ++rep) {
      for (std::size_t m = 0; m < models.size(); ++m) {
        for (std::size_t v = 0; v < variants; ++v) {
          const double t0 = cpu_now();
          const auto y = v == 0 ? models[m]->forward(x) : scripts[m][v - 1].forward({x}).toTensor();
          const double dt = cpu_now() - t0;
          if (y.size(0) != batch) throw nc::InternalError("forward: wrong batch");
          if (rep >= 2) t[m][v].push_back(dt);
        }
      }
    }
    const double base = median(t[0][0]);
    for (std::size_t m = 0; m < models.size(); ++m) {
      fmt::print("{}\t{:.3f}\t{:.3f}\t{}", runs[m], 1e3 * median(t[m][0]), median(t[m][0]) / base,
                 nc::nn::count_parameters(*models[m]));
      if (torchscript) {
        const auto a = scripts[m][0].forward({x}).toTensor(), b = scripts[m][1].forward({x}).toTensor();
        fmt::print("\t{:.3f}\t{:.3f}\t{:.2e}", 1e3 * median(t[m][1]), 1e3 * median(t[m][2]),
                   (a - b).abs().max().item<double>());
      }
      fmt::print("\n");
    }
  } catch (const nc::UserError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  return 0;
}
