#include "quantize_stage.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>

#include "neurocore/compress/efqat.h"
#include "neurocore/compress/quant_net.h"
#include "neurocore/core/io.h"
#include "neurocore/core/progress.h"

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

// The weights the chip is programmed with: each layer's latent weight through its weight
// quantizer. Activation quantization is left to the functional simulator's DAC model.
int64_t bake_weights(compress::QuantNetImpl& q) {
  torch::NoGradGuard no_grad;
  q.eval();
  int64_t bits = 0;
  for (auto& layer : q.layers()) {
    auto& w = layer.weight();
    w.copy_(layer.weight_q->forward(w));
    bits += w.numel() * layer.weight_q->spec().bits;
    if (layer.bias().defined()) bits += layer.bias().numel() * 32;
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
    const int64_t batches_per_epoch = (train_x.size(0) + o.batch_size - 1) / o.batch_size;
    Progress progress(s.method + " " + s.bits, o.epochs * batches_per_epoch, "batch");
    const auto st = compress::train_quantized(
        *q, train_x, exp.train_set.labels, o,
        [&](int64_t, double loss) { progress.advance(1, fmt::format("loss {:.4f}", loss)); });
    progress.finish();
    r["steps"] = st.steps;
    r["backward_mac_fraction"] =
        st.full_backward_macs ? static_cast<double>(st.backward_macs) / static_cast<double>(st.full_backward_macs) : 1.0;
    if (o.efqat) r["mode"] = s.mode, r["fraction"] = s.fraction;
  }
  r["test_accuracy"] = accuracy(*q, test_x, exp.test_set.labels);
  write_atomic_with((std::filesystem::path(out) / "quantized.pt").string(),
                    [&](const std::string& tmp) { torch::save(q, tmp); });
  r["model_bits"] = bake_weights(*q);
  return r;
}

void load_quantized(learn::Experiment& exp, const QuantizeSettings& s, const std::string& stage_dir) {
  compress::QuantNet q(exp.model, quant_config(s));
  torch::load(q, (std::filesystem::path(stage_dir) / "quantized.pt").string());
  // The file holds the scales and zero points; the flags that calibration sets are not
  // module state, so they are set here (only the weight quantizers are used by the bake).
  for (auto& layer : q->layers()) {
    layer.weight_q->calibrated = true;
    layer.weight_q->enabled = true;
  }
  bake_weights(*q);
}

}  // namespace nc::pipeline
