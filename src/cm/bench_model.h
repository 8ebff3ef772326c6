#pragma once
// The compiler benchmarks' MODEL argument: "resnetN" (the model zoo's CIFAR ResNet-N with
// random weights from seed 1) or the path of an ONNX file; batch norms folded.
#include <cstdlib>
#include <string>

#include "neurocore/cm/graph.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/onnx_import.h"

namespace nc::cm {

inline Graph bench_graph(const std::string& model) {
  Graph g;
  if (model.rfind("resnet", 0) == 0) {
    g = resnet_cifar(std::atoll(model.c_str() + 6));
    fill_random(g, 1);
  } else {
    g = import_onnx(model).graph;
  }
  g.fold_batch_norms();
  return g;
}

}  // namespace nc::cm
