#pragma once
// A QuantNet as an integer model and back (docs/quant.md, "Integer export"; the file format
// is int_model.h).
#include <string>

#include "neurocore/compress/int_model.h"
#include "neurocore/compress/quant_net.h"

namespace nc::compress {

/// The integer form of a calibrated QuantNet: per layer, the codes of its latent weight under
/// its weight quantizer (clamp(round(w/s) + z, Qn, Qp)), that quantizer's scales and zero
/// points, the (folded) float bias, and the input quantizer's parameters. Checks that
/// scale·(code − zero_point) equals the fake-quantized weight bit for bit (InternalError if
/// not). Throws UserError when a quantizer is not calibrated.
IntModel export_int_model(QuantNetImpl& q, const std::string& model_name);

/// Writes serialize_int_model(m) to `path` atomically.
void save_int_model(const std::string& path, const IntModel& m);

/// Loads `m` into `q`, a QuantNet of the same model (same kind and layer shapes; its weights
/// and quantizer settings do not matter): every latent weight becomes its dequantized codes,
/// biases, quantizer grids, scales and zero points are set, and quantization is switched on,
/// so q's forward equals the exported QuantNet's forward. Throws UserError naming `origin`,
/// the layer, the value seen and the value expected when the layers differ in number, name,
/// kind, shape or bias.
void load_int_model(QuantNetImpl& q, const IntModel& m, const std::string& origin);

}  // namespace nc::compress
