// Topology comparison for docs/results/fabric.md (not built by default):
//   make nc_cm_fabric_compare && ./src/cm/nc_cm_fabric_compare [crossbar] [vf2_budget_s]
// CIFAR ResNet-20 and -32 (option-A shortcuts), every topology of Topology::names() sized for
// the network's core count; one Markdown row per (network, topology).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/placement.h"

int main(int argc, char** argv) {
  using namespace nc::cm;
  const int64_t xbar = argc > 1 ? std::atoll(argv[1]) : 256;
  const double budget = argc > 2 ? std::atof(argv[2]) : 5.0;
  std::printf("| network | topology | nodes | links | links/node | max degree | cores | method | monomorphism search | "
              "max load (bits/img) | mean load (bits/img) | max hops | mean hops | links used | place time (s) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int64_t depth : {20, 32}) {
    Graph g = resnet_cifar(depth);
    g.fold_batch_norms();
    Hardware hw;
    hw.crossbar_rows = hw.crossbar_cols = xbar;
    Mapping m = map_graph(g, hw);
    CoreGraph cg = build_core_graph(g, m, hw);
    for (const std::string& name : Topology::names()) {
      Topology t = Topology::make(name, cg.cores);
      PlacementOptions o;
      o.time_budget_s = budget;
      Placement p = place(t, cg, o);
      Router r(t);
      FabricLoad L = route_flows(r, cg, p.node_of);
      std::printf("| ResNet-%lld | %s | %lld | %lld | %.2f | %lld | %lld | %s | %s | %lld | %.0f | %d | %.2f | %lld | %.2f |\n",
                  static_cast<long long>(depth), t.name.c_str(), static_cast<long long>(t.nodes),
                  static_cast<long long>(t.link_count()), static_cast<double>(t.link_count()) / static_cast<double>(t.nodes),
                  static_cast<long long>(t.max_degree()), static_cast<long long>(cg.cores), p.method.c_str(),
                  mono_status_name(p.mono), static_cast<long long>(L.max_bits), L.mean_bits, L.max_hops, L.mean_hops,
                  static_cast<long long>(L.links_used), p.seconds);
      std::fflush(stdout);
    }
  }
  return 0;
}
