// Benchmark-like measurement of the timing simulator (docs/results/cm.md): builds ResNet-32
// (shape only), maps it, runs the isl analysis, then simulates N images and prints wall
// times and simulated cycles per second. Not a unit test: wall time depends on the machine.
//   nc_cm_timing_bench [images=1000] [depth=32] [hw.yaml]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/timing.h"
#include "neurocore/core/error.h"

int main(int argc, char** argv) {
  using clock = std::chrono::steady_clock;
  auto secs = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  try {
    const int64_t images = argc > 1 ? std::atoll(argv[1]) : 1000;
    const int64_t depth = argc > 2 ? std::atoll(argv[2]) : 32;
    const nc::cm::Hardware hw = argc > 3 ? nc::cm::Hardware::load(argv[3]) : nc::cm::Hardware();
    const auto t0 = clock::now();
    nc::cm::Graph g = nc::cm::resnet_cifar(depth);
    g.fold_batch_norms();
    const nc::cm::Mapping m = nc::cm::map_graph(g, hw);
    const nc::cm::PolyModel poly(g);
    const auto t1 = clock::now();
    nc::cm::TimingOptions opt;
    opt.images = images;
    const nc::cm::TimingReport r = nc::cm::simulate_timing(g, m, poly, hw, opt);
    const auto t2 = clock::now();
    const double sim = secs(t1, t2);
    std::printf("resnet%lld: %lld nodes, %lld cores; build + map + isl analysis %.3f s\n",
                static_cast<long long>(depth), static_cast<long long>(g.nodes().size()),
                static_cast<long long>(m.total_cores), secs(t0, t1));
    std::printf("simulated %lld images in %.3f s wall (tables included): %lld cycles, %.3g simulated cycles/s\n",
                static_cast<long long>(images), sim, static_cast<long long>(r.total_cycles),
                static_cast<double>(r.total_cycles) / sim);
    std::printf("%s", r.report_markdown().substr(0, r.report_markdown().find("| core |")).c_str());
    return 0;
  } catch (const nc::UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return nc::kExitUser;
  }
}
