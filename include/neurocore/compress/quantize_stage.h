#pragma once
// One quantization stage (docs/quant.md), shared by `neurocore quantize` and the pipeline's
// quantize stage: PTQ calibration of a trained model, then, for EfQAT and QAT, fine-tuning of
// the quantized model, with the test accuracy after each step and the integer model.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "neurocore/compress/efqat.h"
#include "neurocore/compress/int_model.h"
#include "neurocore/compress/quant_net.h"
#include "neurocore/learn/data_parallel.h"
#include "neurocore/learn/experiment.h"

namespace nc::compress {

/// Accuracy (%) and mean cross-entropy of `net` (eval mode, no gradients) on images [N, ...]
/// (normalised as the model expects) and labels [N], in chunks of 1,000.
struct NetScore {
  double accuracy = 0, loss = 0;
};
NetScore score(nn::NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels);

struct QuantizeOptions {
  std::string method = "efqat";  // ptq | efqat | qat
  QuantConfig config;            // bits, first/last layer bits, range methods
  int64_t calib = 1024;          // calibration images, the first of the training split
  bool bias_correction = false;
  QatOptions qat;                // efqat / qat: the fine-tuning (efqat follows method)
  /// Data-parallel fine-tuning (docs/distributed.md): given the quantized network's
  /// parameters, this rank's runtime; empty for one process.
  std::function<std::unique_ptr<learn::DataParallel>(std::vector<torch::Tensor>)> parallel;
};

struct QuantizeResult {
  QuantNet net{nullptr};
  int64_t calibration_images = 0;
  NetScore fp32, ptq, final;     // test split: before, after calibration, at the end
  std::optional<NetScore> valid; // the validation split at the end, when exp has one
                                 // (data.validation: what a sweep selects settings on)
  bool fine_tuned = false;       // efqat / qat ran
  QatStats stats;
  IntModel int_model;            // export_int_model of the final net
  int64_t model_bits = 0;        // weight codes at their bit-widths + 32-bit biases
};

/// Quantizes exp.model (changed in place: BatchNorms folded, latent weights fine-tuned) on
/// exp's splits normalised by exp.norm. Throws UserError for a temporal model or an unknown
/// method.
QuantizeResult quantize_experiment(learn::Experiment& exp, const QuantizeOptions& options);

/// quantized.pt (the fake-quant state) and quantized.ncq (the integer model) into `dir`.
void save_quantized(const QuantizeResult& r, const std::string& dir);

}  // namespace nc::compress
