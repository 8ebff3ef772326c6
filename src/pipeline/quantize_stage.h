#pragma once
// The pipeline's quantize stage (docs/pipeline.md): PTQ, EfQAT or QAT of the trained model
// through nc::compress, then the quantized weights baked into the model that is compiled.
#include <nlohmann/json.hpp>

#include <string>

#include "neurocore/learn/experiment.h"
#include "settings.h"

namespace nc::pipeline {

/// Quantizes exp.model as `s` says, writes `out`/quantized.pt (the fake-quant model) and
/// returns the summary (accuracy of the quantized model, bits of the weights). Afterwards
/// exp.model holds the quantized weights (BatchNorms folded), which the compiler maps.
nlohmann::json quantize_model(learn::Experiment& exp, const QuantizeSettings& s,
                              const std::string& out);

/// Puts the quantized weights of a finished quantize stage (`stage_dir`/quantized.pt) into
/// exp.model, as quantize_model leaves them.
void load_quantized(learn::Experiment& exp, const QuantizeSettings& s, const std::string& stage_dir);

}  // namespace nc::pipeline
