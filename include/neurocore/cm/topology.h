#pragma once
// Communication-fabric topologies (docs/fabric.md; spec fabric.md §3).
//
// A Topology is an undirected simple graph of N nodes (cores) numbered 0..N-1; every link
// {u, v} is two directed channels u -> v and v -> u. Generators:
//   ring C_N          i <-> (i + 1) mod N
//   mesh a x b        node (x, y) = y a + x;  (x, y) <-> (x +- 1, y), (x, y +- 1) inside the grid
//   mesh-diag a x b   mesh plus the two diagonals (x +- 1, y +- 1): degree <= 8
//   torus a x b       mesh with wrap-around in both dimensions
//   hypercube Q_d     N = 2^d; i <-> i XOR 2^k
//   full K_N          every pair
//   band B(N, w)      i <-> j iff 1 <= |i - j| <= w (the w-th power of the path P_N)
//   5pp-band          B(N, 5): the DEFAULT 5PP reconstruction [recon]
//   5pp-prism         stages of 5 cores, node (s, i) = 5 s + i; (s, i) <-> (s, i +- 1 mod 5)
//                     (the pentagon) and (s, i) <-> (s + 1, i - 1), (s + 1, i), (s + 1, i + 1)
//                     (lanes mod 5): the OPTION 5PP reconstruction [recon]
//   user              an edge list read from YAML (`from_yaml`)
// Neither 5PP variant is the paper's exact topology (its edge list is not available); report
// them under their variant names (docs/fabric.md says why these two).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nc::cm {

enum class TopologyKind { kRing, kMesh, kMeshDiag, kTorus, kHypercube, kFull, kBand, kPrism, kUser };

struct Topology {
  std::string name;  // "ring", "mesh 8x8", "5pp-band", ...
  TopologyKind kind = TopologyKind::kUser;
  int64_t nodes = 0;
  int64_t dim_x = 0, dim_y = 0;  // mesh, mesh-diag and torus: a x b; hypercube: dim_x = d
  std::vector<std::pair<int, int>> links;  // u < v, sorted, no duplicates
  std::vector<std::vector<int>> adj;       // sorted neighbour lists

  int64_t link_count() const { return static_cast<int64_t>(links.size()); }
  int64_t degree(int v) const { return static_cast<int64_t>(adj.at(static_cast<std::size_t>(v)).size()); }
  int64_t max_degree() const;
  double mean_degree() const;  // 2 |E| / N
  bool has_link(int u, int v) const;
  /// Hop distances from `src` (BFS); -1 for unreachable nodes.
  std::vector<int> distances(int src) const;

  /// The generators. Each throws UserError for sizes it cannot build (n < 1, a or b < 1,
  /// d < 0 or d > 20, w < 1).
  static Topology ring(int64_t n);
  static Topology mesh(int64_t a, int64_t b);
  static Topology mesh_diag(int64_t a, int64_t b);
  static Topology torus(int64_t a, int64_t b);
  static Topology hypercube(int64_t d);
  static Topology full(int64_t n);
  static Topology band(int64_t n, int64_t w);
  static Topology five_pp_band(int64_t n) { return band(n, 5); }
  /// `stages` x 5 nodes.
  static Topology five_pp_prism(int64_t stages);
  /// From links (u, v) on n nodes. Throws UserError (naming `origin`, the link index and the
  /// value) when an id is outside [0, n), a link is a self-loop or appears twice.
  static Topology from_links(int64_t n, const std::vector<std::pair<int64_t, int64_t>>& links,
                             const std::string& name = "user", const std::string& origin = "topology");
  /// YAML:  name: my-fabric   (optional)
  ///        nodes: 8
  ///        links: [[0, 1], [1, 2], ...]
  /// Throws UserError naming `origin` and the field on any malformed or invalid entry.
  static Topology from_yaml(const std::string& text, const std::string& origin = "topology.yaml");
  static Topology load_yaml(const std::string& path);

  /// The named topology with at least `min_nodes` nodes, sized as: ring, full, 5pp-band:
  /// N = n; mesh, mesh-diag, torus: a = ceil(sqrt(n)), b = ceil(n / a); hypercube:
  /// d = ceil(log2 n); 5pp-prism: ceil(n / 5) stages. Names: ring, mesh, mesh-diag, torus,
  /// hypercube, full, 5pp (= 5pp-band), 5pp-band, 5pp-prism, band<w> (e.g. band3).
  /// Throws UserError listing the valid names for an unknown one.
  static Topology make(const std::string& name, int64_t min_nodes);
  /// The names `make` accepts for `all` comparisons (band<w> excluded).
  static const std::vector<std::string>& names();
};

}  // namespace nc::cm
