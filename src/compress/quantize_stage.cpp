// One quantization stage (see the header).
#include "neurocore/compress/quantize_stage.h"

#include <torch/torch.h>

#include <filesystem>

#include "neurocore/compress/int_export.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::compress {

NetScore score(nn::NetImpl& net, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  net.eval();
  NetScore r;
  const int64_t n = images.size(0);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; i += 1000) {
    const int64_t end = std::min(n, i + 1000);
    const auto out = net.forward(images.slice(0, i, end));
    const auto y = labels.slice(0, i, end);
    r.loss += torch::cross_entropy_loss(out, y).item<double>() * static_cast<double>(end - i);
    correct += out.argmax(1).eq(y).sum().item<int64_t>();
  }
  r.loss /= static_cast<double>(std::max<int64_t>(1, n));
  r.accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, n));
  return r;
}

namespace {

// The size of the weights the chip is programmed with: each code at its bit-width, biases as
// 32-bit floats (scales and zero points not counted).
int64_t bits_of(const IntModel& m) {
  int64_t bits = 0;
  for (const auto& l : m.layers) {
    bits += static_cast<int64_t>(l.weight.codes.size()) * l.weight.bits;
    bits += static_cast<int64_t>(l.bias.size()) * 32;
  }
  return bits;
}

}  // namespace

QuantizeResult quantize_experiment(learn::Experiment& exp, const QuantizeOptions& o) {
  if (o.method != "ptq" && o.method != "efqat" && o.method != "qat") {
    throw UserError("quantize: method: expected ptq, efqat or qat, got '" + o.method + "'");
  }
  if (exp.model->temporal()) {
    throw UserError("quantize: " + exp.model_name +
                    " is a temporal (spiking) model; quantize supports mlp, lenet5 and resnet*");
  }
  auto norm = [&](const torch::Tensor& x) { return (x - exp.norm.mean) / exp.norm.std; };
  const auto train_x = norm(exp.train_set.images), test_x = norm(exp.test_set.images);
  const auto &train_y = exp.train_set.labels, &test_y = exp.test_set.labels;
  QuantizeResult r;
  r.fp32 = score(*exp.model, test_x, test_y);
  r.net = QuantNet(exp.model, o.config);
  r.calibration_images = std::min(o.calib, train_x.size(0));
  std::vector<torch::Tensor> batches;
  for (int64_t i = 0; i < r.calibration_images; i += 256) {
    batches.push_back(train_x.slice(0, i, std::min(r.calibration_images, i + 256)));
  }
  r.net->calibrate(batches, o.bias_correction);
  r.ptq = score(*r.net, test_x, test_y);
  r.final = r.ptq;
  if (o.method != "ptq") {
    QatOptions q = o.qat;
    q.efqat = o.method == "efqat";
    auto parallel = o.parallel ? o.parallel(quant_parameters(*r.net)) : nullptr;
    r.stats = train_quantized(*r.net, train_x, train_y, q, {}, parallel.get());  // shows its own progress
    r.final = score(*r.net, test_x, test_y);
    r.fine_tuned = true;
  }
  if (exp.valid_set.size() > 0) r.valid = score(*r.net, norm(exp.valid_set.images), exp.valid_set.labels);
  r.int_model = export_int_model(*r.net, exp.model_name);
  r.model_bits = bits_of(r.int_model);
  return r;
}

void save_quantized(const QuantizeResult& r, const std::string& dir) {
  write_atomic_with((std::filesystem::path(dir) / "quantized.pt").string(),
                    [&](const std::string& tmp) { torch::save(r.net, tmp); });
  save_int_model((std::filesystem::path(dir) / kIntModelFile).string(), r.int_model);
}

}  // namespace nc::compress
