#pragma once
// The pipeline's quantize stage (docs/pipeline.md): PTQ, EfQAT or QAT of the trained model
// through nc::compress, written as an integer model that the compile stage maps.
#include <nlohmann/json.hpp>

#include <string>

#include "neurocore/learn/experiment.h"
#include "settings.h"

namespace nc::pipeline {

/// Quantizes exp.model as `s` says, writes `out`/quantized.pt (the fake-quant model's state)
/// and `out`/quantized.ncq (the integer model, compress/int_model.h, which the compile stage
/// maps) and returns the summary (accuracy of the quantized model, bits of the weights).
/// exp.model is changed (BatchNorms folded, latent weights fine-tuned).
nlohmann::json quantize_model(learn::Experiment& exp, const QuantizeSettings& s,
                              const std::string& out);

}  // namespace nc::pipeline
