#include "neurocore/cm/mapping.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Dense tiling of one R x C matrix whose top-left corner sits at (row0, col0) of the layer's
// full matrix.
void tile_dense(LayerMapping& l, int64_t rows, int64_t cols, int64_t row0, int64_t col0,
                int64_t group, int64_t xr, int64_t xc, int64_t& next_core) {
  const int64_t r = ceil_div(rows, xr), q = ceil_div(cols, xc);
  for (int64_t a = 0; a < r; ++a)
    for (int64_t b = 0; b < q; ++b) {
      Tile t;
      t.core = next_core++;
      t.row_block = a;
      t.col_block = b;
      t.group_begin = group;
      t.group_end = group + 1;
      t.row_begin = row0 + a * xr;
      t.row_end = row0 + std::min(rows, (a + 1) * xr);
      t.col_begin = col0 + b * xc;
      t.col_end = col0 + std::min(cols, (b + 1) * xc);
      t.cells = (t.row_end - t.row_begin) * (t.col_end - t.col_begin);
      t.accumulates = r > 1 && a == 0;
      l.tiles.push_back(t);
    }
  l.row_blocks = r;
  l.col_blocks = q;
}

std::string fmt_pct(double v) { return format_num(100.0 * v, "{:.1f}%"); }

}  // namespace

Mapping map_graph(const Graph& g, const Hardware& hw, bool check_capacity) {
  const int64_t xr = hw.crossbar_rows, xc = hw.crossbar_cols;
  Mapping m;
  m.crossbar_rows = xr;
  m.crossbar_cols = xc;
  m.cores_available = hw.cores;
  int64_t next_core = 0;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (!n.has_matrix()) continue;
    LayerMapping l;
    l.node = static_cast<NodeId>(i);
    l.name = n.name;
    l.kind = n.kind;
    l.first_core = next_core;
    const Shape& out = g.value(n.output).shape;
    if (n.kind == OpKind::kConv2d) {
      const auto& o = n.conv();
      l.groups = o.groups();
      l.group_rows = (o.in_channels() / o.groups()) * o.kernel_size().h * o.kernel_size().w;
      l.group_cols = o.out_channels() / o.groups();
      l.mvms_per_image = out[1] * out[2];
    } else {
      l.groups = 1;
      l.group_rows = n.linear().in_features();
      l.group_cols = n.linear().out_features();
      l.mvms_per_image = 1;
    }
    l.rows = l.group_rows * l.groups;
    l.cols = l.group_cols * l.groups;
    l.cells = l.group_rows * l.group_cols * l.groups;
    if (l.groups == 1) {
      tile_dense(l, l.rows, l.cols, 0, 0, 0, xr, xc, next_core);
    } else if (l.group_rows <= xr && l.group_cols <= xc) {
      // Block diagonal: pack k groups per crossbar along its diagonal.
      const int64_t k = std::min({xr / l.group_rows, xc / l.group_cols, l.groups});
      l.groups_per_core = k;
      for (int64_t g0 = 0; g0 < l.groups; g0 += k) {
        Tile t;
        t.core = next_core++;
        t.row_block = 0;
        t.col_block = g0 / k;
        t.group_begin = g0;
        t.group_end = std::min(l.groups, g0 + k);
        t.row_begin = g0 * l.group_rows;
        t.row_end = t.group_end * l.group_rows;
        t.col_begin = g0 * l.group_cols;
        t.col_end = t.group_end * l.group_cols;
        t.cells = (t.group_end - t.group_begin) * l.group_rows * l.group_cols;
        l.tiles.push_back(t);
      }
      l.row_blocks = 1;
      l.col_blocks = static_cast<int64_t>(l.tiles.size());
    } else {
      for (int64_t grp = 0; grp < l.groups; ++grp) {
        tile_dense(l, l.group_rows, l.group_cols, grp * l.group_rows, grp * l.group_cols, grp, xr,
                   xc, next_core);
      }
    }
    l.cores = next_core - l.first_core;
    l.utilisation = static_cast<double>(l.cells) / static_cast<double>(l.cores * xr * xc);
    m.total_cells += l.cells;
    m.layers.push_back(std::move(l));
  }
  m.total_cores = next_core;
  m.utilisation = m.total_cores ? static_cast<double>(m.total_cells) /
                                      static_cast<double>(m.total_cores * xr * xc)
                                : 0.0;
  if (check_capacity && hw.cores > 0 && m.total_cores > hw.cores) {
    throw UserError("hardware '" + hw.name + "': the graph needs " +
                    std::to_string(m.total_cores) + " cores of " + std::to_string(xr) + "x" +
                    std::to_string(xc) + " but cores = " + std::to_string(hw.cores) +
                    "; it fits with cores >= " + std::to_string(m.total_cores) + " (e.g. --hw-set cores=" +
                    std::to_string(m.total_cores) + "), larger crossbars, or cores: unlimited");
  }
  return m;
}

const LayerMapping& Mapping::layer(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& l : layers) {
    if (l.name == name) return l;
    names.push_back(l.name);
  }
  const std::string hint = closest_match(name, names);
  throw UserError("mapping: no mapped layer named '" + name + "'" +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

std::string Mapping::report_markdown() const {
  std::ostringstream s;
  s << "Crossbar " << crossbar_rows << "x" << crossbar_cols << ".\n\n";
  s << "| layer | op | matrix R x C | groups | blocks r x q | cores | core ids | utilisation | "
       "MVMs/image |\n";
  s << "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& l : layers) {
    s << "| " << l.name << " | " << op_name(l.kind) << " | " << l.rows << " x " << l.cols
      << " | " << l.groups;
    if (l.groups_per_core > 1) s << " (" << l.groups_per_core << "/core)";
    s << " | " << l.row_blocks << " x " << l.col_blocks << " | " << l.cores << " | "
      << l.first_core;
    if (l.cores > 1) s << "-" << l.first_core + l.cores - 1;
    s << " | " << fmt_pct(l.utilisation) << " | " << l.mvms_per_image << " |\n";
  }
  s << "\n**Total:** " << layers.size() << " weight layers, " << total_cores << " cores";
  if (cores_available > 0) s << " of " << cores_available << " available";
  s << ", " << total_cells << " weights, crossbar utilisation " << fmt_pct(utilisation) << ".\n";
  return s.str();
}

std::string Mapping::to_json() const {
  using nlohmann::json;
  json layers_j = json::array();
  for (const auto& l : layers) {
    json tiles = json::array();
    for (const auto& t : l.tiles) {
      tiles.push_back({{"core", t.core},
                       {"row_block", t.row_block},
                       {"col_block", t.col_block},
                       {"groups", {t.group_begin, t.group_end}},
                       {"rows", {t.row_begin, t.row_end}},
                       {"cols", {t.col_begin, t.col_end}},
                       {"cells", t.cells},
                       {"accumulates", t.accumulates}});
    }
    layers_j.push_back({{"name", l.name},
                        {"op", op_name(l.kind)},
                        {"rows", l.rows},
                        {"cols", l.cols},
                        {"groups", l.groups},
                        {"groups_per_core", l.groups_per_core},
                        {"row_blocks", l.row_blocks},
                        {"col_blocks", l.col_blocks},
                        {"first_core", l.first_core},
                        {"cores", l.cores},
                        {"cells", l.cells},
                        {"mvms_per_image", l.mvms_per_image},
                        {"utilisation", l.utilisation},
                        {"tiles", tiles}});
  }
  return json({{"crossbar", {crossbar_rows, crossbar_cols}},
               {"cores_available", cores_available},
               {"total_cores", total_cores},
               {"total_cells", total_cells},
               {"utilisation", utilisation},
               {"layers", layers_j}})
             .dump(2) +
         "\n";
}

std::vector<int64_t> node_cores(const Graph& g, const Mapping& m) {
  std::vector<int64_t> core(g.nodes().size(), -1);
  std::vector<const LayerMapping*> layer_of(g.nodes().size(), nullptr);
  for (const auto& l : m.layers) {
    if (l.node < 0 || static_cast<std::size_t>(l.node) >= g.nodes().size() ||
        g.node(l.node).name != l.name || l.tiles.empty()) {
      throw UserError("simulate_timing: the mapping's layer '" + l.name +
                      "' is not a node of this graph (map the same graph)");
    }
    layer_of[static_cast<std::size_t>(l.node)] = &l;
  }
  int64_t current = -1;
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    if (node.has_matrix()) {
      if (!layer_of[n]) {
        throw UserError("simulate_timing: node '" + node.name + "' (" + op_name(node.kind) +
                        ") has no mapping (map the same graph)");
      }
      current = layer_of[n]->tiles[0].core;
    }
    core[n] = node.kind == OpKind::kInput ? -1 : current;
  }
  return core;
}

}  // namespace nc::cm
