#pragma once
// Conductance-based Diehl & Cook neurons with winner-take-all inhibition and adaptive
// thresholds (../shared/specs/st-stdp.md §3 OPTION, model.neuron: conductance; docs/st-stdp.md),
// integrated clock-driven. Torch-free. Per neuron j, in mV and ms:
//   τ_m dV/dt = (V_rest − V) + g_e (E_exc − V) + g_i (E_inh − V)
//   τ_ge dg_e/dt = −g_e        τ_gi dg_i/dt = −g_i        (conductances in units of the leak's)
// Why clock-driven: between input spikes V follows a linear ODE whose coefficients decay
// exponentially; it has no closed form a lazy read could evaluate, and V keeps rising for a few
// τ_ge after an input, so a threshold can be crossed at a step without any event. Every step is
// therefore integrated, in model.dt / conductance.dt sub-steps of exponential Euler: over a
// sub-step of length h the conductances are replaced by their exact means
// (ḡ = g·τ/h·(1 − e^{−h/τ})), and V relaxes exactly towards the resulting fixed point:
//   G = 1 + ḡ_e + ḡ_i,  V_∞ = (V_rest + ḡ_e E_exc + ḡ_i E_inh)/G,  V ← V_∞ + (V − V_∞) e^{−hG/τ_m}
// (second order in h; V_∞ is a convex combination of V_rest, E_exc, E_inh, so V never leaves
// [E_inh, E_exc]); then g ← g·e^{−h/τ}. Conductances below 1e-12 are set to 0 (their effect on V
// is below 1e-12 mV per step), so a quiet neuron relaxes by the exact factor e^{−h/τ_m}.
// One step t (the order of the spec's §4, with the conductances in place of V's increments):
//   g_e,j += Σ_i G_ij S_i(t)                       (input: computed by the caller, `input`)
//   g_i,j += w_inh · Σ_{k≠j} S_k(t−1)              (inhibition)
//   integrate over the step; t ≤ refractory_until_j: V_j held at V_reset (g still evolves)
//   V_j > V_th + θ_j(t): candidate; hard_wta: only the largest V spikes (ties: lowest index)
//   spike: V_j = V_reset, refractory_until_j = t + t_ref, θ_j += θ_plus (adapt only)
// θ_j decays with τ_θ while adapting (training) and is frozen otherwise (test), as a_j in lif_wta.h.
#include <cstdint>
#include <vector>

#include "neurocore/nn/lif_wta.h"

namespace nc::nn {

class ConductanceWta {
 public:
  /// `options.neuron` must be conductance (InternalError otherwise); validates (UserError).
  explicit ConductanceWta(const LifWtaOptions& options);

  const LifWtaOptions& options() const { return o_; }
  int64_t size() const { return o_.neurons; }
  int64_t substeps() const { return substeps_; }

  double potential(int64_t j) const { return v_[static_cast<size_t>(j)]; }
  double excitation(int64_t j) const { return ge_[static_cast<size_t>(j)]; }
  double inhibition(int64_t j) const { return gi_[static_cast<size_t>(j)]; }
  /// θ_j at step t: decayed when `adapt`, else its stored value (frozen).
  double theta(int64_t j, int64_t t, bool adapt) const {
    const auto k = static_cast<size_t>(j);
    return adapt ? theta_[k] * dtheta_(t - ttheta_[k]) : theta_[k];
  }
  /// Sets V_j (an initial state; tests).
  void set_potential(int64_t j, double v) { v_[static_cast<size_t>(j)] = v; }

  /// Step t (see the header comment). `input`: this step's excitatory conductance increment
  /// per neuron (size()); `previous`: the spikes of step t−1. Appends the spiking neurons to
  /// `spikes` (ascending) and returns their number.
  int64_t step(int64_t t, const std::vector<double>& input, const std::vector<int32_t>& previous,
               bool adapt, std::vector<int32_t>& spikes);

  /// V = V_rest, g = 0, refractoriness cleared; θ is kept.
  void reset();
  /// θ = 0 everywhere, at step t.
  void clear_adaptation(int64_t t);
  /// Stores θ_j(t): call when adaptation stops.
  void freeze_adaptation(int64_t t);

 private:
  void integrate(size_t j, bool refractory);

  LifWtaOptions o_;
  Decay dtheta_;
  int64_t substeps_ = 1;
  double h_ = 0;                               // sub-step, ms
  double decay_e_ = 0, decay_i_ = 0;           // e^{−h/τ_ge}, e^{−h/τ_gi}
  double mean_e_ = 0, mean_i_ = 0;             // ḡ / g over a sub-step
  double decay_m_ = 0;                         // e^{−h/τ_m}: no conductance
  double decay_e_step_ = 0, decay_i_step_ = 0; // e^{−Δt/τ}: a refractory step
  std::vector<double> v_, ge_, gi_, theta_;
  std::vector<int64_t> ttheta_, refractory_until_;
  std::vector<uint8_t> spiked_before_;  // scratch: S_j(t−1)
};

}  // namespace nc::nn
