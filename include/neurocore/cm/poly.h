#pragma once
// Polyhedral dependency analysis with isl (docs/cm.md, "Dependency analysis"; spec
// cm-compiler.md §4-§5).
//
// Every node computes one output pixel (all channels) per iteration of its domain
//   S_n = { S_n[h, w] : 0 <= h < H_out, 0 <= w < W_out }   ([F]-shaped outputs: the single S_n[0, 0]).
// Every edge (writer node -> reader node, through input k of the reader) is one object
// O_<writer>_<reader>_<k>: the reader's local copy of that input, in the reader's padded
// layout [C, H + p_top + p_bottom, W + p_left + p_right] (padding locations are never
// written and are pre-zeroed). A value read by k nodes is k objects (spec §3, fan-out).
//
//   W : S1 -> O   writer iteration -> the locations it writes (all channels of its pixel,
//                 shifted by the reader's padding)
//   R : S2 -> O   reader iteration -> the locations it reads: the exact window
//                 { (c, s_h oh + d_h i, s_w ow + d_w j) : 0 <= i < kh, 0 <= j < kw } for conv and
//                 pooling (stride, padding and dilation exact), the same pixel for element-wise
//                 ops, everything for global pooling / Flatten / Linear, shifted or strided
//                 pixels for Pad, Slice and spatial Concat.
//
// From W and R (spec §5, equations (1)-(6)):
//   D   = R ; W^-1                          S2 -> S1   reader iteration needs writer iteration
//   D'  = lexmax(LE2 ; D)                   S2 -> S1   prefix maximum (in-order execution)
//   M   = lexmax { i1 -> i2 : D'(i2) <= i1 }     S1 -> S2   writer finished i1 => reader may run up to M(i1)
//   L   = lexmax((D' ; W)^-1)               O -> S2    the reference's location-keyed form
//   A   = lexmax(R^-1)                      O -> S2    last reader iteration reading o
//   Gw  = lexmax(LE1 ; W ; A)               S1 -> S2   WAR gate: writer (n, i1), n >= 1, may run
//                                                      only when the reader completed (n-1, Gw(i1))
// where <= is the lexicographic order, LE2 = { i2 -> j2 : j2 <= i2 } (i2 over the whole reader
// domain, j2 over dom D, so reader iterations that read only padding are covered too), and
// LE1 = { i1 -> j1 : j1 <= i1 } on S1.
//
// Streaming (runtime, spec §5): iteration vectors get an outermost image counter n; the
// reader runs (n, i2) iff (n, i2) <= max_iter[obj] for each input object, where the writer's
// completion of (n, i1) raises max_iter[obj] to (n, M(i1)); and the writer runs (n, i1),
// n >= 1, only when the reader completed (n-1, Gw(i1)). Keying on writer iterations (M, not
// L) makes progress independent of the order of the channels a writer emits (defect 1).
//
// Nodes with several inputs (Add, Concat) have one object, hence one Dependence, per input;
// the reader waits for all of them.
#include <isl/cpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

/// Owns an isl context. Every isl object made in it must be destroyed first: keep the
/// PolyContext alive longer than the relations (declare it first).
class PolyContext {
 public:
  PolyContext();
  ~PolyContext();
  PolyContext(const PolyContext&) = delete;
  PolyContext& operator=(const PolyContext&) = delete;
  isl::ctx ctx() const { return ctx_; }

 private:
  isl_ctx* ctx_;
};

/// The relations (1)-(6) of one writer -> reader object.
struct Dependence {
  isl::set writer_domain;  // S1
  isl::set reader_domain;  // S2
  isl::map write;          // W  : S1 -> O
  isl::map read;           // R  : S2 -> O
  isl::map need;           // D  : S2 -> S1
  isl::map need_prefix;    // D' : S2 -> S1
  isl::map enable;         // M  : S1 -> S2  (DEFAULT control key)
  isl::map enable_by_location;  // L : O -> S2 (the reference's key, OPTION)
  isl::map last_read;      // A  : O -> S2
  isl::map war_gate;       // Gw : S1 -> S2
};

/// Computes D, D', M, L, A and Gw from W, R and the two iteration domains (equations (1)-(6)).
/// W must write each location at most once. Throws UserError when W writes a location twice
/// or when W or R leaves its domain.
Dependence analyze(const isl::map& write, const isl::map& read, const isl::set& writer_domain,
                   const isl::set& reader_domain);

/// One edge of a graph with its relations.
struct EdgeDependence {
  NodeId writer = -1, reader = -1;
  int input = 0;         // which input of the reader
  std::string object;    // the isl tuple name of the object, "O_<writer>_<reader>_<input>"
  Shape object_shape;    // padded layout
  Dependence dep;
};

/// Dependency analysis of a whole graph: the iteration domain of every node and the
/// relations of every edge.
class PolyModel {
 public:
  /// Builds every domain and edge relation of `g` (which must outlive nothing: the model
  /// copies what it needs). Throws UserError for an op the model cannot express.
  explicit PolyModel(const Graph& g);

  isl::ctx ctx() const { return context_->ctx(); }
  /// S_n: the isl tuple is named "S<n>" (node names may hold characters isl rejects).
  const isl::set& domain(NodeId n) const { return domains_.at(static_cast<std::size_t>(n)); }
  const std::vector<EdgeDependence>& edges() const { return edges_; }
  /// The edge from `writer` into input `input` of `reader`. Throws UserError when absent.
  const EdgeDependence& edge(NodeId writer, NodeId reader, int input = 0) const;
  /// Text of every edge's relations, for reports and golden files.
  std::string to_string() const;

 private:
  std::unique_ptr<PolyContext> context_;  // first: destroyed last
  std::vector<isl::set> domains_;
  std::vector<EdgeDependence> edges_;
};

/// The access relations of one edge (exposed for tests and the control-program generator).
/// `object` names the object tuple; `object_shape` receives the padded layout.
isl::map write_relation(isl::ctx ctx, const Graph& g, NodeId writer, NodeId reader, int input,
                        const std::string& object, Shape* object_shape = nullptr);
isl::map read_relation(isl::ctx ctx, const Graph& g, NodeId reader, int input,
                       const std::string& object);
isl::set iteration_domain(isl::ctx ctx, const Graph& g, NodeId n);

/// A relation's points as (input tuple, output tuple) pairs, sorted lexicographically.
/// For tests and small relations only: the enumeration is explicit.
std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> points(const isl::map& m);
/// A set's points, sorted lexicographically.
std::vector<std::vector<int64_t>> points(const isl::set& s);
/// isl's text form.
std::string to_str(const isl::map& m);
std::string to_str(const isl::set& s);

}  // namespace nc::cm
