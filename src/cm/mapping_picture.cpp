// Graphviz picture of a mapping (see the header). HTML-like labels: each layer is a table
// whose cells are its tiles, so row and column splits read as the grid they are.
#include "neurocore/cm/mapping_picture.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <utility>

#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// White (#ffffff) at 0 to dark blue (#08306b) at 1, linear in each channel.
std::string shade(double u) {
  u = std::min(1.0, std::max(0.0, u));
  const auto mix = [u](int a, int b) { return static_cast<int>(a + (b - a) * u + 0.5); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(255, 0x08), mix(255, 0x30), mix(255, 0x6b));
  return buf;
}

std::string pct(double u) { return format_num(100.0 * u, u < 0.1 ? "{:.1f}%" : "{:.0f}%"); }

std::string range(int64_t begin, int64_t end) {
  return end - begin == 1 ? std::to_string(begin)
                          : std::to_string(begin) + "-" + std::to_string(end - 1);
}

std::string layer_label(const LayerMapping& l, const Mapping& m, int max_tiles) {
  const double per_core = static_cast<double>(m.crossbar_rows * m.crossbar_cols);
  // Table rows: row blocks, per group when each group is tiled on its own.
  std::map<std::pair<int64_t, int64_t>, std::vector<const Tile*>> rows;
  int shown = 0;
  for (const Tile& t : l.tiles) {
    if (shown == max_tiles) break;
    ++shown;
    const int64_t group = l.groups_per_core > 1 ? 0 : t.group_begin;
    rows[{group, t.row_block}].push_back(&t);
  }
  std::size_t width = 1;
  for (auto& [key, tiles] : rows) {
    std::sort(tiles.begin(), tiles.end(),
              [](const Tile* a, const Tile* b) { return a->col_block < b->col_block; });
    width = std::max(width, tiles.size());
  }
  std::ostringstream s;
  s << "<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\">";
  s << "<TR><TD COLSPAN=\"" << width << "\" BGCOLOR=\"#e8e8e8\"><B>" << escape(l.name)
    << "</B> " << op_name(l.kind) << "<BR/>" << l.rows << " x " << l.cols;
  if (l.groups > 1) {
    s << ", " << l.groups << " groups";
    if (l.groups_per_core > 1) s << " (" << l.groups_per_core << "/core)";
  }
  s << "<BR/>" << l.row_blocks << " x " << l.col_blocks << " blocks, " << l.cores
    << (l.cores == 1 ? " core, " : " cores, ") << pct(l.utilisation) << "</TD></TR>";
  for (const auto& [key, tiles] : rows) {
    s << "<TR>";
    for (const Tile* t : tiles) {
      const double u = static_cast<double>(t->cells) / per_core;
      const char* ink = u > 0.55 ? "white" : "black";
      s << "<TD BGCOLOR=\"" << shade(u) << "\"><FONT COLOR=\"" << ink << "\">core " << t->core
        << (t->accumulates && l.row_blocks > 1 ? " acc" : "") << "<BR/>rows " << range(t->row_begin, t->row_end)
        << "<BR/>cols " << range(t->col_begin, t->col_end);
      if (l.groups > 1) s << "<BR/>groups " << range(t->group_begin, t->group_end);
      s << "<BR/>" << pct(u) << "</FONT></TD>";
    }
    for (std::size_t i = tiles.size(); i < width; ++i) s << "<TD BORDER=\"0\"></TD>";
    s << "</TR>";
  }
  if (static_cast<int64_t>(l.tiles.size()) > shown) {
    s << "<TR><TD COLSPAN=\"" << width << "\">... " << l.tiles.size() - static_cast<std::size_t>(shown)
      << " more tiles</TD></TR>";
  }
  s << "</TABLE>>";
  return s.str();
}

}  // namespace

std::string mapping_dot(const Mapping& m, int per_row, int max_tiles) {
  per_row = std::max(1, per_row);
  std::ostringstream s;
  s << "digraph mapping {\n"
    << "  graph [rankdir=TB, nodesep=0.25, ranksep=0.35, fontname=\"Helvetica\", labelloc=t,\n"
    << "         label=\"" << m.layers.size() << " weight layers on " << m.total_cores
    << " cores of " << m.crossbar_rows << "x" << m.crossbar_cols
    << " crossbars, utilisation " << pct(m.utilisation)
    << " (cell shade: utilisation of that crossbar)\"];\n"
    << "  node [shape=plaintext, fontname=\"Helvetica\", fontsize=9];\n"
    << "  edge [color=\"#888888\", arrowsize=0.6];\n";
  const std::size_t n = m.layers.size();
  for (std::size_t i = 0; i < n; ++i) {
    s << "  l" << i << " [label=" << layer_label(m.layers[i], m, max_tiles) << "];\n";
  }
  // Rows of per_row layers: left to right along the pipeline, rows stacked by invisible edges
  // from each row's first layer to the next row's first layer.
  const std::size_t per = static_cast<std::size_t>(per_row);
  for (std::size_t r = 0; r * per < n; ++r) {
    s << "  subgraph row" << r << " { rank=same;";
    for (std::size_t i = r * per; i < std::min(n, (r + 1) * per); ++i) s << " l" << i << ";";
    s << " }\n";
  }
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const bool wraps = (i + 1) % per == 0;
    s << "  l" << i << " -> l" << i + 1 << (wraps ? " [constraint=false]" : "") << ";\n";
    if (wraps) s << "  l" << i + 1 - per << " -> l" << i + 1 << " [style=invis];\n";
  }
  s << "}\n";
  return s.str();
}

}  // namespace nc::cm
