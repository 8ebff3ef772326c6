#pragma once
// One network on one fabric topology, placed and routed, and its reports: the comparison row,
// the per-link load table and a Graphviz picture of the placement (docs/fabric.md, "Reports").
// Shared by `neurocore fabric` and the nc_cm_fabric_compare measurement.
#include <string>
#include <vector>

#include "neurocore/cm/fabric.h"
#include "neurocore/cm/placement.h"
#include "neurocore/cm/timing.h"
#include "neurocore/cm/topology.h"

namespace nc::cm {

struct FabricRun {
  Topology topology;
  Placement placement;
  FabricLoad load;
};

/// Builds `Topology::make(topology, cg.cores)`, places `cg` on it and routes every flow.
FabricRun run_fabric(const std::string& topology, const CoreGraph& cg, const PlacementOptions& options = {});

/// The simulated pipeline on a placed fabric against the ideal fabric (timing.h's contention
/// model): throughput and first-image latency of both.
struct FabricSpeed {
  double throughput = 0, ideal_throughput = 0;  // images/s
  double latency_us = 0, ideal_latency_us = 0;  // first image
  double busiest_channel = 0;                   // fraction of the run the busiest channel is busy
};

/// Simulates `options.images` images of `g` on r's placement (options.fabric and node_of are
/// set from r; buffers are not checked: the comparison is about time).
TimingReport simulate_on_fabric(const Graph& g, const Mapping& m, const PolyModel& poly, const Hardware& hw,
                                const FabricRun& r, TimingOptions options);
TimingReport simulate_on_fabric(const Compiled& c, const FabricRun& r, TimingOptions options);
FabricSpeed fabric_speed(const TimingReport& ideal, const TimingReport& placed);

/// The comparison table: one Markdown row per run (topology, nodes, links, links per node,
/// max degree, cores, placement method, monomorphism search, max and mean channel load,
/// max and mean hops, links used, placement time; with `speed`, also the throughput and the
/// first-image latency on that fabric as fractions of the ideal fabric's).
std::string fabric_table_header(bool speed = false);
std::string fabric_table_row(const FabricRun& r, const CoreGraph& cg, const FabricSpeed* speed = nullptr);

/// Markdown table of every link that carries load: nodes, the cores on them, bits per image
/// on each direction and the flows (src core -> dst core) routed over it; busiest first.
std::string link_load_table(const FabricRun& r, const CoreGraph& cg);

/// Graphviz (neato) picture of the placement: one node per fabric node, labelled with its
/// core and layer (unused nodes grey); links coloured from grey (idle) through yellow to red
/// (the busiest channel), width growing with load. Mesh, mesh-diag and torus nodes are pinned
/// to their grid positions, the 5-lane prism to stage columns, the others to a circle or a
/// line in node order. Idle links are left out above `max_idle_links` links (a fully
/// connected fabric would otherwise draw N^2 / 2 lines).
std::string placement_dot(const FabricRun& r, const CoreGraph& cg, int64_t max_idle_links = 2000);

/// `neurocore fabric` (docs/fabric.md): a compiled model placed on each topology.
struct FabricReportOptions {
  std::vector<std::string> topologies;  // names accepted by run_fabric
  double budget_s = 5.0;                // monomorphism search per topology
  int64_t images = 4;                   // timing simulation per fabric; 0: none
  std::string title;                    // the model as the user named it
};

struct FabricReport {
  std::string table;          // the comparison table (Markdown), also printed by the CLI
  std::string markdown_path;  // report.md
};

/// Places, routes and (options.images > 0) simulates `c` on every topology against the ideal
/// fabric, and writes into `dir` (which must exist) report.md, a placement picture
/// (placement-<topology>.dot, .svg with Graphviz) and a per-link load table per topology.
FabricReport write_fabric_report(const Compiled& c, const FabricReportOptions& options, const std::string& dir);

}  // namespace nc::cm
