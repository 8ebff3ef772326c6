// Topology comparison for docs/results/fabric.md (not built by default):
//   make nc_cm_fabric_compare
//   ./bench/cm/nc_cm_fabric_compare [crossbar] [vf2_budget_s] [model,model,...|all] [anneal_iterations]
//                                 [--links MODEL TOPOLOGY] [--timing IMAGES] [--link-gbps G]
// Every zoo model given (default: all of zoo_names(), CIFAR ResNets with option-A shortcuts),
// BatchNorms folded, on every topology of Topology::names() sized for the model's core count;
// one Markdown row per (model, topology). With --links, also the per-link load table and the
// placement picture (placement.dot) of one model on one topology. With --timing, every row
// also gets the simulated throughput and first-image latency as fractions of the ideal fabric's
// (IMAGES images through the timing simulator, default hardware; the ideal fabric's figures are
// printed once per model).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/model_zoo.h"

namespace {

double link_gbps = 0;  // --link-gbps

struct Model {
  nc::cm::Graph g;
  nc::cm::Hardware hw;
  nc::cm::Mapping m;
  nc::cm::CoreGraph cg;
};

Model load(const std::string& name, int64_t xbar) {
  using namespace nc::cm;
  Model r;
  r.g = zoo_model(name);
  r.g.fold_batch_norms();
  r.hw.crossbar_rows = r.hw.crossbar_cols = xbar;
  r.hw.link_bandwidth_gbps = link_gbps;
  r.m = map_graph(r.g, r.hw);
  r.cg = build_core_graph(r.g, r.m, r.hw);
  return r;
}

}  // namespace

int main(int argc_in, char** argv_in) {
  using namespace nc::cm;
  // --timing IMAGES and --link-gbps G anywhere; the rest is positional.
  std::vector<char*> args(argv_in, argv_in + argc_in);
  auto flag = [&](const std::string& name, double otherwise) {
    for (std::size_t k = 1; k + 1 < args.size(); ++k) {
      if (name == args[k]) {
        const double v = std::atof(args[k + 1]);
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(k), args.begin() + static_cast<std::ptrdiff_t>(k + 2));
        return v;
      }
    }
    return otherwise;
  };
  const auto timing = static_cast<int64_t>(flag("--timing", 0));
  link_gbps = flag("--link-gbps", nc::cm::Hardware().link_bandwidth_gbps);
  const int argc = static_cast<int>(args.size());
  char** argv = args.data();
  const int64_t xbar = argc > 1 ? std::atoll(argv[1]) : 256;
  PlacementOptions o;
  o.time_budget_s = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::vector<std::string> models = zoo_names();
  if (argc > 3 && std::string(argv[3]) != "all") {
    models.clear();
    std::stringstream list(argv[3]);
    for (std::string m; std::getline(list, m, ',');) models.push_back(m);
  }
  if (argc > 4 && std::string(argv[4]) != "--links") o.anneal_iterations = std::atoll(argv[4]);
  const int links = argc > 7 ? 5 : argc > 6 ? 4 : -1;
  if (links > 0 && std::string(argv[links]) == "--links") {
    const Model md = load(argv[links + 1], xbar);
    const CoreGraph& cg = md.cg;
    const FabricRun r = run_fabric(argv[links + 2], cg, o);
    std::printf("%s%s\n%s", fabric_table_header().c_str(), fabric_table_row(r, cg).c_str(),
                link_load_table(r, cg).c_str());
    std::ofstream("placement.dot") << placement_dot(r, cg);
    return 0;
  }
  std::string header = fabric_table_header(timing > 0);
  std::printf("| model | %s|---%s", header.substr(2, header.find('\n') - 1).c_str(),
              header.substr(header.find('\n') + 1).c_str());
  for (const std::string& model : models) {
    const Model md = load(model, xbar);
    std::unique_ptr<PolyModel> poly;
    TimingOptions to;
    to.images = timing;
    to.check_buffers = false;
    TimingReport ideal;
    if (timing > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      poly = std::make_unique<PolyModel>(md.g);
      ideal = simulate_timing(md.g, md.m, *poly, md.hw, to);
      std::fprintf(stderr, "%s: ideal fabric %.6g images/s, first image %lld cycles (%.1f s for isl + ideal run)\n",
                   model.c_str(), ideal.throughput_images_per_s, static_cast<long long>(ideal.first_latency_cycles),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    for (const std::string& name : Topology::names()) {
      const FabricRun r = run_fabric(name, md.cg, o);
      if (timing > 0) {
        const FabricSpeed sp = fabric_speed(ideal, simulate_on_fabric(md.g, md.m, *poly, md.hw, r, to));
        std::printf("| %s %s", model.c_str(), fabric_table_row(r, md.cg, &sp).c_str());
      } else {
        std::printf("| %s %s", model.c_str(), fabric_table_row(r, md.cg).c_str());
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
