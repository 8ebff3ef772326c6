// Accuracy of a compiled network on labelled images, LibTorch and functional simulation side by
// side (see the header).
#include "neurocore/cm/torch/accuracy.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/core/error.h"
#include "neurocore/core/progress.h"

namespace nc::cm {

namespace {

double percent(int64_t hits, int64_t n) {
  return n > 0 ? 100.0 * static_cast<double>(hits) / static_cast<double>(n) : 0.0;
}

// Predicted classes of images [b, e) by LibTorch on the compiled graph, 256 at a time. A
// temporal graph's class is the argmax of its outputs summed over the T steps (snu.md §6).
torch::Tensor torch_predictions(const Graph& g, const torch::Tensor& inputs, int64_t b, int64_t e) {
  const int64_t batch_dim = g.temporal() ? 1 : 0;
  std::vector<torch::Tensor> out;
  for (int64_t i = b; i < e; i += 256) {
    torch::Tensor y = evaluate_with_torch(g, inputs.slice(batch_dim, i, std::min(e, i + 256)))[0];
    if (g.temporal()) y = y.sum(0);
    out.push_back(y.argmax(1));
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
  const int64_t lead = g.temporal() ? 2 : 1;  // [T, N, ...] or [N, ...]
  const Shape got = inputs.dim() < lead ? Shape{} : inputs.sizes().slice(lead).vec();
  if (got != want) {
    throw UserError(fmt::format("accuracy: the model's input is {} per image, the data's images "
                                "are {}", shape_str(want), shape_str(got)));
  }
  if (g.temporal() && inputs.size(0) != g.time_steps()) {
    throw UserError(fmt::format("accuracy: the graph runs {} time steps, the inputs have {}",
                                g.time_steps(), inputs.size(0)));
  }
  const int64_t count = inputs.size(lead - 1);
  if (count != labels.size(0) || count == 0) {
    throw UserError(fmt::format("accuracy: {} images and {} labels (need the same, at least one)",
                                count, labels.size(0)));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor x = inputs.to(torch::kFloat).contiguous();
  AccuracyReport r;
  r.images = o.limit > 0 ? std::min(o.limit, count) : count;
  const torch::Tensor pred = torch_predictions(g, x, 0, r.images);
  const torch::Tensor truth = labels.slice(0, 0, r.images).to(torch::kLong);
  r.compiled_accuracy = percent(pred.eq(truth).sum().item<int64_t>(), r.images);

  r.sim_images = std::min(o.sim_images, r.images);
  if (r.sim_images <= 0) return r;
  FunctionalOptions fo;
  fo.analog = o.analog;
  FunctionalSimulator sim(g, m, poly, hw, fo);
  const int64_t per = numel(want), steps = g.frames_per_sample();
  const float* data = x.data_ptr<float>();
  const auto t0 = std::chrono::steady_clock::now();
  int64_t hits = 0, agree = 0, float_hits = 0;
  // Simulates images [from, to) in chunks of 10, with a progress line.
  auto simulate_range = [&](int64_t from, int64_t to) {
    Progress progress(o.progress ? "functional simulation" : "", o.progress ? to - from : 0, "image");
    constexpr int64_t kChunk = 10;
    for (int64_t b = from; b < to; b += kChunk) {
      const int64_t e = std::min(to, b + kChunk);
      std::vector<std::vector<float>> frames;  // image i's step t is x[t][i]
      for (int64_t i = b; i < e; ++i) {
        for (int64_t t = 0; t < steps; ++t) {
          const float* f = data + (t * count + i) * per;
          frames.emplace_back(f, f + per);
        }
      }
      const auto outputs = sim.run(frames);
      r.mvms += sim.mvms();
      for (int64_t i = b; i < e; ++i) {
        std::vector<float> out = outputs[static_cast<std::size_t>((i - b) * steps)];
        for (int64_t t = 1; t < steps; ++t) {
          const auto& f = outputs[static_cast<std::size_t>((i - b) * steps + t)];
          for (std::size_t k = 0; k < out.size(); ++k) out[k] += f[k];
        }
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
  };
  simulate_range(0, r.sim_images);
  // Every image when the rate measured so far says they all fit the time budget.
  if (o.full_if_under_s > 0 && r.sim_images < r.images) {
    const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double estimate = spent / static_cast<double>(r.sim_images) * static_cast<double>(r.images);
    if (estimate <= o.full_if_under_s) {
      simulate_range(r.sim_images, r.images);
      r.sim_images = r.images;
    }
  }
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

AccuracyReport evaluate_accuracy(const Compiled& c, const torch::Tensor& inputs, const torch::Tensor& labels,
                                 const AccuracyOptions& options) {
  return evaluate_accuracy(c.graph(), c.mapping(), c.poly(), c.hardware(), inputs, labels, options);
}

}  // namespace nc::cm
