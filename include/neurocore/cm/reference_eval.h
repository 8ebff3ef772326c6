#pragma once
// A plain reference evaluator of a cm::Graph (docs/cm.md, "Functional simulation"): direct
// loops over whole tensors in PyTorch's semantics, double accumulation, no mapping and no
// schedule. It is the oracle of the functional simulator's tests (which must equal it), and
// is itself checked against LibTorch by the LibTorch-side tests.
#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

/// Evaluates `g` (weights filled, BatchNorms folded or not) on one image. `input` holds the
/// graph inputs' values concatenated in g.inputs() order, each row-major ([C, H, W]: index
/// (c H + h) W + w). Returns the graph outputs concatenated in g.outputs() order.
/// A temporal graph's sample is its T frames one after the other (the input T times as
/// long), evaluated from the zero state; the result is the T frames' outputs, in order.
/// Throws UserError when the input size or a node's parameters do not fit.
std::vector<float> evaluate(const Graph& g, const std::vector<float>& input);

/// Every value of `g` (indexed by ValueId) for one image (of a temporal graph: after its
/// last frame).
std::vector<std::vector<float>> evaluate_all(const Graph& g, const std::vector<float>& input);

}  // namespace nc::cm
