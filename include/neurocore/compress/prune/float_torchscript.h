#pragma once
// A float model (a shrunk one included) as TorchScript: a torch::jit module with the weights as
// buffers and a forward generated from the model's structure, loadable by torch.jit.load in
// Python or torch::jit::load in C++ (docs/prune.md).
#include <string>

#include "neurocore/nn/net.h"

namespace nc::compress::prune {

/// Writes `model` (mlp, lenet5 or resnet*, evaluated in eval mode: BN with its running statistics) to
/// `path` atomically; its forward(x [B, C, H, W]) computes model.forward(x).
/// `fold_batch_norm`: every BatchNorm is folded into the convolution before it (weights scaled
/// by gamma / sqrt(var + eps) per output channel, bias beta - mean gamma / sqrt(var + eps)), so
/// the file runs one op less per conv (docs/prune.md, "The run directory"); the model itself is
/// not changed. Throws UserError for other models.
void save_float_torchscript(nn::NetImpl& model, const std::string& path, bool fold_batch_norm = true);

}  // namespace nc::compress::prune
