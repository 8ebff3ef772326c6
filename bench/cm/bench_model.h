#pragma once
// The compiler benchmarks' MODEL argument, loaded by cm::load_graph: a zoo name ("resnet56":
// random weights from seed 1) or an ONNX file; BatchNorms folded.
#include <string>

#include "neurocore/cm/graph.h"
#include "neurocore/cm/model_source.h"

namespace nc::cm {

inline Graph bench_graph(const std::string& model) {
  Graph g = load_graph(ModelSource(model)).graph;
  g.fold_batch_norms();
  return g;
}

}  // namespace nc::cm
