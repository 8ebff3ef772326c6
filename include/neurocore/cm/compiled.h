#pragma once
// A model compiled for a CM accelerator (docs/cm.md, "The compile flow as a library"): the
// graph, the hardware it was mapped for, the mapping and the isl dependency model, checked
// against each other once, here. Everything after compilation takes a Compiled: the timing
// and functional simulators, control generation, accuracy evaluation, the core graph for
// placement, the fabric and compile reports. One cm::compile builds it from one ModelSource.
//
// (The passes' parts-level functions, taking Graph, Mapping, PolyModel and Hardware one by
// one, stay for the unit tests of a single pass; flows use Compiled.)
#include <memory>
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/model_source.h"
#include "neurocore/cm/poly.h"

namespace nc::cm {

struct CompileOptions {
  bool check_capacity = true;       // a mapping needing more than hw.cores cores is a UserError
  bool dependency_analysis = true;  // build the isl model now (false: on first use of poly())
};

/// Wall time of each compile phase, for reports.
struct CompileTimes {
  double import_s = 0, map_s = 0;
};

class Compiled {
 public:
  /// Takes a graph with its hardware and mapping. Throws UserError when the mapping is not of
  /// this graph (a mapped layer is not the graph's Conv2d/Linear node of that index and name,
  /// or a Conv2d/Linear node of the graph is not mapped) or not for this hardware (crossbar
  /// size). The isl model is built on the first call of poly() (thread-safe), which throws
  /// PolyModel's errors.
  Compiled(Graph graph, Hardware hw, Mapping mapping);
  ~Compiled();
  Compiled(Compiled&&) noexcept;
  Compiled& operator=(Compiled&&) noexcept;

  const Graph& graph() const;
  const Hardware& hardware() const;
  const Mapping& mapping() const;
  const PolyModel& poly() const;
  /// Wall time the isl model took to build (0 before the first poly()).
  double poly_seconds() const;

  // Provenance, for reports (set by compile; empty for a Compiled built from parts).
  SourceKind kind = SourceKind::kAuto;
  std::string source;              // the ModelSource's path
  int64_t opset = 0;
  std::vector<std::string> notes;  // the importer's
  InputPreparation input;
  std::string data_name;
  int folded_batch_norms = 0;      // folded after import
  CompileTimes times;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// load_graph(source), BatchNorms folded (before the integer weights, which belong to the
/// folded layers), mapped onto `hw`, dependency model built. Throws what load_graph,
/// map_graph and Compiled throw.
Compiled compile(const ModelSource& source, const Hardware& hw, const CompileOptions& options = {});

/// The same from a graph already in memory (e.g. imported from a model being trained).
/// `int_model`: an integer model file whose weights replace the graph's ("" for none).
Compiled compile_graph(Graph graph, const Hardware& hw, const std::string& int_model = "",
                       const CompileOptions& options = {});

}  // namespace nc::cm
