// Topology comparison for docs/results/fabric.md (not built by default):
//   make nc_cm_fabric_compare
//   ./src/cm/nc_cm_fabric_compare [crossbar] [vf2_budget_s] [model,model,...|all] [anneal_iterations]
//                                 [--links MODEL TOPOLOGY]
// Every zoo model given (default: all of zoo_names(), CIFAR ResNets with option-A shortcuts),
// BatchNorms folded, on every topology of Topology::names() sized for the model's core count;
// one Markdown row per (model, topology). With --links, also the per-link load table and the
// placement picture (placement.dot) of one model on one topology.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/model_zoo.h"

namespace {

nc::cm::CoreGraph core_graph(const std::string& model, int64_t xbar) {
  using namespace nc::cm;
  Graph g = zoo_model(model);
  g.fold_batch_norms();
  Hardware hw;
  hw.crossbar_rows = hw.crossbar_cols = xbar;
  return build_core_graph(g, map_graph(g, hw), hw);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nc::cm;
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
    const CoreGraph cg = core_graph(argv[links + 1], xbar);
    const FabricRun r = run_fabric(argv[links + 2], cg, o);
    std::printf("%s%s\n%s", fabric_table_header().c_str(), fabric_table_row(r, cg).c_str(),
                link_load_table(r, cg).c_str());
    std::ofstream("placement.dot") << placement_dot(r, cg);
    return 0;
  }
  std::string header = fabric_table_header();
  std::printf("| model | %s|---%s", header.substr(2, header.find('\n') - 1).c_str(),
              header.substr(header.find('\n') + 1).c_str());
  for (const std::string& model : models) {
    const CoreGraph cg = core_graph(model, xbar);
    for (const std::string& name : Topology::names()) {
      const FabricRun r = run_fabric(name, cg, o);
      std::printf("| %s %s", model.c_str(), fabric_table_row(r, cg).c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
