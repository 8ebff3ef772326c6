// Graves's beam search (Graves 2012, Algorithm 1; asr.md §6 option), written as best-first
// expansion within each frame.
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "log_math.h"
#include "searches.h"

namespace nc::asr::detail {

namespace {

// A hypothesis of the current frame not yet expanded: its unexpanded probability mass and the
// symbols this frame has added to it (for the per-frame cap; the smaller when paths merge).
struct Open {
  double log_prob;
  int64_t depth;
};

}  // namespace

std::vector<Hypothesis> graves_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o) {
  PrefixCache cache(model, o.blank);
  std::map<std::vector<int64_t>, double> beams{{{}, 0.0}};
  for (int64_t t = 0; t < encoded.size(0); ++t) {
    const torch::Tensor f = encoded[t];
    std::map<std::vector<int64_t>, Open> open;
    for (const auto& [y, s] : beams) open.emplace(y, Open{s, 0});
    std::map<std::vector<int64_t>, double> done;  // blank emitted at frame t
    while (!open.empty()) {
      auto best = std::max_element(open.begin(), open.end(), [](const auto& a, const auto& b) {
        return a.second.log_prob < b.second.log_prob;
      });
      // Graves's stopping rule: `beam` finished hypotheses beat every unexpanded one.
      int64_t better = 0;
      for (const auto& d : done) better += d.second > best->second.log_prob;
      if (better >= o.beam) break;
      const std::vector<int64_t> y = best->first;
      const Open h = best->second;
      open.erase(best);
      // Mass that reaches y again later this frame (its parent expanded once more) re-enters
      // `open` as a new entry: every path is pushed through exactly once.
      const auto lp = cache.log_probs(f, y);
      const double* l = lp.data_ptr<double>();
      auto [it, fresh] = done.emplace(y, h.log_prob + l[o.blank]);
      if (!fresh) it->second = log_add(it->second, h.log_prob + l[o.blank]);
      if (h.depth >= o.max_sym_per_frame) continue;
      for (int64_t k : top_symbols(l, lp.size(0), o.blank, o.beam)) {
        auto child = y;
        child.push_back(k);
        auto [c, added] = open.emplace(std::move(child), Open{h.log_prob + l[k], h.depth + 1});
        if (!added) {
          c->second.log_prob = log_add(c->second.log_prob, h.log_prob + l[k]);
          c->second.depth = std::min(c->second.depth, h.depth + 1);
        }
      }
    }
    std::vector<std::pair<std::vector<int64_t>, double>> all(done.begin(), done.end());
    const auto keep = std::min<std::size_t>(o.beam, all.size());
    std::partial_sort(all.begin(), all.begin() + keep, all.end(),
                      [](const auto& a, const auto& b) { return a.second > b.second; });
    all.resize(keep);
    beams = std::map<std::vector<int64_t>, double>(all.begin(), all.end());
  }
  std::vector<Hypothesis> out;
  for (auto& [y, s] : beams) out.push_back(Hypothesis{y, s});
  return out;
}

}  // namespace nc::asr::detail
