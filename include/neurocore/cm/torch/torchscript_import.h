#pragma once
// Import of a TorchScript file (torch.jit.script / torch.jit.trace, saved with .save) into the
// CM compiler's graph IR (docs/cm.md, "TorchScript import"; issue #5 item 2). Lives in
// nc_cm_torch, the LibTorch side of the compiler.
//
// The module is loaded (torch::jit::load), put in eval mode and frozen (torch::jit::freeze:
// parameters become constants, methods are inlined, dropout is removed, and PyTorch folds
// BatchNorms into the convolutions before them). The frozen graph's aten ops are then walked in
// order:
//   conv2d, _convolution (not transposed)            -> Conv2d
//   linear, addmm (beta = alpha = 1), matmul/mm with a constant matrix, then add of a
//   constant bias                                     -> Linear
//   batch_norm (eval)                                 -> BatchNorm (folded later)
//   relu, relu6, hardtanh, clamp, leaky_relu, sigmoid, tanh (and their in-place forms)
//                                                     -> activations
//   add (alpha = 1) of two tensors                    -> Add;  cat -> Concat
//   max_pool2d, avg_pool2d (no divisor_override)      -> MaxPool, AvgPool
//   adaptive_avg_pool2d, mean over H and W            -> GlobalAvgPool (or AvgPool when the
//                                                        output size divides the input)
//   flatten, view, reshape to [batch, features]       -> Flatten (to the same shape: nothing)
//   dropout, contiguous, detach                       -> nothing
// plus the scalar plumbing (prim::Constant, ListConstruct, aten::size, NumToTensor, Int).
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

struct TorchScriptImport {
  Graph graph;                     // the output (or each tuple element) is marked
  std::vector<std::string> notes;  // what the import did beyond a one-to-one op mapping
};

/// Imports the forward method of the TorchScript file at `path` for one sample of shape
/// `input_shape` ([C, H, W] or [F]; TorchScript does not record it). Throws UserError when the
/// file cannot be read as TorchScript (naming it), when forward does not take exactly one
/// tensor, and, listing every one with its op and output value, for unsupported ops or
/// arguments (training-mode batch norm, transposed convolution, a non-constant weight, ...).
TorchScriptImport import_torchscript(const std::string& path, const Shape& input_shape);

}  // namespace nc::cm
