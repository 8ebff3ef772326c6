#pragma once
// ONNX importer (docs/cm.md, "ONNX import"; issue item 2). Reads an ONNX model with the
// protobuf definitions of Debian's libonnx-dev (no LibTorch) into a cm::Graph.
//
// Opsets 9 to 17 of the default domain. Supported:
//   Conv (stride, pads, dilations, group, auto_pad), Gemm (transA = 0; alpha, beta, transB),
//   MatMul with a constant [in, out] matrix, BatchNormalization (folded into the preceding
//   Conv/Gemm), Relu, LeakyRelu, Sigmoid, Tanh, Clip, Identity, Dropout (inference: identity),
//   Add and Sum of tensors, Concat of tensors, MaxPool, AveragePool (a window covering the
//   whole unpadded input becomes GlobalAvgPool), GlobalAveragePool, Flatten (axis 1),
//   Squeeze / Reshape that flatten [1, C, H, W] to [1, F] (or keep the shape), Pad
//   (constant mode, channel and spatial pads), Slice (channels / height / width, steps).
//   Shape arithmetic is evaluated at import: Constant, Shape, Gather, Unsqueeze, Concat,
//   Cast, Squeeze on constant int tensors, which covers PyTorch's
//   Shape -> Gather -> Unsqueeze -> Concat -> Reshape flatten idiom.
// The batch dimension is dropped (the IR is batch 1; Shape reports batch 1).
//
// Repair [recon]: PyTorch 1.3 exported the option-A ResNet shortcut `pad(x[:, :, ::2, ::2])`
// without its strided slice (the file of IBM's cmnnc, resnet20-cifar.onnx, adds a [2C, H, W]
// Pad output to a [2C, H/2, W/2] tensor). An Add whose input produced by a channel Pad has
// exactly k times the other input's height and width gets a Slice with step k inserted (named
// "<pad>.subsample") and a note in OnnxImport::notes. Any other shape mismatch is a UserError.
#include <map>
#include <string>
#include <vector>

#include "neurocore/cm/graph.h"

namespace nc::cm {

struct OnnxImport {
  Graph graph;                          // BatchNorms folded
  int64_t opset = 0;                    // of the default domain
  std::map<std::string, int> op_counts; // ONNX op type -> nodes in the file
  std::vector<std::string> notes;       // repairs made
};

/// Imports an ONNX file. Throws UserError when the file cannot be read or parsed, when the
/// opset is outside 9..17, when an attribute or shape is not supported (naming the node), and,
/// after scanning the whole graph, when some ops are unsupported: one message listing every
/// such node ("unsupported ONNX ops: LSTM (node 'lstm1'), Resize (node 'up')").
OnnxImport import_onnx(const std::string& path);
/// The same from the bytes of a serialized ModelProto; `origin` names it in messages.
OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& origin = "model.onnx");

}  // namespace nc::cm
