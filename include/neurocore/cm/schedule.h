#pragma once
// Per-edge schedule tables (docs/cm.md, "Timing simulation"; spec cm-compiler.md §5, §7): the
// isl relations of one PolyModel edge turned into the compact tables that the timing
// simulator and a core's control unit run on.
//   RAW: reader iteration (n, i2) starts only after writer iteration (n, need[i2]) arrived,
//        need[] derived from M exactly as the runtime's max_iter (spec §5): the writer's
//        completion of i1 enables the reader up to M(i1); its last iteration enables the rest;
//        iterations before lexmin(dom D') read only padding (need = -1);
//   WAR: writer iteration (n, i1), n >= 1, starts only after the reader finished
//        (n - 1, Gw(i1)) (single buffer, spec §7 defect 2);
//   buffer: pixel i1 may be freed once the reader finished free_after[i1] (lexmax of W ; A).
#include <cstdint>
#include <vector>

#include "neurocore/cm/graph.h"
#include "neurocore/cm/poly.h"

namespace nc::cm {

/// The compact per-edge tables the simulator (and a control unit) runs on. Iterations are
/// linear indices of the row-major iteration domains (h * W_out + w).
struct EdgeSchedule {
  int64_t writer_iterations = 0, reader_iterations = 0;
  int64_t first_dependent = 0;       // lexmin(dom D'): earlier reader iterations read padding only
  std::vector<int64_t> enable;       // M(i1), -1 where undefined                    [writer]
  std::vector<int64_t> need;         // the writer iteration reader i2 waits for, -1: none  [reader]
  std::vector<int64_t> war_gate;     // Gw(i1), -1 where undefined                   [writer]
  std::vector<int64_t> free_after;   // last reader iteration reading pixel i1, -1: never read [writer]
};

/// Tables of one edge from its isl relations (M, Gw, W ; A).
EdgeSchedule edge_schedule(const Graph& g, const EdgeDependence& e);

}  // namespace nc::cm
