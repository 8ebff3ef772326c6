#pragma once
// The mapping as a picture (docs/cm.md, "Mapping"; issue #5 item 9): Graphviz DOT source that
// `dot -Tsvg` renders, used by `neurocore compile` for report.md.
#include <string>

#include "neurocore/cm/mapping.h"

namespace nc::cm {

/// One box per mapped layer, in pipeline (core) order, `per_row` boxes to a row. A box is the
/// layer's grid of crossbar tiles: one table row per row block (per group and row block when
/// the groups of a grouped conv are tiled separately), one cell per column block, each cell
/// naming its core, the matrix rows and columns it holds, and its crossbar utilisation
/// (cells / (rows x cols of the crossbar)), shaded from white (0 %) to dark blue (100 %).
/// Partial-sum accumulating tiles of row-split layers are marked "acc". A layer with more than
/// `max_tiles` tiles shows the first ones and a count of the rest. Throws nothing.
std::string mapping_dot(const Mapping& m, int per_row = 6, int max_tiles = 48);

}  // namespace nc::cm
