#pragma once
// The fake-quant model as TorchScript (docs/quant.md, "TorchScript"; issue #7 item 6): a
// torch::jit module built in C++ (buffers + TorchScript source generated from the model's
// structure), loadable by torch.jit.load in Python or torch::jit::load in C++.
#include <string>

#include "neurocore/compress/quant_net.h"

namespace nc::compress {

/// Writes `q` (calibrated) as a TorchScript module whose forward(x) computes q's forward in eval
/// mode with quantization on: each layer's input through its quantizer,
///   x̂ = (round(clamp(x/s + z, Qn, Qp)) − z)·s,
/// then the conv/linear with the fake-quantized weight (a buffer holding scale·(code − zero
/// point)) and the (folded) bias, and the model's own activations, pooling and shortcuts.
/// Buffers: w<i>, b<i> (weight and bias of layer i), s<i>, z<i> (its input quantizer's scale and
/// zero point, 0-dim). Throws UserError when a quantizer is not calibrated.
void save_torchscript(QuantNetImpl& q, const std::string& path);

}  // namespace nc::compress
