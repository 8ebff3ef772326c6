#pragma once
// Evaluation of a cm::Graph with LibTorch ops: the reference the compiler's importers and
// functional simulation are checked against (the graph's semantics, docs/cm.md "Graph IR",
// written once with LibTorch's own kernels).
#include <torch/types.h>

#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

/// Runs `g` on a batch: `input` is [B, ...shape of the graph's single input]. Returns one
/// tensor per graph output ([B, ...]), in the order of g.outputs(); a graph with no marked
/// output returns the last node's value. Computes in input's dtype (float or double).
/// A temporal graph takes [T, B, ...] (T = g.time_steps(), from the zero state) and returns
/// [T, B, ...] per output.
/// Throws UserError when the graph has no weights for a layer, more than one input, or the
/// input's shape differs from the graph's.
std::vector<torch::Tensor> evaluate_with_torch(const Graph& g, const torch::Tensor& input);

}  // namespace nc::cm
