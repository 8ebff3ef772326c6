#pragma once
// Per-core control programs generated from the isl relations with isl's AST generation
// (docs/cm.md, "Control programs"; spec cm-compiler.md §5 "Generated control logic"; issue item 6).
//
// Every core runs, for each streamed image n, the iterations of the nodes placed on it
// (node_cores: a layer's cores for a Conv2d / Linear, the core of the last layer for digital
// ops, the GCU for the input). Per iteration i (one output pixel, all channels) a node:
//   1. waits, for each input object, until the writer has completed (n, D'(i)) (D' = the
//      prefix-maximum dependence lexmax(LE2 ; D) of poly.h). Reader iterations outside dom D'
//      read only padding and do not wait. Waiting on D' is the reader-side form of the spec's
//      M-keyed max_iter rule: D'(i2) <= i1 <=> i2 <= M(i1), by M's definition;
//   2. waits, for each output object, n >= 1, until the reader has completed (n - 1, Gw(i))
//      (the WAR gate);
//   3. computes: an MVM on its tile (a split layer: partial sums sent to / summed on the
//      accumulating core), or its digital-unit op;
//   4. sends the pixel to each reader object (and to the GCU for a graph output).
// Each step is a statement of the isl schedule; the wait arguments come from the relations'
// graphs (wrap(D'), wrap(Gw)), so isl's AST generator writes them as (quasi-)affine
// expressions of the loop iterators, splitting the loops where the relation is piecewise.
//
// Nodes of one core with the same iteration domain whose dependences inside the core are
// backward or same-pixel (D'(i) <= i) are fused into one loop nest (the spec's stage: conv,
// then its activation and residual add in the same iteration); any other node of the core gets
// its own loop nest after the previous ones. Both orders execute a topological order within an
// image, so no core waits on itself.
#include <isl/cpp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/cm/compiled.h"
#include "neurocore/cm/graph.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/poly.h"

namespace nc::cm {

/// One statement instance, as the interpreter of a program's AST yields it.
struct ControlStep {
  enum Kind { kWait, kWarWait, kCompute, kSend, kOutput };
  Kind kind = kCompute;
  int index = -1;  // kWait, kWarWait, kSend: the PolyModel edge; kCompute, kOutput: the node
  // kWait: (h, w) of the reader iteration, then (a, b) = D'(h, w);
  // kWarWait: (h, w) of the writer iteration, then (a, b) = Gw(h, w);
  // kCompute, kSend, kOutput: (h, w).
  std::vector<int64_t> args;
  bool operator==(const ControlStep& o) const {
    return kind == o.kind && index == o.index && args == o.args;
  }
};

struct CoreProgram {
  int64_t core = -1;            // -1 = the GCU
  std::vector<NodeId> nodes;    // nodes it executes (a split layer appears on each of its cores)
  isl::ast_node ast;            // one image; lives in the PolyModel's isl context
  std::string code;             // readable C-like text: a header, then the image loop around ast

  /// Walks the AST (for, if, block, user; every expression isl generates) and returns the
  /// statement instances of one image in execution order.
  std::vector<ControlStep> run() const;
};

/// One program per core that executes something, the GCU first, then by core id. The
/// programs hold isl objects of `poly`'s context: do not let them outlive `poly`.
/// Throws UserError when the mapping does not belong to the graph.
std::vector<CoreProgram> generate_control(const Graph& g, const Mapping& m, const PolyModel& poly);
/// The same for a compiled model.
std::vector<CoreProgram> generate_control(const Compiled& c);

/// File name of a core's program: "gcu.c" or "core_<id>.c".
std::string control_file_name(const CoreProgram& p);

}  // namespace nc::cm
