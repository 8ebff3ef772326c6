#pragma once
// Placement of the core graph on a fabric (docs/fabric.md; spec fabric.md §5).
//
// A placement is node_of[core] = fabric node. It is a monomorphism ("homomorphic" in the
// paper's sense, read as: every CNN flow has a dedicated direct link) when it is injective
// and every communicating pair of cores lands on a fabric link. place() tries, in order:
//   1. the pipeline-order placement (ring order; boustrophedon on mesh, mesh-diag and torus;
//      Gray code on the hypercube; identity otherwise), accepted when it is a monomorphism;
//   2. Boost.Graph's vf2_subgraph_mono (core pairs into fabric links), aborted after
//      options.time_budget_s: the outcome is found, none (search completed) or unknown;
//   3. otherwise a heuristic: simulated annealing from the pipeline-order placement over
//      moves and swaps, minimising (max channel load, then bits x hops), seeded: a hot and a
//      cool schedule, each followed by a greedy descent, and a greedy descent alone; the best
//      of the three is kept (each runs anneal_iterations moves).
// Placement::method says which happened.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/fabric.h"
#include "neurocore/cm/topology.h"

namespace nc::cm {

enum class MonoStatus { kFound, kNone, kUnknown, kSkipped };
const char* mono_status_name(MonoStatus s);  // "found", "none", "unknown (time budget)", "skipped"

struct PlacementOptions {
  double time_budget_s = 5.0;          // for the VF2 search
  bool try_vf2 = true;
  uint64_t seed = 1;
  int64_t anneal_iterations = 20000;
};

struct Placement {
  std::vector<int> node_of;    // core -> fabric node
  std::string method;          // "pipeline order", "vf2", "annealing"
  MonoStatus mono = MonoStatus::kSkipped;  // outcome of the monomorphism search
  bool homomorphic = false;    // node_of is a monomorphism
  double seconds = 0;          // wall time of place()
};

struct PlacementCheck {
  bool in_range = true;            // every node_of in [0, N)
  bool injective = true;           // no two cores on one node
  int64_t pairs_on_links = 0;      // communicating pairs placed on a fabric link
  std::vector<std::pair<int, int>> routed;  // pairs (cores) that need a multi-hop route
  std::string message;             // empty when valid; otherwise what is wrong
  bool valid() const { return in_range && injective; }
  bool monomorphism() const { return valid() && routed.empty(); }
};

/// Checks `node_of` against the topology and the core graph: size, range, injectivity, and
/// which communicating pairs are on links (the others are reported as routed).
PlacementCheck check_placement(const Topology& t, const CoreGraph& cg, const std::vector<int>& node_of);

/// The pipeline-order placement of step 1 (cores 0..n-1 on the first n nodes of the order).
std::vector<int> pipeline_order_placement(const Topology& t, int64_t cores);

/// Places `cg` on `t`. Throws UserError when the core graph has more cores than t has nodes.
Placement place(const Topology& t, const CoreGraph& cg, const PlacementOptions& options = {});

}  // namespace nc::cm
