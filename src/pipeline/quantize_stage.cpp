#include "quantize_stage.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>

#include "neurocore/compress/efqat.h"
#include "neurocore/compress/int_export.h"
#include "neurocore/compress/quant_net.h"
#include "neurocore/core/io.h"

namespace nc::pipeline {

namespace {

using json = nlohmann::json;

compress::QuantConfig quant_config(const QuantizeSettings& s) {
  compress::QuantConfig qc;
  qc.bits = compress::parse_bits(s.bits, "quantize.bits");
  return qc;
}

torch::Tensor normalised(const learn::Experiment& exp, const torch::Tensor& images) {
  return (images - exp.norm.mean) / exp.norm.std;
}

double accuracy(nn::NetImpl& net, const torch::Tensor& x, const torch::Tensor& y) {
  torch::NoGradGuard no_grad;
  net.eval();
  int64_t correct = 0;
  for (int64_t i = 0; i < x.size(0); i += 1000) {
    const int64_t e = std::min(x.size(0), i + 1000);
    correct += net.forward(x.slice(0, i, e)).argmax(1).eq(y.slice(0, i, e)).sum().item<int64_t>();
  }
  return 100.0 * static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, x.size(0)));
}

// The size of the weights the chip is programmed with: each code at its bit-width, biases as
// 32-bit floats (scales and zero points not counted).
int64_t model_bits(const compress::IntModel& m) {
  int64_t bits = 0;
  for (const auto& l : m.layers) {
    bits += static_cast<int64_t>(l.weight.codes.size()) * l.weight.bits;
    bits += static_cast<int64_t>(l.bias.size()) * 32;
  }
  return bits;
}

}  // namespace

json quantize_model(learn::Experiment& exp, const QuantizeSettings& s, const std::string& out) {
  compress::QuantNet q(exp.model, quant_config(s));
  const auto train_x = normalised(exp, exp.train_set.images);
  const auto test_x = normalised(exp, exp.test_set.images);
  const int64_t calib = std::min(s.calib, train_x.size(0));
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < calib; i += 256) batches.push_back(train_x.slice(0, i, std::min(calib, i + 256)));
  q->calibrate(batches, /*bias_correction=*/false);
  json r{{"method", s.method}, {"bits", s.bits}, {"calibration_images", calib},
         {"ptq_accuracy", accuracy(*q, test_x, exp.test_set.labels)}};
  if (s.method != "ptq") {
    compress::QatOptions o;
    o.epochs = s.epochs;
    o.batch_size = exp.train.batch_size;
    o.learning_rate = exp.train.learning_rate / 10;  // fine-tuning from the trained weights
    o.momentum = exp.train.momentum;
    o.seed = exp.seed;
    o.efqat = s.method == "efqat";
    o.efqat_options.mode = compress::parse_select_mode(s.mode, "quantize.mode");
    o.efqat_options.rho = s.fraction;
    // train_quantized shows its own progress line per epoch.
    const auto st = compress::train_quantized(*q, train_x, exp.train_set.labels, o);
    r["steps"] = st.steps;
    r["backward_mac_fraction"] =
        st.full_backward_macs ? static_cast<double>(st.backward_macs) / static_cast<double>(st.full_backward_macs) : 1.0;
    if (o.efqat) r["mode"] = s.mode, r["fraction"] = s.fraction;
  }
  r["test_accuracy"] = accuracy(*q, test_x, exp.test_set.labels);
  write_atomic_with((std::filesystem::path(out) / "quantized.pt").string(),
                    [&](const std::string& tmp) { torch::save(q, tmp); });
  // The integer model is what the compile stage maps (its weights are the fake-quant model's).
  const compress::IntModel int_model = compress::export_int_model(*q, exp.model_name);
  compress::save_int_model((std::filesystem::path(out) / compress::kIntModelFile).string(), int_model);
  r["model_bits"] = model_bits(int_model);
  return r;
}

}  // namespace nc::pipeline
