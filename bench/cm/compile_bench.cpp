// Measurement of the compiler's own cost and of the functional simulator (docs/results/cm.md).
// Not a unit test: wall times depend on the machine. Single-threaded throughout.
//   nc_cm_compile_bench MODEL [images=10] [hw.yaml]
// MODEL is an ONNX file (imported) or "resnetN" (the model zoo's CIFAR ResNet-N, option-A
// shortcuts, seeded random weights, BatchNorms folded: "import" is then building the graph).
// Compile = import + mapping + isl analysis (every edge's relations) + the timing simulator's
// per-edge tables + control-program generation (isl AST) for every core. Then `images` random
// images go through the functional simulator and the reference evaluator (images/s of each).
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <random>
#include <string>

#include "neurocore/cm/control.h"
#include "neurocore/cm/functional.h"
#include "neurocore/cm/reference_eval.h"
#include "neurocore/cm/timing.h"
#include "neurocore/core/error.h"
#include "bench_model.h"

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  try {
    if (argc < 2) {
      std::fprintf(stderr, "usage: nc_cm_compile_bench MODEL(.onnx | resnetN) [images=10] [hw.yaml]\n");
      return nc::kExitUser;
    }
    const std::string model = argv[1];
    const int64_t images = argc > 2 ? std::atoll(argv[2]) : 10;
    const nc::cm::Hardware hw = argc > 3 ? nc::cm::Hardware::load(argv[3]) : nc::cm::Hardware();

    const std::clock_t cpu0 = std::clock();
    const auto t0 = clock::now();
    nc::cm::Graph g = nc::cm::bench_graph(model);
    const auto t1 = clock::now();
    const nc::cm::Mapping m = nc::cm::map_graph(g, hw);
    const auto t2 = clock::now();
    const nc::cm::PolyModel poly(g);
    const auto t3 = clock::now();
    for (const auto& e : poly.edges()) (void)nc::cm::edge_schedule(g, e);
    const auto t4 = clock::now();
    const auto programs = nc::cm::generate_control(g, m, poly);
    const auto t5 = clock::now();
    const double compile_cpu = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
    std::printf("%s: %zu nodes, %zu edges, %lld cores, %zu control programs\n", model.c_str(),
                g.nodes().size(), poly.edges().size(), static_cast<long long>(m.total_cores),
                programs.size());
    std::printf("compile: import %.3f s, mapping %.3f s, isl relations %.3f s, edge tables %.3f s, "
                "control programs %.3f s; total %.3f s wall, %.3f s CPU (one thread)\n",
                secs(t0, t1), secs(t1, t2), secs(t2, t3), secs(t3, t4), secs(t4, t5), secs(t0, t5),
                compile_cpu);

    if (images < 1) return 0;
    std::vector<std::vector<float>> in;
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    int64_t size = 0;
    for (auto v : g.inputs()) size += nc::cm::numel(g.value(v).shape);
    for (int64_t i = 0; i < images; ++i) {
      in.emplace_back(static_cast<std::size_t>(size));
      for (float& x : in.back()) x = u(rng);
    }
    const auto f0 = clock::now();
    nc::cm::FunctionalSimulator sim(g, m, poly, hw);
    const auto f1 = clock::now();
    const std::clock_t fc0 = std::clock();
    const auto out = sim.run(in);
    const std::clock_t fc1 = std::clock();
    const auto f2 = clock::now();
    double worst = 0;
    for (int64_t i = 0; i < images; ++i) {
      worst = std::max(worst, nc::cm::max_relative_error(out[static_cast<std::size_t>(i)],
                                                         nc::cm::evaluate(g, in[static_cast<std::size_t>(i)])));
    }
    const std::clock_t fc2 = std::clock();
    const auto f3 = clock::now();
    const double fs = secs(f1, f2), rs = secs(f2, f3);
    const double fcpu = static_cast<double>(fc1 - fc0) / CLOCKS_PER_SEC;
    const double rcpu = static_cast<double>(fc2 - fc1) / CLOCKS_PER_SEC;
    std::printf("functional: setup %.3f s; %lld images in %.3f s wall (%.3f s CPU) = %.2f images/s "
                "per CPU second (%lld MVMs)\n",
                secs(f0, f1), static_cast<long long>(images), fs, fcpu, images / fcpu,
                static_cast<long long>(sim.mvms()));
    std::printf("reference evaluator: %lld images in %.3f s wall (%.3f s CPU) = %.2f images/s per "
                "CPU second; functional/reference throughput %.2f; max relative error %.2e\n",
                static_cast<long long>(images), rs, rcpu, images / rcpu, rcpu / fcpu, worst);
    return 0;
  } catch (const nc::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return nc::kExitUser;
  }
}
