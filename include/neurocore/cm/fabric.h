#pragma once
// The core-level CNN graph and its routing on a fabric (docs/fabric.md; spec fabric.md §4, §6).
//
// Core graph G = (cores, flows): one node per core of the mapping, one directed flow per pair
// of cores that exchange data, with its volume in bits per image (channel-exact, spec §4):
//   partial sum   (l, a, b) -> (l, 0, b), a >= 1:      P_out(l) * cols(b) * psum_bits
//   data          (l, 0, b) -> (l', a', b') for a consumer layer l' of l, when the output
//                 channels of column block b meet the input channels of row block a':
//                 H_in(l') W_in(l') * |channel intersection| * activation_bits (a column-split
//                 l' receives the same input on every column block: the input broadcast)
//   residual      the cores producing an Add's other operands -> the output cores (l, 0, b) of
//                 the layer whose digital unit runs the Add (the last Conv2d/Linear before it
//                 in node order, as mapping.h's node_cores), channel-exact:
//                 H W (of the Add) * |channel intersection| * activation_bits
// Channels are traced through BatchNorm, activations, pooling, Pad (channel offsets), Slice,
// Concat along channels (offsets) and Flatten (channel c -> features [c H W, (c+1) H W)).
// The graph input and output (GCU traffic) are not core-to-core flows and are left out.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/topology.h"

namespace nc::cm {

enum class FlowKind { kData, kPartialSum, kResidual };
const char* flow_name(FlowKind k);  // "data", "psum", "residual"

struct CoreFlow {
  int src = 0, dst = 0;  // core ids (src != dst)
  int64_t bits = 0;      // per image
  FlowKind kind = FlowKind::kData;
};

struct CoreGraph {
  int64_t cores = 0;
  std::vector<std::string> core_layer;  // layer name of every core
  std::vector<CoreFlow> flows;          // (src, dst, kind) unique; sorted by (src, dst, kind)

  /// Sum of the volumes of the flows leaving `core`.
  int64_t bits_out(int core) const;
  int64_t total_bits() const;
  /// The undirected simple graph of communicating pairs (u < v), sorted.
  std::vector<std::pair<int, int>> pairs() const;
};

/// Builds the core graph of `g` mapped by `m` (the same graph), with hw's activation and
/// partial-sum widths. Throws UserError when the mapping does not belong to the graph.
CoreGraph build_core_graph(const Graph& g, const Mapping& m, const Hardware& hw);
/// The same for a compiled model.
CoreGraph build_core_graph(const Compiled& c);

/// Deterministic shortest-path routing on a topology (spec §6):
///   mesh, torus: dimension order, X then Y (the torus takes the shorter way, ties positive);
///   hypercube: e-cube (lowest differing bit first);
///   others (mesh-diag, ring, band, 5PP, user): from the destination back, the lowest-index
///   neighbour one hop closer to the source (BFS distances).
/// Paths are cached per (source, destination).
class Router {
 public:
  explicit Router(const Topology& t);
  /// Nodes from `a` to `b`, both included. Throws UserError when b is unreachable from a.
  const std::vector<int>& path(int a, int b);
  /// Directed channel ids along the path: 2 * link + (0 if it runs from the link's lower id
  /// to its higher id, else 1).
  const std::vector<int>& channels(int a, int b);
  int channel(int u, int v) const;  // -1 when u, v are not linked
  int64_t channel_count() const { return 2 * topo_.link_count(); }
  const Topology& topology() const { return topo_; }

 private:
  const std::vector<int>& dist_from(int s);
  // A copy, not a reference: `Router r(Topology::mesh(4, 4))` must not dangle (found by
  // AddressSanitizer); a topology is a node count and a link list, cheap to copy.
  Topology topo_;
  std::vector<std::vector<int>> dist_;  // lazily, per source
  std::vector<std::vector<std::vector<int>>> path_, chan_;  // lazily, [a][b]
};

struct FabricLoad {
  std::vector<int64_t> channel_bits;  // per directed channel (Router ids), bits per image
  std::vector<int> hops;              // per flow (0 when both ends share a node)
  int64_t max_bits = 0;               // the figure of merit (bits per image)
  double mean_bits = 0;               // over loaded channels
  int max_hops = 0;
  double mean_hops = 0;               // over flows, unweighted
  int64_t bit_hops = 0;               // sum of bits * hops over flows = sum of channel_bits
  int64_t channels_used = 0, links_used = 0;
  /// Bits per second of the busiest channel at `images_per_s`.
  double max_bits_per_s(double images_per_s) const { return static_cast<double>(max_bits) * images_per_s; }
};

/// Routes every flow of `cg` placed by `node_of` (core -> fabric node) and sums the loads.
/// Throws UserError when node_of has the wrong size or a node outside the topology.
FabricLoad route_flows(Router& router, const CoreGraph& cg, const std::vector<int>& node_of);

/// The spec's pipeline throughput (§6): 1 / (mvm_ns * max_l MVMs per image of l) images/s,
/// no replication.
double pipeline_throughput(const Mapping& m, const Hardware& hw);

}  // namespace nc::cm
