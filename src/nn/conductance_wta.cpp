// Conductance-based Diehl & Cook neurons, clock-driven (conductance_wta.h). Torch-free.
#include "neurocore/nn/conductance_wta.h"

#include <cmath>

#include "neurocore/core/error.h"

namespace nc::nn {

namespace {

constexpr double kNegligible = 1e-12;  // conductances below: 0 (see the header)

}  // namespace

ConductanceWta::ConductanceWta(const LifWtaOptions& options)
    : o_(options),
      v_(static_cast<size_t>(options.neurons), options.conductance.v_rest),
      ge_(v_.size(), 0.0),
      gi_(v_.size(), 0.0),
      theta_(v_.size(), 0.0),
      ttheta_(v_.size(), 0),
      refractory_until_(v_.size(), -1),
      spiked_before_(v_.size(), 0) {
  if (o_.neuron != NeuronModel::conductance) throw InternalError("ConductanceWta: neuron model is not conductance");
  o_.validate();
  const auto& c = o_.conductance;
  dtheta_ = Decay(c.tau_theta, o_.dt);
  substeps_ = std::llround(o_.dt / c.dt);
  h_ = o_.dt / static_cast<double>(substeps_);
  decay_e_ = std::exp(-h_ / c.tau_ge);
  decay_i_ = std::exp(-h_ / c.tau_gi);
  mean_e_ = -std::expm1(-h_ / c.tau_ge) * c.tau_ge / h_;
  mean_i_ = -std::expm1(-h_ / c.tau_gi) * c.tau_gi / h_;
  decay_m_ = std::exp(-h_ / o_.tau_m);
  decay_e_step_ = std::exp(-o_.dt / c.tau_ge);
  decay_i_step_ = std::exp(-o_.dt / c.tau_gi);
}

void ConductanceWta::integrate(size_t j, bool refractory) {
  const auto& c = o_.conductance;
  double& v = v_[j];
  double& ge = ge_[j];
  double& gi = gi_[j];
  if (refractory) {  // V is held; the conductances keep decaying
    v = c.v_reset;
    ge *= decay_e_step_;
    gi *= decay_i_step_;
  } else {
    for (int64_t s = 0; s < substeps_; ++s) {
      if (ge == 0 && gi == 0) {
        v = c.v_rest + (v - c.v_rest) * decay_m_;
        continue;
      }
      const double me = ge * mean_e_, mi = gi * mean_i_, g = 1.0 + me + mi;
      const double v_inf = (c.v_rest + me * c.e_exc + mi * c.e_inh) / g;
      v = v_inf + (v - v_inf) * std::exp(-h_ * g / o_.tau_m);
      ge *= decay_e_;
      gi *= decay_i_;
    }
  }
  if (ge < kNegligible) ge = 0;
  if (gi < kNegligible) gi = 0;
}

int64_t ConductanceWta::step(int64_t t, const std::vector<double>& input,
                             const std::vector<int32_t>& previous, bool adapt,
                             std::vector<int32_t>& spikes) {
  const auto& c = o_.conductance;
  const auto n_prev = static_cast<double>(previous.size());
  for (auto k : previous) spiked_before_[static_cast<size_t>(k)] = 1;
  const size_t first = spikes.size();
  int64_t best = -1;
  for (int64_t j = 0; j < o_.neurons; ++j) {
    const auto k = static_cast<size_t>(j);
    ge_[k] += input[k];
    if (!previous.empty()) gi_[k] += c.w_inh * (n_prev - spiked_before_[k]);
    const bool refractory = t <= refractory_until_[k];
    integrate(k, refractory);
    if (refractory || !(v_[k] > c.v_th + theta(j, t, adapt))) continue;
    if (!o_.hard_wta) {
      spikes.push_back(static_cast<int32_t>(j));
    } else if (best < 0 || v_[k] > v_[static_cast<size_t>(best)]) {
      best = j;  // strict: ties keep the lowest index
    }
  }
  if (best >= 0) spikes.push_back(static_cast<int32_t>(best));
  for (auto k : previous) spiked_before_[static_cast<size_t>(k)] = 0;
  for (size_t s = first; s < spikes.size(); ++s) {
    const auto j = static_cast<size_t>(spikes[s]);
    v_[j] = c.v_reset;
    refractory_until_[j] = t + o_.t_ref;
    if (adapt) {
      theta_[j] = theta_[j] * dtheta_(t - ttheta_[j]) + c.theta_plus;
      ttheta_[j] = t;
    }
  }
  return static_cast<int64_t>(spikes.size() - first);
}

void ConductanceWta::reset() {
  std::fill(v_.begin(), v_.end(), o_.conductance.v_rest);
  std::fill(ge_.begin(), ge_.end(), 0.0);
  std::fill(gi_.begin(), gi_.end(), 0.0);
  std::fill(refractory_until_.begin(), refractory_until_.end(), -1);
}

void ConductanceWta::clear_adaptation(int64_t t) {
  std::fill(theta_.begin(), theta_.end(), 0.0);
  std::fill(ttheta_.begin(), ttheta_.end(), t);
}

void ConductanceWta::freeze_adaptation(int64_t t) {
  for (size_t j = 0; j < theta_.size(); ++j) {
    theta_[j] = theta_[j] * dtheta_(t - ttheta_[j]);
    ttheta_[j] = t;
  }
}

}  // namespace nc::nn
