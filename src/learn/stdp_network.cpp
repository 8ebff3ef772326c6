// The event-driven ST-STDP network (stdp.h). Torch-free.
#include <algorithm>
#include <cmath>
#include <limits>

#include "neurocore/core/error.h"
#include "neurocore/learn/stdp.h"

namespace nc::learn {

StdpNetwork::StdpNetwork(const StdpOptions& options, const nn::LifWtaOptions& neurons,
                         int64_t inputs, uint64_t seed)
    : o_(options),
      neurons_(neurons),
      inputs_(inputs),
      dx_(options.tau_x, neurons.dt),
      dy_(options.tau_y, neurons.dt),
      df_(options.tau_f, neurons.dt) {
  o_.validate();
  if (inputs < 1) throw InternalError("StdpNetwork: inputs " + std::to_string(inputs));
  const auto n = static_cast<size_t>(neurons.neurons), m = static_cast<size_t>(inputs);
  w_.resize(m * n);
  std::mt19937_64 rng(seed);
  for (auto& w : w_) w = static_cast<double>(rng() >> 11) * 0x1.0p-53 * o_.w_init;
  f_.assign(m * n, 0.0);
  tf_.assign(m * n, 0);
  x_.assign(m, 0.0);
  tx_.assign(m, 0);
  y_.assign(n, 0.0);
  ty_.assign(n, 0);
  v_.resize(n);
  if (neurons.neuron == nn::NeuronModel::conductance) cond_.emplace(neurons);
  normalise();
}

void StdpNetwork::freeze_adaptation() {
  neurons_.freeze_adaptation(now_);
  if (cond_) cond_->freeze_adaptation(now_);
}

double StdpNetwork::threshold() const {
  return cond_ ? neurons_.options().conductance.v_th : neurons_.v_th();
}

void StdpNetwork::reset() {
  std::fill(f_.begin(), f_.end(), 0.0);
  std::fill(tf_.begin(), tf_.end(), now_);
  std::fill(x_.begin(), x_.end(), 0.0);
  std::fill(tx_.begin(), tx_.end(), now_);
  std::fill(y_.begin(), y_.end(), 0.0);
  std::fill(ty_.begin(), ty_.end(), now_);
  neurons_.reset(now_);
  if (cond_) cond_->reset();
  previous_.clear();
  previous_t_ = -2;
  f_nonzero_ = false;
}

void StdpNetwork::set_short_term(double gamma, double tau_f, double x0) {
  StdpOptions o = o_;
  o.gamma = gamma;
  o.tau_f = tau_f;
  o.x0 = x0;
  o.validate();
  o_ = o;
  df_ = nn::Decay(tau_f, neurons_.options().dt);
  reset();
}

void StdpNetwork::normalise() {
  const int64_t n = size();
  for (int64_t j = 0; j < n; ++j) {
    double sum = 0;
    for (int64_t i = 0; i < inputs_; ++i) sum += w_[static_cast<size_t>(i * n + j)];
    if (sum <= 0) continue;
    const double scale = o_.weight_sum / sum;
    for (int64_t i = 0; i < inputs_; ++i) {
      auto& w = w_[static_cast<size_t>(i * n + j)];
      w = std::min(w * scale, o_.w_max);
    }
  }
}

double StdpNetwork::short_term(int64_t i, int64_t j) const {
  const auto k = static_cast<size_t>(i * size() + j);
  return f_[k] * df_(now_ - tf_[k]);
}

void StdpNetwork::check_input(const SpikeTrain& input, int64_t steps) const {
  for (size_t s = 0; s < input.size(); ++s) {
    const auto& sp = input[s];
    const bool ordered = s == 0 || input[s - 1].step < sp.step ||
                         (input[s - 1].step == sp.step && input[s - 1].index < sp.index);
    if (sp.step < 0 || sp.step >= steps || sp.index < 0 || sp.index >= inputs_ || !ordered) {
      throw InternalError("StdpNetwork::run: input spike " + std::to_string(s) +
                          " out of range or out of order");
    }
  }
}

void StdpNetwork::inputs_arrive(int64_t t, const Spike* b, const Spike* e) {
  for (const Spike* s = b; s != e; ++s) {
    const auto i = static_cast<size_t>(s->index);
    x_[i] = x_[i] * dx_(t - tx_[i]) + 1.0;
    tx_[i] = t;
  }
}

void StdpNetwork::post_updates(int64_t t, const std::vector<int32_t>& spikes, size_t first,
                               const Plasticity& p) {
  const int64_t n = size();
  for (size_t s = first; s < spikes.size(); ++s) {
    const int64_t j = spikes[s];
    if (p.f || p.w) {
      for (int64_t i = 0; i < inputs_; ++i) {
        const auto k = static_cast<size_t>(i * n + j);
        const double xi = x_[static_cast<size_t>(i)] * dx_(t - tx_[static_cast<size_t>(i)]);
        if (p.f) {
          f_[k] = f_[k] * df_(t - tf_[k]) + o_.gamma * (xi - o_.x0);
          tf_[k] = t;
        }
        if (p.w) {
          const double dw = o_.eta * (xi - o_.x_tar) * std::pow(o_.w_max - w_[k], o_.mu);
          w_[k] = std::clamp(w_[k] + dw, 0.0, o_.w_max);
        }
      }
      events_ += static_cast<uint64_t>(inputs_);
      if (p.f) f_nonzero_ = true;
    }
  }
}

void StdpNetwork::pre_depression(int64_t t, const Spike* b, const Spike* e) {
  const int64_t n = size();
  for (const Spike* s = b; s != e; ++s) {
    for (int64_t j = 0; j < n; ++j) {
      const auto k = static_cast<size_t>(s->index * n + j);
      const double yj = y_[static_cast<size_t>(j)] * dy_(t - ty_[static_cast<size_t>(j)]);
      f_[k] = f_[k] * df_(t - tf_[k]) - o_.gamma_minus * yj;
      tf_[k] = t;
    }
    events_ += static_cast<uint64_t>(n);
    f_nonzero_ = true;
  }
}

void StdpNetwork::finish_step(int64_t t, std::vector<int32_t>& spikes, SpikeTrain& out, int64_t t0) {
  for (auto j : spikes) {
    const auto k = static_cast<size_t>(j);
    y_[k] = y_[k] * dy_(t - ty_[k]) + 1.0;
    ty_[k] = t;
    out.push_back({static_cast<int32_t>(t - t0), j});
  }
  previous_.swap(spikes);
  previous_t_ = t;
}

// V_j += Σ_i G_ij S_i(t) in ascending i (v_ holds V, or the step's g_e increments), with F
// before this step's updates; one synaptic event per synapse read.
void StdpNetwork::add_efficacies(int64_t t, const Spike* b, const Spike* e) {
  const int64_t n = size();
  for (const Spike* s = b; s != e; ++s) {
    const size_t row = static_cast<size_t>(s->index) * static_cast<size_t>(n);
    const double* w = w_.data() + row;
    if (f_nonzero_) {
      const double* f = f_.data() + row;
      const int64_t* tf = tf_.data() + row;
      for (int64_t j = 0; j < n; ++j) {
        v_[static_cast<size_t>(j)] += std::clamp(w[j] + f[j] * df_(t - tf[j]), 0.0, o_.w_max);
      }
    } else {
      for (int64_t j = 0; j < n; ++j) v_[static_cast<size_t>(j)] += std::clamp(w[j], 0.0, o_.w_max);
    }
    events_ += static_cast<uint64_t>(n);
  }
}

// Conductance neurons: every step is integrated (nn/conductance_wta.h); the synapses keep the
// event-driven bookkeeping and the order within a step of run().
SpikeTrain StdpNetwork::run_clocked(const SpikeTrain& input, int64_t steps, const Plasticity& p) {
  check_input(input, steps);
  const int64_t t0 = now_;
  const bool depress = p.f && o_.gamma_minus > 0;
  SpikeTrain out;
  std::vector<int32_t> spikes;
  const std::vector<int32_t> none;
  size_t next = 0;
  for (int64_t t = t0; t < t0 + steps; ++t) {
    size_t last = next;
    while (last < input.size() && t0 + input[last].step == t) ++last;
    const Spike* b = input.data() + next;
    const Spike* e = input.data() + last;
    inputs_arrive(t, b, e);
    std::fill(v_.begin(), v_.end(), 0.0);
    add_efficacies(t, b, e);
    spikes.clear();
    cond_->step(t, v_, previous_t_ == t - 1 ? previous_ : none, p.adapt, spikes);
    post_updates(t, spikes, 0, p);
    if (depress) pre_depression(t, b, e);
    finish_step(t, spikes, out, t0);
    next = last;
  }
  now_ = t0 + steps;
  return out;
}

SpikeTrain StdpNetwork::run(const SpikeTrain& input, int64_t steps, const Plasticity& p) {
  if (cond_) return run_clocked(input, steps, p);
  check_input(input, steps);
  const int64_t t0 = now_, n = size(), end = t0 + steps;
  const bool depress = p.f && o_.gamma_minus > 0;
  SpikeTrain out;
  std::vector<int32_t> spikes;
  const std::vector<int32_t> none;
  size_t next = 0;
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  for (;;) {
    // The next step that can change anything: an input spike, or the step after output spikes
    // (inhibition). Quiet steps only decay, which the lazy reads account for.
    const int64_t t_in = next < input.size() ? t0 + input[next].step : kNever;
    const bool inhibit = !previous_.empty() && previous_t_ + 1 >= t0;
    const int64_t t = std::min(t_in, inhibit ? previous_t_ + 1 : kNever);
    if (t >= end) break;
    size_t last = next;
    while (last < input.size() && t0 + input[last].step == t) ++last;
    const Spike* b = input.data() + next;
    const Spike* e = input.data() + last;
    inputs_arrive(t, b, e);
    for (int64_t j = 0; j < n; ++j) v_[static_cast<size_t>(j)] = neurons_.potential(j, t);
    add_efficacies(t, b, e);
    spikes.clear();
    neurons_.fire(t, v_, previous_t_ == t - 1 ? previous_ : none, p.adapt, true, spikes);
    post_updates(t, spikes, 0, p);
    if (depress) pre_depression(t, b, e);
    finish_step(t, spikes, out, t0);
    next = last;
  }
  now_ = end;
  return out;
}

SpikeTrain poisson_input(const float* p, int64_t count, double rate_hz, int64_t steps, double dt,
                         std::mt19937_64& rng) {
  SpikeTrain out;
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };  // (0,1)
  for (int64_t i = 0; i < count; ++i) {
    const double q = std::min(1.0, rate_hz * static_cast<double>(p[i]) * dt / 1000.0);
    if (q <= 0) continue;
    if (q >= 1) {
      for (int64_t t = 0; t < steps; ++t) out.push_back({static_cast<int32_t>(t), static_cast<int32_t>(i)});
      continue;
    }
    // Gaps between Bernoulli(q) successes are geometric: floor(log U / log(1 − q)) + 1.
    const double log_miss = std::log1p(-q);
    for (double t = std::floor(std::log(uniform()) / log_miss);; t += std::floor(std::log(uniform()) / log_miss) + 1) {
      if (t >= static_cast<double>(steps)) break;
      out.push_back({static_cast<int32_t>(t), static_cast<int32_t>(i)});
    }
  }
  std::sort(out.begin(), out.end(), [](const Spike& a, const Spike& b) {
    return a.step != b.step ? a.step < b.step : a.index < b.index;
  });
  return out;
}

}  // namespace nc::learn
