#pragma once
// Compiling a quantized model with its real integer weights (docs/cm.md and docs/quant.md,
// "Integer export"): the weights of an integer model file (compress/int_model.h, written by
// `neurocore quantize`) put into a graph imported from the same model.
#include <string>

#include "neurocore/cm/graph.h"
#include "neurocore/compress/int_model.h"

namespace nc::cm {

/// Folds g's BatchNorms (the quantized model's are folded into its convolutions), then sets
/// the weight of every Conv2d/Linear node named like a layer of `m` to the layer's dequantized
/// codes, weight = scale · (code − zero_point) (exactly the fake-quant model's weights), and
/// its bias to the layer's bias, and its input_quant to the layer's activation quantizer, so
/// every evaluator of the graph (reference, LibTorch, functional simulation) computes the
/// fake-quant model. The functional simulator's DAC, when enabled, quantizes the already
/// quantized MVM inputs again (dynamic range, dac_bits). Returns the
/// number of layers set. Throws UserError naming `origin`, the layer, the value seen and the
/// value expected when a layer has no node, a node's kind or weight shape differs, or a
/// Conv2d/Linear node of g has no layer in `m`.
int apply_int_model(Graph& g, const compress::IntModel& m, const std::string& origin);

}  // namespace nc::cm
