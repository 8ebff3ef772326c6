// Greedy and modified beam search over a Transducer (asr.md §6).
#include "neurocore/asr/decode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "log_math.h"
#include "neurocore/core/error.h"

namespace nc::asr {

GreedyResult greedy_decode_scored(Transducer& model, const torch::Tensor& encoded, int64_t blank,
                                  int64_t max_sym_per_frame) {
  torch::NoGradGuard no_grad;
  GreedyResult r;
  PredictorOutput p = model.predict(blank, nullptr);
  for (int64_t t = 0; t < encoded.size(0); ++t) {
    const torch::Tensor f = encoded[t];
    int64_t s = 0;
    for (; s < max_sym_per_frame; ++s) {
      const auto lp = torch::log_softmax(model.joint(f, p.out).to(torch::kDouble), -1);
      const int64_t k = lp.argmax().item<int64_t>();
      r.log_prob += lp[k].item<double>();
      if (k == blank) break;
      r.symbols.push_back(k);
      p = model.predict(k, &p);
    }
    if (s == max_sym_per_frame) ++r.capped_frames;
  }
  return r;
}

std::vector<int64_t> greedy_decode(Transducer& model, const torch::Tensor& encoded, int64_t blank,
                                   int64_t max_sym_per_frame) {
  return greedy_decode_scored(model, encoded, blank, max_sym_per_frame).symbols;
}

namespace {

using detail::log_add;

struct Hyp {
  std::vector<int64_t> prefix;
  double score = 0.0;
};

}  // namespace

std::vector<int64_t> beam_search(Transducer& model, const torch::Tensor& encoded,
                                 const BeamOptions& options) {
  if (options.beam < 1)
    throw UserError("beam search: beam = " + std::to_string(options.beam) + ", expected >= 1");
  torch::NoGradGuard no_grad;
  // Prediction outputs by prefix: every hypothesis's prefix has one (computed when it was born).
  std::map<std::vector<int64_t>, PredictorOutput> cache;
  cache.emplace(std::vector<int64_t>{}, model.predict(options.blank, nullptr));
  std::vector<Hyp> beams{Hyp{}};
  for (int64_t t = 0; t < encoded.size(0); ++t) {
    const torch::Tensor f = encoded[t];
    std::map<std::vector<int64_t>, double> cand;
    auto add = [&](std::vector<int64_t> prefix, double s) {
      auto it = cand.find(prefix);
      if (it == cand.end()) cand.emplace(std::move(prefix), s);
      else it->second = log_add(it->second, s);
    };
    for (const Hyp& h : beams) {
      const auto lp = torch::log_softmax(model.joint(f, cache.at(h.prefix).out).to(torch::kDouble), -1);
      const double* l = lp.data_ptr<double>();
      const int64_t V = lp.size(0);
      add(h.prefix, h.score + l[options.blank]);
      std::vector<int64_t> ks;
      for (int64_t k = 0; k < V; ++k)
        if (k != options.blank) ks.push_back(k);
      const int64_t n = std::min<int64_t>(options.beam, ks.size());
      std::partial_sort(ks.begin(), ks.begin() + n, ks.end(),
                        [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
      for (int64_t i = 0; i < n; ++i) {
        auto next = h.prefix;
        next.push_back(ks[i]);
        add(std::move(next), h.score + l[ks[i]]);
      }
    }
    std::vector<Hyp> all;
    for (auto& [prefix, s] : cand) all.push_back(Hyp{prefix, s});
    const int64_t keep = std::min<int64_t>(options.beam, all.size());
    std::partial_sort(all.begin(), all.begin() + keep, all.end(),
                      [](const Hyp& a, const Hyp& b) { return a.score > b.score; });
    all.resize(keep);
    for (const Hyp& h : all)
      if (!cache.count(h.prefix)) {
        auto parent = std::vector<int64_t>(h.prefix.begin(), h.prefix.end() - 1);
        cache.emplace(h.prefix, model.predict(h.prefix.back(), &cache.at(parent)));
      }
    beams = std::move(all);
  }
  auto key = [&](const Hyp& h) {
    return options.length_norm ? h.score / std::max<size_t>(1, h.prefix.size()) : h.score;
  };
  return std::max_element(beams.begin(), beams.end(),
                          [&](const Hyp& a, const Hyp& b) { return key(a) < key(b); })
      ->prefix;
}

}  // namespace nc::asr
