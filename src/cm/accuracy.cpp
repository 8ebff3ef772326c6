// Accuracy of a compiled network on labelled images, LibTorch and functional simulation side by
// side (see the header).
#include "neurocore/cm/accuracy.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "neurocore/cm/torch_eval.h"
#include "neurocore/core/error.h"
#include "neurocore/core/progress.h"

namespace nc::cm {

namespace {

double percent(int64_t hits, int64_t n) {
  return n > 0 ? 100.0 * static_cast<double>(hits) / static_cast<double>(n) : 0.0;
}

// Predicted classes of images [b, e) by LibTorch on the compiled graph, 256 at a time.
torch::Tensor torch_predictions(const Graph& g, const torch::Tensor& inputs, int64_t b, int64_t e) {
  std::vector<torch::Tensor> out;
  for (int64_t i = b; i < e; i += 256) {
    out.push_back(evaluate_with_torch(g, inputs.slice(0, i, std::min(e, i + 256)))[0].argmax(1));
  }
  return torch::cat(out);
}

}  // namespace

nlohmann::json AccuracyReport::to_json() const {
  nlohmann::json j{{"images", images}, {"compiled_accuracy", compiled_accuracy}};
  if (sim_images > 0) {
    j["accelerator_images"] = sim_images;
    j["accelerator_accuracy"] = accelerator_accuracy;
    j["float_accuracy_same_images"] = float_accuracy_same_images;
    j["agreement"] = agreement;
    j["non_idealities"] = non_idealities;
    j["mvms"] = mvms;
    j["simulation_seconds"] = sim_seconds;
  }
  return j;
}

AccuracyReport evaluate_accuracy(const Graph& g, const Mapping& m, const PolyModel& poly,
                                 const Hardware& hw, const torch::Tensor& inputs,
                                 const torch::Tensor& labels, const AccuracyOptions& o) {
  const auto graph_inputs = g.inputs();
  if (graph_inputs.size() != 1) {
    throw UserError(fmt::format("accuracy: the graph has {} inputs; exactly one is supported",
                                graph_inputs.size()));
  }
  const Shape& want = g.value(graph_inputs[0]).shape;
  if (inputs.dim() < 1 || inputs.sizes().slice(1).vec() != want) {
    throw UserError(fmt::format("accuracy: the model's input is {} per image, the data's images "
                                "are {}", shape_str(want),
                                shape_str(inputs.dim() < 1 ? Shape{} : inputs.sizes().slice(1).vec())));
  }
  if (inputs.size(0) != labels.size(0) || inputs.size(0) == 0) {
    throw UserError(fmt::format("accuracy: {} images and {} labels (need the same, at least one)",
                                inputs.size(0), labels.size(0)));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor x = inputs.to(torch::kFloat).contiguous();
  AccuracyReport r;
  r.images = o.limit > 0 ? std::min(o.limit, x.size(0)) : x.size(0);
  const torch::Tensor pred = torch_predictions(g, x, 0, r.images);
  const torch::Tensor truth = labels.slice(0, 0, r.images).to(torch::kLong);
  r.compiled_accuracy = percent(pred.eq(truth).sum().item<int64_t>(), r.images);

  r.sim_images = std::min(o.sim_images, r.images);
  if (r.sim_images <= 0) return r;
  FunctionalOptions fo;
  fo.analog = o.analog;
  FunctionalSimulator sim(g, m, poly, hw, fo);
  const int64_t per = x[0].numel();
  const float* data = x.data_ptr<float>();
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress(o.progress ? "functional simulation" : "", o.progress ? r.sim_images : 0, "image");
  int64_t hits = 0, agree = 0, float_hits = 0;
  constexpr int64_t kChunk = 10;
  for (int64_t b = 0; b < r.sim_images; b += kChunk) {
    const int64_t e = std::min(r.sim_images, b + kChunk);
    std::vector<std::vector<float>> images;
    for (int64_t i = b; i < e; ++i) images.emplace_back(data + i * per, data + (i + 1) * per);
    const auto outputs = sim.run(images);
    r.mvms += sim.mvms();
    for (int64_t i = b; i < e; ++i) {
      const auto& out = outputs[static_cast<std::size_t>(i - b)];
      const int64_t best = std::max_element(out.begin(), out.end()) - out.begin();
      const int64_t want_label = truth[i].item<int64_t>();
      const int64_t float_best = pred[i].item<int64_t>();
      hits += best == want_label;
      agree += best == float_best;
      float_hits += float_best == want_label;
    }
    progress.advance(e - b);
  }
  progress.finish();
  r.sim_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.accelerator_accuracy = percent(hits, r.sim_images);
  r.float_accuracy_same_images = percent(float_hits, r.sim_images);
  r.agreement = percent(agree, r.sim_images);
  const AnalogOptions& a = o.analog;
  r.non_idealities = fmt::format(
      "DAC {} / ADC {} bits{}, programming noise {}, read noise {} (relative to w_max), seed {}",
      hw.dac_bits, hw.adc_bits, a.quantize ? "" : " (off)", a.programming_noise, a.read_noise,
      a.seed);
  return r;
}

}  // namespace nc::cm
