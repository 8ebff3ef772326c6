#pragma once
// A float model (a shrunk one included) as TorchScript: a torch::jit module with the weights as
// buffers and a forward generated from the model's structure, loadable by torch.jit.load in
// Python or torch::jit::load in C++ (docs/prune.md).
#include <string>

#include "neurocore/nn/net.h"

namespace nc::compress::prune {

/// Writes `model` (mlp, lenet5 or resnet*, evaluated in eval mode: BN with its running statistics) to
/// `path` atomically; its forward(x [B, C, H, W]) computes model.forward(x).
/// Throws UserError for other models.
void save_float_torchscript(nn::NetImpl& model, const std::string& path);

}  // namespace nc::compress::prune
