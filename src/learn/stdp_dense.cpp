// The dense, time-stepped reference of the ST-STDP network (stdp.h): every step, every input,
// every synapse; only the loops differ from run() (j outer, i inner, F always read), the
// arithmetic and its order per neuron are the same, so the spikes must be equal bit for bit.
#include <algorithm>

#include "neurocore/learn/stdp.h"

namespace nc::learn {

SpikeTrain StdpNetwork::run_dense(const SpikeTrain& input, int64_t steps, const Plasticity& p) {
  if (cond_) return run_clocked(input, steps, p);  // already visits every step
  check_input(input, steps);
  const int64_t t0 = now_, n = size();
  std::vector<uint8_t> s(static_cast<size_t>(inputs_));
  SpikeTrain out, arriving;
  std::vector<int32_t> spikes;
  const std::vector<int32_t> none;
  size_t next = 0;
  for (int64_t t = t0; t < t0 + steps; ++t) {
    std::fill(s.begin(), s.end(), 0);
    arriving.clear();
    for (; next < input.size() && t0 + input[next].step == t; ++next) {
      s[static_cast<size_t>(input[next].index)] = 1;
      arriving.push_back(input[next]);
    }
    inputs_arrive(t, arriving.data(), arriving.data() + arriving.size());
    for (int64_t j = 0; j < n; ++j) {
      double v = neurons_.potential(j, t);
      for (int64_t i = 0; i < inputs_; ++i) {
        if (!s[static_cast<size_t>(i)]) continue;
        const auto k = static_cast<size_t>(i * n + j);
        v += std::clamp(w_[k] + f_[k] * df_(t - tf_[k]), 0.0, o_.w_max);
        ++events_;
      }
      v_[static_cast<size_t>(j)] = v;
    }
    const bool inhibit = previous_t_ == t - 1 && !previous_.empty();
    spikes.clear();
    neurons_.fire(t, v_, inhibit ? previous_ : none, p.adapt, !arriving.empty() || inhibit, spikes);
    post_updates(t, spikes, 0, p);
    if (p.f && o_.gamma_minus > 0) pre_depression(t, arriving.data(), arriving.data() + arriving.size());
    finish_step(t, spikes, out, t0);
  }
  now_ = t0 + steps;
  return out;
}

}  // namespace nc::learn
