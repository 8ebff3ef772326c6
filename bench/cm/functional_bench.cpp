// Functional simulation throughput against LibTorch's forward pass on the same images
// (docs/results/cm.md, "Functional simulation vs LibTorch"; issue #5 target: >= 25 %).
// Not a unit test: wall times depend on the machine. One thread for both.
//   nc_cm_functional_bench [MODEL=tests/cm/data/resnet20-cifar.onnx] [images=20] [repeats=3]
// MODEL: an ONNX file, or "resnetN" (model zoo, seeded random weights). BatchNorms folded,
// default hardware (256x256 crossbars), ideal analog options (float32 arithmetic).
// LibTorch's forward is the compiled graph run with LibTorch's kernels (torch_eval.h: conv2d,
// linear, ... exactly the model's own ops), once on the whole batch and once image by image.
// Each timing is the best of `repeats` runs after one warm-up, in CPU seconds (one thread);
// setup (program generation, tile programming) is excluded and printed separately.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/core/error.h"
#include "neurocore/core/threads.h"
#include "bench_model.h"

namespace {

// Best of `repeats` runs after a warm-up, in CPU seconds of this process: on a shared machine
// the wall time also counts other processes' turns, the CPU time of one thread does not.
template <class F>
double best_of(int repeats, F&& f) {
  f();  // warm-up
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const std::clock_t c0 = std::clock();
    f();
    best = std::min(best, static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string model = argc > 1 ? argv[1] : std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx";
    const int64_t n = argc > 2 ? std::atoll(argv[2]) : 20;
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
    nc::set_threads(1);
    torch::manual_seed(5);

    nc::cm::Graph g = nc::cm::bench_graph(model);
    const nc::cm::Hardware hw;
    const nc::cm::Mapping m = nc::cm::map_graph(g, hw);
    const nc::cm::PolyModel poly(g);
    std::vector<int64_t> shape{n};
    const auto& in = g.value(g.inputs().at(0)).shape;
    shape.insert(shape.end(), in.begin(), in.end());
    const torch::Tensor x = torch::randn(shape);
    std::vector<std::vector<float>> images;
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor xi = x[i].contiguous();
      images.emplace_back(xi.data_ptr<float>(), xi.data_ptr<float>() + xi.numel());
    }

    const auto s0 = std::chrono::steady_clock::now();
    nc::cm::FunctionalSimulator sim(g, m, poly, hw);
    const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();

    torch::Tensor batched;
    std::vector<std::vector<float>> out;
    const double t_batch = best_of(repeats, [&] { batched = nc::cm::evaluate_with_torch(g, x)[0]; });
    const double t_single = best_of(repeats, [&] {
      for (int64_t i = 0; i < n; ++i) (void)nc::cm::evaluate_with_torch(g, x.slice(0, i, i + 1));
    });
    const double t_sim = best_of(repeats, [&] { out = sim.run(images); });

    // Hashes of the simulator's output bits, ideal and with every non-ideality: a speed-up of
    // the simulator must leave both unchanged.
    const auto bits_hash = [](const std::vector<std::vector<float>>& outs) {
      uint64_t h = 0xcbf29ce484222325ull;
      for (const auto& o : outs) {
        for (float v : o) {
          uint32_t bits;
          std::memcpy(&bits, &v, sizeof bits);
          h = (h ^ bits) * 0x100000001b3ull;
        }
      }
      return h;
    };
    const uint64_t hash = bits_hash(out);
    nc::cm::FunctionalOptions noisy;
    noisy.analog.quantize = true;
    noisy.analog.programming_noise = 0.02;
    noisy.analog.read_noise = 0.01;
    const uint64_t noisy_hash = bits_hash(nc::cm::FunctionalSimulator(g, m, poly, hw, noisy).run(images));
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) {
      const torch::Tensor r = batched[i].contiguous();
      worst = std::max(worst, nc::cm::max_relative_error(
                                  out[static_cast<std::size_t>(i)],
                                  std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel())));
    }
    const double per = static_cast<double>(n);
    std::printf("%s: %zu nodes, %lld cores, %lld images, 1 thread, best of %d (CPU seconds)\n", model.c_str(),
                g.nodes().size(), static_cast<long long>(m.total_cores), static_cast<long long>(n), repeats);
    std::printf("functional simulation: setup %.3f s; run %.4f s = %.1f images/s (%lld MVMs)\n", setup,
                t_sim, per / t_sim, static_cast<long long>(sim.mvms()));
    std::printf("LibTorch forward, batch of %lld: %.4f s = %.1f images/s\n", static_cast<long long>(n),
                t_batch, per / t_batch);
    std::printf("LibTorch forward, one image at a time: %.4f s = %.1f images/s\n", t_single, per / t_single);
    std::printf("throughput ratio functional / LibTorch: %.1f %% (batched), %.1f %% (one at a time); "
                "max relative error %.2e\noutput hashes: ideal %016llx, with non-idealities %016llx\n",
                100.0 * t_batch / t_sim, 100.0 * t_single / t_sim, worst,
                static_cast<unsigned long long>(hash), static_cast<unsigned long long>(noisy_hash));
    return 0;
  } catch (const nc::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return nc::kExitUser;
  }
}
