// Alignment-length synchronous decoding (Saon, Tüske, Audhkhasi, ICASSP 2020; asr.md §6
// option): every hypothesis of step i sits on the lattice node (t, u) with t + u = i, so equal
// prefixes of one step are the same node and merge exactly.
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "log_math.h"
#include "searches.h"

namespace nc::asr::detail {

std::vector<Hypothesis> alsd_search(Transducer& model, const torch::Tensor& encoded, const BeamOptions& o) {
  const int64_t T = encoded.size(0);
  if (T == 0) return {Hypothesis{}};
  const int64_t u_max = o.max_length > 0 ? o.max_length : T * o.max_sym_per_frame;
  PrefixCache cache(model, o.blank);
  std::vector<Hypothesis> beams{Hypothesis{}};
  std::map<std::vector<int64_t>, double> finished;  // blank emitted at the last frame
  auto add = [](std::map<std::vector<int64_t>, double>& m, std::vector<int64_t> y, double s) {
    auto [it, fresh] = m.emplace(std::move(y), s);
    if (!fresh) it->second = log_add(it->second, s);
  };
  for (int64_t i = 0; i < T + u_max && !beams.empty(); ++i) {
    std::map<std::vector<int64_t>, double> next;
    for (const Hypothesis& h : beams) {
      const auto u = static_cast<int64_t>(h.symbols.size());
      const int64_t t = i - u;
      const auto lp = cache.log_probs(encoded[t], h.symbols);
      const double* l = lp.data_ptr<double>();
      add(t == T - 1 ? finished : next, h.symbols, h.log_prob + l[o.blank]);
      if (u >= u_max) continue;
      for (int64_t k : top_symbols(l, lp.size(0), o.blank, o.beam)) {
        auto child = h.symbols;
        child.push_back(k);
        add(next, std::move(child), h.log_prob + l[k]);
      }
    }
    std::vector<Hypothesis> all;
    for (auto& [y, s] : next) all.push_back(Hypothesis{y, s});
    const auto keep = std::min<std::size_t>(o.beam, all.size());
    std::partial_sort(all.begin(), all.begin() + keep, all.end(),
                      [](const Hypothesis& a, const Hypothesis& b) { return a.log_prob > b.log_prob; });
    all.resize(keep);
    beams = std::move(all);
  }
  std::vector<Hypothesis> out;
  for (auto& [y, s] : finished) out.push_back(Hypothesis{y, s});
  return out;
}

}  // namespace nc::asr::detail
