#pragma once
// Mapping: the weight matrix of every Conv2d and Linear tiled over crossbar cores
// (docs/cm.md, "Mapping"; spec cm-compiler.md §7 defect 5, fabric.md §4 and §7).
//
// A conv is the matrix of R = C_in*kh*kw rows (ordered (c_in, i, j), c_in slowest) by
// C = C_out columns; a Linear is in x out. On X_r x X_c crossbars it needs
//   r = ceil(R / X_r) row blocks  x  q = ceil(C / X_c) column blocks,
// one core per block: core (l, a, b) holds rows [a X_r, min(R, (a+1) X_r)) and columns
// [b X_c, min(C, (b+1) X_c)). Row splits (r > 1) add a partial-sum accumulation on core
// (l, 0, b); column splits (q > 1) fan the same input out to every column block.
//
// Grouped convs (groups g > 1, depthwise included) are block diagonal: each group is an
// R_g x C_g matrix, R_g = (C_in/g) kh kw, C_g = C_out/g. When a group fits one crossbar,
// k = min(floor(X_r / R_g), floor(X_c / C_g)) groups share a core, placed along the diagonal
// (ceil(g / k) cores); otherwise each group is tiled as a dense matrix of its own.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"

namespace nc::cm {

/// One core's share of a layer's matrix. Rows and columns index the layer's full
/// (block-diagonal when grouped) matrix.
struct Tile {
  int64_t core = 0;                      // global core id
  int64_t row_block = 0, col_block = 0;  // (a, b) within the layer (within the group if split)
  int64_t group_begin = 0, group_end = 1;  // groups held: [begin, end)
  int64_t row_begin = 0, row_end = 0;
  int64_t col_begin = 0, col_end = 0;
  int64_t cells = 0;  // weights programmed on this crossbar
  bool accumulates = false;  // the core that sums the partial outputs of its column block
};

struct LayerMapping {
  NodeId node = -1;
  std::string name;
  OpKind kind = OpKind::kConv2d;
  int64_t rows = 0, cols = 0;              // R x C of the full matrix
  int64_t groups = 1;
  int64_t group_rows = 0, group_cols = 0;  // R_g x C_g
  int64_t groups_per_core = 1;             // k when groups are packed, else 1
  int64_t row_blocks = 1, col_blocks = 1;  // r x q (per group when groups are split)
  int64_t first_core = 0, cores = 0;
  int64_t cells = 0;            // weights programmed (R_g C_g g)
  int64_t mvms_per_image = 0;   // output pixels: one MVM on each of the layer's cores per pixel
  double utilisation = 0;       // cells / (cores X_r X_c)
  std::vector<Tile> tiles;
};

struct Mapping {
  int64_t crossbar_rows = 0, crossbar_cols = 0;
  int64_t cores_available = 0;  // 0 = unlimited
  std::vector<LayerMapping> layers;
  int64_t total_cores = 0;
  int64_t total_cells = 0;
  double utilisation = 0;  // total_cells / (total_cores X_r X_c)

  /// The layer of node `name`. Throws UserError when that node holds no mapped matrix.
  const LayerMapping& layer(const std::string& name) const;
  /// Markdown: one row per layer (matrix, groups, r x q, cores, core range, utilisation,
  /// MVMs per image), then the totals.
  std::string report_markdown() const;
  /// JSON of the same content, tiles included.
  std::string to_json() const;
};

/// Maps every Conv2d and Linear of `g` (in node order: cores are numbered along the
/// pipeline) onto crossbars of `hw`. Throws UserError, naming the need and the field, when
/// `check_capacity` and the graph needs more than hw.cores cores.
Mapping map_graph(const Graph& g, const Hardware& hw, bool check_capacity = true);

/// The core of every node of `g` (index = NodeId; -1 = the GCU), by the partition rule (spec
/// cm-compiler.md §3): a Conv2d / Linear runs on its layer's first core, any other node on the
/// core of the last Conv2d / Linear before it in node order, or on the GCU when there is none
/// (the graph inputs are on the GCU). Throws UserError when a layer of `m` is not a node of
/// `g` or a Conv2d / Linear of `g` has no layer in `m` (a mapping of another graph).
std::vector<int64_t> node_cores(const Graph& g, const Mapping& m);

}  // namespace nc::cm
