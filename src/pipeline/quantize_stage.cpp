// The pipeline's quantize stage: compress::quantize_experiment with the config's settings.
#include "quantize_stage.h"

#include "neurocore/compress/quantize_stage.h"

namespace nc::pipeline {

nlohmann::json quantize_model(learn::Experiment& exp, const QuantizeSettings& s, const std::string& out) {
  compress::QuantizeOptions o;
  o.method = s.method;
  o.config.bits = compress::parse_bits(s.bits, "quantize.bits");
  o.calib = s.calib;
  o.qat.epochs = s.epochs;
  o.qat.batch_size = exp.train.batch_size;
  o.qat.learning_rate = exp.train.learning_rate / 10;  // fine-tuning from the trained weights
  o.qat.momentum = exp.train.momentum;
  o.qat.seed = exp.seed;
  o.qat.efqat_options.mode = compress::parse_select_mode(s.mode, "quantize.mode");
  o.qat.efqat_options.rho = s.fraction;
  const compress::QuantizeResult q = compress::quantize_experiment(exp, o);
  nlohmann::json r{{"method", s.method}, {"bits", s.bits}, {"calibration_images", q.calibration_images},
                   {"ptq_accuracy", q.ptq.accuracy}};
  if (q.fine_tuned) {
    r["steps"] = q.stats.steps;
    r["backward_mac_fraction"] = q.stats.full_backward_macs ? static_cast<double>(q.stats.backward_macs) /
                                                                  static_cast<double>(q.stats.full_backward_macs)
                                                            : 1.0;
    if (s.method == "efqat") r["mode"] = s.mode, r["fraction"] = s.fraction;
  }
  r["test_accuracy"] = q.final.accuracy;
  // The integer model is what the compile stage maps (its weights are the fake-quant model's).
  compress::save_quantized(q, out);
  r["model_bits"] = q.model_bits;
  return r;
}

}  // namespace nc::pipeline
