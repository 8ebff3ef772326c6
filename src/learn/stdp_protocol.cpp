// The ST-STDP protocol (stdp_protocol.h). Torch-free.
#include "neurocore/learn/stdp_protocol.h"

#include <algorithm>
#include <cmath>

#include "neurocore/core/error.h"

namespace nc::learn {

namespace {

double mean_top_count(StdpNetwork& net, const std::vector<const float*>& images, double v_th,
                      std::mt19937_64 rng) {
  net.neurons().set_v_th(v_th);
  const auto& o = net.options();
  double total = 0;
  std::vector<int64_t> counts(static_cast<size_t>(net.size()));
  for (const float* image : images) {
    net.reset();
    std::fill(counts.begin(), counts.end(), 0);
    const auto in = poisson_input(image, net.inputs(), o.rate_max, o.present_ms,
                                  net.neurons().options().dt, rng);
    for (const auto& s : net.run(in, o.present_ms, Plasticity{})) ++counts[static_cast<size_t>(s.index)];
    total += static_cast<double>(*std::max_element(counts.begin(), counts.end()));
  }
  return total / static_cast<double>(images.size());
}

}  // namespace

double calibrate_threshold(StdpNetwork& net, const std::vector<const float*>& images,
                           std::mt19937_64& rng) {
  if (net.conductance()) {
    throw InternalError("calibrate_threshold: conductance neurons have a fixed threshold (model.conductance.v_th)");
  }
  const double target = net.options().target_spikes;
  const std::mt19937_64 stream = rng;  // the same input spikes for every candidate V_th
  rng.discard(1);
  double lo = 1e-3, hi = 1e4;
  for (int it = 0; it < 30; ++it) {
    const double mid = std::sqrt(lo * hi);  // geometric: the range spans seven decades
    (mean_top_count(net, images, mid, stream) > target ? lo : hi) = mid;
  }
  net.neurons().set_v_th(hi);
  net.reset();
  return hi;
}

int64_t train_image(StdpNetwork& net, const float* image, std::mt19937_64& rng) {
  const auto& o = net.options();
  const double dt = net.neurons().options().dt;
  const Plasticity learning{true, o.f_in_training, true};
  double rate = o.rate_max;
  int64_t spikes = 0;
  for (int64_t shown = 0; shown < o.max_presentations; ++shown) {
    const auto in = poisson_input(image, net.inputs(), rate, o.present_ms, dt, rng);
    spikes = static_cast<int64_t>(net.run(in, o.present_ms, learning).size());
    if (o.rest_ms > 0) net.run({}, o.rest_ms, learning);
    if (spikes >= o.min_spikes) break;
    rate += o.rate_boost;
  }
  net.normalise();
  return spikes;
}

std::vector<int> assign_labels(StdpNetwork& net, const std::vector<const float*>& images,
                               const std::vector<int64_t>& labels, int64_t classes,
                               std::mt19937_64& rng) {
  const auto& o = net.options();
  const auto n = static_cast<size_t>(net.size()), c = static_cast<size_t>(classes);
  std::vector<double> response(n * c, 0.0);
  std::vector<int64_t> per_class(c, 0);
  for (size_t e = 0; e < images.size(); ++e) {
    net.reset();
    const auto in = poisson_input(images[e], net.inputs(), o.rate_max, o.present_ms,
                                  net.neurons().options().dt, rng);
    const auto y = static_cast<size_t>(labels[e]);
    ++per_class[y];
    for (const auto& s : net.run(in, o.present_ms, Plasticity{})) response[static_cast<size_t>(s.index) * c + y] += 1;
  }
  std::vector<int> out(n, -1);
  for (size_t j = 0; j < n; ++j) {
    double best = 0;
    for (size_t k = 0; k < c; ++k) {
      if (per_class[k] == 0) continue;
      const double mean = response[j * c + k] / static_cast<double>(per_class[k]);
      if (mean > best) {
        best = mean;
        out[j] = static_cast<int>(k);
      }
    }
  }
  net.reset();
  return out;
}

int64_t predict(const std::vector<int64_t>& counts, const std::vector<int>& labels,
                int64_t classes) {
  std::vector<double> sum(static_cast<size_t>(classes), 0.0), members(sum.size(), 0.0);
  for (size_t j = 0; j < labels.size(); ++j) {
    if (labels[j] < 0) continue;
    sum[static_cast<size_t>(labels[j])] += static_cast<double>(counts[j]);
    members[static_cast<size_t>(labels[j])] += 1;
  }
  int64_t best = -1;
  double best_score = 0;
  for (size_t k = 0; k < sum.size(); ++k) {
    if (members[k] == 0) continue;
    const double score = sum[k] / members[k];
    if (score > best_score) {
      best_score = score;
      best = static_cast<int64_t>(k);
    }
  }
  return best;
}

std::vector<int64_t> classify_video(StdpNetwork& net, const float* frames, int64_t k,
                                    const std::vector<int>& labels, int64_t classes,
                                    bool short_term, std::mt19937_64& rng) {
  const auto& o = net.options();
  net.reset();
  std::vector<int64_t> out, counts(static_cast<size_t>(net.size()));
  for (int64_t f = 0; f < k; ++f) {
    const auto in = poisson_input(frames + f * net.inputs(), net.inputs(), o.rate_max, o.frame_ms,
                                  net.neurons().options().dt, rng);
    std::fill(counts.begin(), counts.end(), 0);
    for (const auto& s : net.run(in, o.frame_ms, Plasticity{false, short_term, false})) {
      ++counts[static_cast<size_t>(s.index)];
    }
    out.push_back(predict(counts, labels, classes));
  }
  return out;
}

}  // namespace nc::learn
