// LIF neurons with winner-take-all inhibition (lif_wta.h). Torch-free.
#include "neurocore/nn/lif_wta.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "neurocore/core/option_error.h"

namespace nc::nn {

namespace {

constexpr int64_t kDecayTable = 4096;  // steps cached; beyond, the same formula is evaluated

std::string text(double v) {  // shortest form, as bad_option writes the value seen
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

Decay::Decay(double tau_ms, double dt_ms) : rate_(dt_ms / tau_ms) {
  table_.resize(kDecayTable);
  for (int64_t n = 0; n < kDecayTable; ++n) table_[static_cast<size_t>(n)] = far(n);
}

double Decay::far(int64_t n) const { return std::exp(-static_cast<double>(n) * rate_); }

void ConductanceOptions::validate(const std::string& where, double step_ms, int64_t t_ref) const {
  auto finite = [&](const char* field, double v) {
    if (!std::isfinite(v)) bad_option(where, field, v, "a finite number (mV)");
  };
  auto positive = [&](const char* field, double v) {
    if (!(v > 0) || !std::isfinite(v)) bad_option(where, field, v, "a number > 0");
  };
  finite("v_rest", v_rest);
  finite("v_reset", v_reset);
  finite("v_th", v_th);
  finite("e_exc", e_exc);
  finite("e_inh", e_inh);
  if (!(v_th > v_reset)) bad_option(where, "v_th", v_th, "a number > v_reset = " + text(v_reset));
  if (!(v_th > v_rest)) {
    bad_option(where, "v_th", v_th, "a number > v_rest = " + text(v_rest) + " (a neuron at rest must not fire)");
  }
  if (!(e_exc > v_th)) {
    bad_option(where, "e_exc", e_exc, "a number > v_th = " + text(v_th) + " (else no input can reach the threshold)");
  }
  if (!(e_inh <= std::min(v_rest, v_reset))) {
    bad_option(where, "e_inh", e_inh, "a number <= min(v_rest, v_reset) = " + text(std::min(v_rest, v_reset)));
  }
  positive("tau_ge", tau_ge);
  positive("tau_gi", tau_gi);
  positive("tau_theta", tau_theta);
  if (!(theta_plus >= 0) || !std::isfinite(theta_plus)) bad_option(where, "theta_plus", theta_plus, "a number >= 0 (mV)");
  if (!(w_inh >= 0) || !std::isfinite(w_inh)) bad_option(where, "w_inh", w_inh, "a number >= 0");
  positive("dt", dt);
  const double refractory_ms = static_cast<double>(t_ref) * step_ms;
  if (t_ref > 0 && dt > refractory_ms) {
    bad_option(where, "dt", dt, "at most the refractory period t_ref * model.dt = " + text(refractory_ms) + " ms");
  }
  const double substeps = step_ms / dt;
  if (dt > step_ms || std::abs(substeps - std::round(substeps)) > 1e-9 * substeps) {
    bad_option(where, "dt", dt, "model.dt = " + text(step_ms) + " ms divided by a whole number (1, 2, 3, ...)");
  }
}

void LifWtaOptions::validate(const std::string& where) const {
  auto positive = [&](const char* field, double v) {
    if (!(v > 0) || !std::isfinite(v)) bad_option(where, field, v, "a number > 0");
  };
  if (neurons < 1) bad_option(where, "neurons", neurons, "an integer >= 1");
  positive("dt", dt);
  positive("tau_m", tau_m);
  positive("tau_a", tau_a);
  if (t_ref < 0) bad_option(where, "t_ref", t_ref, "an integer >= 0 (steps)");
  if (!(v_th >= 0) || !std::isfinite(v_th)) bad_option(where, "v_th", v_th, "a number > 0, or 0 to calibrate");
  if (!(w_inh >= 0) || !std::isfinite(w_inh)) bad_option(where, "w_inh", w_inh, "a number >= 0 (units of v_th)");
  if (!(delta_a >= 0) || !std::isfinite(delta_a)) bad_option(where, "delta_a", delta_a, "a number >= 0 (units of v_th)");
  if (tau_a < tau_m) {
    bad_option(where, "tau_a", tau_a, "at least tau_m = " + std::to_string(tau_m) +
                                   " (thresholds may not decay faster than potentials)");
  }
  if (neuron == NeuronModel::conductance) conductance.validate(where + ".conductance", dt, t_ref);
}

LifWta::LifWta(const LifWtaOptions& options)
    : o_(options),
      dm_(options.tau_m, options.dt),
      da_(options.tau_a, options.dt),
      v_(static_cast<size_t>(options.neurons), 0.0),
      a_(v_.size(), 0.0),
      tv_(v_.size(), 0),
      ta_(v_.size(), 0),
      refractory_until_(v_.size(), -1),
      spiked_before_(v_.size(), 0) {
  o_.validate();
}

void LifWta::set_v_th(double v_th) {
  if (!(v_th > 0)) throw InternalError("LifWta::set_v_th: " + std::to_string(v_th));
  o_.v_th = v_th;
}

void LifWta::freeze_adaptation(int64_t t) {
  for (size_t j = 0; j < a_.size(); ++j) {
    a_[j] = a_[j] * da_(t - ta_[j]);
    ta_[j] = t;
  }
}

void LifWta::reset(int64_t t) {
  std::fill(v_.begin(), v_.end(), 0.0);
  std::fill(tv_.begin(), tv_.end(), t);
  std::fill(refractory_until_.begin(), refractory_until_.end(), -1);
}

void LifWta::clear_adaptation(int64_t t) {
  std::fill(a_.begin(), a_.end(), 0.0);
  std::fill(ta_.begin(), ta_.end(), t);
}

int64_t LifWta::fire(int64_t t, std::vector<double>& v, const std::vector<int32_t>& previous,
                     bool adapt, bool event, std::vector<int32_t>& spikes) {
  const double v_th = o_.v_th, inhibition = o_.w_inh * v_th;
  const auto n_prev = static_cast<double>(previous.size());
  for (auto k : previous) spiked_before_[static_cast<size_t>(k)] = 1;
  const size_t first = spikes.size();
  int64_t best = -1;
  for (int64_t j = 0; j < o_.neurons; ++j) {
    double& vj = v[static_cast<size_t>(j)];
    if (!previous.empty()) vj -= inhibition * (n_prev - spiked_before_[static_cast<size_t>(j)]);
    vj = std::max(vj, -v_th);
    if (t <= refractory_until_[static_cast<size_t>(j)]) {
      vj = 0.0;
      continue;
    }
    if (vj > v_th + adaptation(j, t, adapt)) {
      if (!o_.hard_wta) {
        spikes.push_back(static_cast<int32_t>(j));
      } else if (best < 0 || vj > v[static_cast<size_t>(best)]) {
        best = j;  // strict: ties keep the lowest index
      }
    }
  }
  if (best >= 0) spikes.push_back(static_cast<int32_t>(best));
  for (auto k : previous) spiked_before_[static_cast<size_t>(k)] = 0;
  for (size_t s = first; s < spikes.size(); ++s) {
    const auto j = static_cast<size_t>(spikes[s]);
    v[j] = 0.0;
    refractory_until_[j] = t + o_.t_ref;
    if (adapt) {
      a_[j] = a_[j] * da_(t - ta_[j]) + o_.delta_a * v_th;
      ta_[j] = t;
    }
    if (!event) {
      v_[j] = 0.0;
      tv_[j] = t;
    }
  }
  if (event) {
    std::copy(v.begin(), v.end(), v_.begin());
    std::fill(tv_.begin(), tv_.end(), t);
  }
  return static_cast<int64_t>(spikes.size() - first);
}

}  // namespace nc::nn
