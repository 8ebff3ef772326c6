// Greedy and modified beam search over a Transducer (asr.md §6), and the dispatch to the
// other beam searches (searches.h).
#include "neurocore/asr/decode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "log_math.h"
#include "searches.h"
#include "neurocore/core/error.h"

namespace nc::asr {

using detail::log_add;

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

namespace detail {

const PredictorOutput& PrefixCache::at(const std::vector<int64_t>& prefix) {
  auto it = cache_.find(prefix);
  if (it != cache_.end()) return it->second;
  const PredictorOutput& parent = at(std::vector<int64_t>(prefix.begin(), prefix.end() - 1));
  return cache_.emplace(prefix, model_.predict(prefix.back(), &parent)).first->second;
}

torch::Tensor PrefixCache::log_probs(const torch::Tensor& f_t, const std::vector<int64_t>& prefix) {
  return torch::log_softmax(model_.joint(f_t, at(prefix).out).to(torch::kDouble), -1).contiguous();
}

std::vector<int64_t> top_symbols(const double* l, int64_t V, int64_t blank, int64_t n) {
  std::vector<int64_t> ks;
  for (int64_t k = 0; k < V; ++k)
    if (k != blank) ks.push_back(k);
  n = std::min<int64_t>(n, ks.size());
  std::partial_sort(ks.begin(), ks.begin() + n, ks.end(),
                    [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  ks.resize(n);
  return ks;
}

std::vector<Hypothesis> modified_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o) {
  PrefixCache cache(model, o.blank);
  std::vector<Hypothesis> beams{Hypothesis{}};
  for (int64_t t = 0; t < encoded.size(0); ++t) {
    const torch::Tensor f = encoded[t];
    std::map<std::vector<int64_t>, double> cand;
    auto add = [&](std::vector<int64_t> prefix, double s) {
      auto it = cand.find(prefix);
      if (it == cand.end()) cand.emplace(std::move(prefix), s);
      else it->second = log_add(it->second, s);
    };
    for (const Hypothesis& h : beams) {
      const auto lp = cache.log_probs(f, h.symbols);
      const double* l = lp.data_ptr<double>();
      add(h.symbols, h.log_prob + l[o.blank]);
      for (int64_t k : top_symbols(l, lp.size(0), o.blank, o.beam)) {
        auto next = h.symbols;
        next.push_back(k);
        add(std::move(next), h.log_prob + l[k]);
      }
    }
    std::vector<Hypothesis> all;
    for (auto& [prefix, s] : cand) all.push_back(Hypothesis{prefix, s});
    const int64_t keep = std::min<int64_t>(o.beam, all.size());
    std::partial_sort(all.begin(), all.begin() + keep, all.end(),
                      [](const Hypothesis& a, const Hypothesis& b) { return a.log_prob > b.log_prob; });
    all.resize(keep);
    beams = std::move(all);
  }
  return beams;
}

}  // namespace detail

BeamMethod parse_beam_method(const std::string& s, const std::string& field) {
  if (s == "modified") return BeamMethod::modified;
  if (s == "graves") return BeamMethod::graves;
  if (s == "alsd") return BeamMethod::alsd;
  throw UserError(field + ": expected modified, graves or alsd, got '" + s + "'");
}

std::string to_string(BeamMethod m) {
  return m == BeamMethod::modified ? "modified" : m == BeamMethod::graves ? "graves" : "alsd";
}

std::vector<Hypothesis> beam_search_nbest(Transducer& model, const torch::Tensor& encoded,
                                          const BeamOptions& o) {
  if (o.beam < 1) throw UserError("beam search: beam = " + std::to_string(o.beam) + ", expected >= 1");
  if (o.max_sym_per_frame < 1)
    throw UserError("beam search: max_sym_per_frame = " + std::to_string(o.max_sym_per_frame) + ", expected >= 1");
  if (o.max_length < 0)
    throw UserError("beam search: max_length = " + std::to_string(o.max_length) + ", expected >= 0 (0: T)");
  torch::NoGradGuard no_grad;
  auto hyps = o.method == BeamMethod::modified ? detail::modified_search(model, encoded, o)
              : o.method == BeamMethod::graves ? detail::graves_search(model, encoded, o)
                                               : detail::alsd_search(model, encoded, o);
  auto key = [&](const Hypothesis& h) {
    return o.length_norm ? h.log_prob / std::max<size_t>(1, h.symbols.size()) : h.log_prob;
  };
  // Stable: among equal keys the search's own order (and so the old tie-breaking) stays.
  std::stable_sort(hyps.begin(), hyps.end(), [&](const Hypothesis& a, const Hypothesis& b) { return key(a) > key(b); });
  return hyps;
}

std::vector<int64_t> beam_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& options) {
  auto hyps = beam_search_nbest(model, encoded, options);
  return hyps.empty() ? std::vector<int64_t>{} : std::move(hyps.front().symbols);
}

std::vector<int64_t> decode(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o) {
  return o.beam == 0 ? greedy_decode(model, encoded, o.blank, o.max_sym_per_frame) : beam_search(model, encoded, o);
}

std::string describe(const BeamOptions& o) {
  if (o.beam == 0) return "greedy";
  return (o.method == BeamMethod::modified ? "" : to_string(o.method) + " ") + "beam " + std::to_string(o.beam) +
         (o.length_norm ? ", length-normalised" : "");
}

}  // namespace nc::asr
