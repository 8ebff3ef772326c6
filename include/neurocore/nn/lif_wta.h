#pragma once
// A layer of current-based LIF neurons with lateral winner-take-all inhibition and adaptive
// thresholds (../shared/specs/st-stdp.md §3), for event-driven simulation: torch-free, every
// decaying variable stored as (value at its last change, time of that change) and read as
//   value(t) = value(t0) · D(t - t0),   D(n) = exp(-n·Δt/τ)        (Decay below)
// so that skipping quiet steps (event-driven) and visiting every step (the dense reference)
// compute the same bits. Per step t of one neuron j (the step's order, spec §4):
//   V_j ← V_j(t) + Σ_i G_ij S_i(t)                  (inputs: added by the caller, add_input)
//   V_j ← V_j − w_inh · Σ_{k≠j} S_k(t−1)            (inhibition)
//   V_j ← max(V_j, −V_th)                           (floor)
//   t ≤ refractory_until_j:  V_j = 0, no spike
//   V_j > V_th + a_j(t):     candidate; with hard_wta only the candidate with the largest V
//                            spikes (ties: lowest index), else every candidate spikes
//   spike:                   V_j = 0, refractory_until_j = t + t_ref, a_j += Δa (adapt only)
// a_j decays with τ_a while adapting (training) and is frozen otherwise (test).
#include <cstdint>
#include <string>
#include <vector>

namespace nc::nn {

/// exp(-n·Δt/τ) for n >= 0 steps: one formula for every n (a table of the first values is a
/// cache of the same numbers), shared by both simulators.
class Decay {
 public:
  Decay() = default;
  Decay(double tau_ms, double dt_ms);
  double operator()(int64_t n) const {
    return n < static_cast<int64_t>(table_.size()) ? table_[static_cast<size_t>(n)] : far(n);
  }

 private:
  double far(int64_t n) const;
  double rate_ = 0;  // Δt/τ
  std::vector<double> table_;
};

/// `model.neuron`: the spec's default current-based dimensionless LIF (this file, simulated
/// event-driven) or its option, conductance-based Diehl & Cook neurons (conductance_wta.h,
/// integrated clock-driven).
enum class NeuronModel { current, conductance };

/// The options of the conductance-based neurons (`model.conductance`; spec §3 OPTION, every
/// default a [guess] from Diehl & Cook 2015). Potentials in mV, times in ms, conductances in
/// units of the leak conductance. The shared model.tau_m, t_ref, dt and hard_wta apply too.
struct ConductanceOptions {
  double v_rest = -65;       ///< resting potential
  double v_reset = -65;      ///< potential after a spike and during refractoriness
  double v_th = -52;         ///< threshold (plus the adaptive θ), > v_reset
  double e_exc = 0;          ///< excitatory reversal potential, > v_th
  double e_inh = -100;       ///< inhibitory reversal potential, <= min(v_rest, v_reset)
  double tau_ge = 1;         ///< excitatory conductance decay, > 0
  double tau_gi = 2;         ///< inhibitory conductance decay, > 0
  double theta_plus = 0.05;  ///< θ increment per spike (training), >= 0
  double tau_theta = 1e7;    ///< θ decay, > 0
  double w_inh = 17;         ///< g_i added to every other neuron per output spike, >= 0
                             ///< (Diehl & Cook's inhibitory weight)
  double dt = 0.5;           ///< integration sub-step, > 0, <= the refractory period, and
                             ///< model.dt / dt a whole number of sub-steps

  /// Throws UserError naming `where`.<field>; `step_ms` = model.dt, `t_ref` in steps.
  void validate(const std::string& where, double step_ms, int64_t t_ref) const;
};

/// The neurons' options (the `model` section of an stdp config, name lif-wta).
struct LifWtaOptions {
  NeuronModel neuron = NeuronModel::current;  ///< the fields below up to hard_wta: current
                                              ///< (v_th, w_inh, delta_a, tau_a: current only)
  int64_t neurons = 400;   ///< N_out >= 1
  double dt = 1.0;         ///< ms per step, > 0
  double tau_m = 100.0;    ///< membrane time constant, ms, > 0
  int64_t t_ref = 5;       ///< refractory steps, >= 0
  double v_th = 0.0;       ///< threshold, > 0; 0 = calibrate (learn/stdp.h)
  double w_inh = 1.0;      ///< lateral inhibition in units of V_th (spec: >= 1), >= 0
  double delta_a = 0.004;  ///< threshold adaptation per spike in units of V_th, >= 0
  double tau_a = 1e7;      ///< adaptation time constant, ms, >= tau_m (so a quiet step can
                           ///< never cross a threshold: the event-driven simulator skips them)
  bool hard_wta = true;    ///< at most one spike per step
  ConductanceOptions conductance;  ///< neuron == conductance only

  /// Throws UserError naming `where`.<field>, the value seen and the range expected.
  void validate(const std::string& where = "model") const;
};

/// The state of a LIF-WTA layer and its per-step threshold phase.
class LifWta {
 public:
  explicit LifWta(const LifWtaOptions& options);

  const LifWtaOptions& options() const { return o_; }
  int64_t size() const { return o_.neurons; }
  double v_th() const { return o_.v_th; }
  /// Sets V_th (after calibration); w_inh and Δa scale with it.
  void set_v_th(double v_th);

  /// V_j at step t, decayed from its last change.
  double potential(int64_t j, int64_t t) const { return v_[j] * dm_(t - tv_[j]); }
  /// a_j at step t: decayed when `adapt`, else its stored value (frozen).
  double adaptation(int64_t j, int64_t t, bool adapt) const {
    return adapt ? a_[j] * da_(t - ta_[j]) : a_[j];
  }
  /// Freezes a at step t (stores a_j(t)): call when adaptation stops.
  void freeze_adaptation(int64_t t);

  /// The threshold phase of step t for the potentials `v` (V_j(t) with this step's input
  /// already added): inhibition from `previous` (the spikes of step t-1), floor, refractoriness,
  /// threshold, WTA, reset. `event`: the step had an input spike or `previous` is not empty;
  /// then every V_j is stored as changed at t, else only the spiking ones (a quiet step only
  /// decays V, and re-anchoring it would change the bits of later reads). Appends the spiking
  /// neurons to `spikes` (ascending) and returns their number.
  int64_t fire(int64_t t, std::vector<double>& v, const std::vector<int32_t>& previous,
               bool adapt, bool event, std::vector<int32_t>& spikes);

  /// V = 0, refractoriness cleared, at step t; a is kept.
  void reset(int64_t t);
  /// a = 0 everywhere.
  void clear_adaptation(int64_t t);

 private:
  LifWtaOptions o_;
  Decay dm_, da_;
  std::vector<double> v_, a_;
  std::vector<int64_t> tv_, ta_, refractory_until_;
  std::vector<uint8_t> spiked_before_;  // scratch: S_j(t-1)
};

}  // namespace nc::nn
