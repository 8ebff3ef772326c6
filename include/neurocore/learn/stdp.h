#pragma once
// Short-term STDP (../shared/specs/st-stdp.md §3-§4; choices in docs/st-stdp.md): one layer of
// LIF-WTA neurons (nn/lif_wta.h) fully connected to the inputs by synapses with a long-term
// weight W and a short-term component F, simulated event-driven. Torch-free: no autograd.
//
//   G_ij(t) = clip(W_ij + F_ij(t), 0, w_max)                   efficacy read at a pre spike
//   x_i ← x_i·exp(-Δt/τ_x) + S_i          y_j ← y_j·exp(-Δt/τ_y) + S_j^out     traces
//   F_ij ← F_ij·exp(-Δt/τ_F)                                    relaxes to 0
//   post spike of j (F plastic):   F_ij += γ (x_i(t) − x_0)                     for every i
//   pre spike of i (F plastic, γ_− > 0):  F_ij −= γ_− y_j(t)  (y before this step's spikes)
//   post spike of j (W plastic):   W_ij += η (x_i(t) − x_tar)(w_max − W_ij)^μ, clip [0, w_max]
//
// One step t, in this fixed order (so that run() and run_dense() give the same bits): read x,
// V, a, F decayed to t; x_i += 1 for the inputs spiking at t; V_j += Σ_i G_ij S_i(t) in
// ascending i with F before this step's updates; the neurons' threshold phase (inhibition
// from S_out(t−1), floor, refractoriness, threshold, WTA: LifWta::fire); W and F updates for
// the spiking neurons (ascending j) with the updated x; pre-spike depression; y += S_out(t).
// Every decaying variable is stored at its last change and read as value·exp(−n·Δt/τ)
// (nn::Decay): per-synapse timestamps make F lazy.
//
// With model.neuron = conductance (nn/conductance_wta.h) the neurons are integrated
// clock-driven: run() and run_dense() both visit every step (run_clocked); the synapses, traces,
// F, the rule and its order within a step stay as above (inputs add G_ij to g_e instead of V).
//
// Work: run() visits only steps with an input spike or an output spike at the step before, and
// for each input spike reads its N synapses; a post spike touches the inputs' synapses of that
// neuron. Synaptic events (spec §4): one per synapse read + one per synapse updated.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "neurocore/nn/conductance_wta.h"
#include "neurocore/nn/lif_wta.h"

namespace nc {
class ConfigSection;
}

namespace nc::learn {

/// The synapses' and the protocol's options (`learn.stdp`). Times in ms.
struct StdpOptions {
  double tau_x = 20, tau_y = 20;   ///< pre / post traces, > 0
  double tau_f = 200;              ///< short-term component, > 0
  double gamma = 0.05;             ///< F increment gain (units of w_max), >= 0
  double gamma_minus = 0;          ///< F pre-spike depression gain, >= 0
  double x0 = 0.2;                 ///< F: inputs with trace below x0 are depressed, >= 0
  double w_max = 1;                ///< > 0
  double eta = 0.01;               ///< W learning rate, >= 0
  double x_tar = 0.4;              ///< W: target pre trace, >= 0
  double mu = 0.2;                 ///< W soft bound exponent, >= 0
  double weight_sum = 78.4;        ///< Σ_i W_ij after each image, > 0
  double w_init = 0.3;             ///< W ~ U[0, w_init] before normalising, > 0
  bool f_in_training = false;      ///< F plastic during training too (spec: test only)
  // Protocol (spec §3 and §5).
  double rate_max = 63.75;         ///< Hz at pixel 1, > 0
  double rate_boost = 32;          ///< Hz added when an image gave fewer than min_spikes, >= 0
  int64_t present_ms = 350, rest_ms = 150;  ///< image / rest durations, > 0 / >= 0
  int64_t min_spikes = 5;          ///< >= 0
  int64_t max_presentations = 5;   ///< cap on re-presentations of one image, >= 1
  int64_t frame_ms = 100;          ///< T_f: one video frame, > 0
  int64_t calibrate_images = 20;   ///< images used to calibrate V_th (model.v_th = 0), >= 1
  double target_spikes = 5;        ///< calibration: the most active neuron's spikes per image

  /// Throws UserError naming `where`.<field>, the value seen and the range expected (e.g. a
  /// negative time constant: "learn.stdp.tau_f: got -5, expected a number > 0").
  void validate(const std::string& where = "learn.stdp") const;
  /// Reads every key above from `section`, validates, calls finish().
  static StdpOptions from_config(ConfigSection section);
};

/// An input or output spike: step (from the start of a run() window) and neuron index.
struct Spike {
  int32_t step, index;
  bool operator==(const Spike& o) const { return step == o.step && index == o.index; }
};
using SpikeTrain = std::vector<Spike>;  ///< sorted by step, then index

/// Which plasticity is on in a run.
struct Plasticity {
  bool w = false;      ///< long-term W (training)
  bool f = false;      ///< short-term F
  bool adapt = false;  ///< threshold adaptation (training); frozen otherwise
};

class StdpNetwork {
 public:
  /// W_ij ~ U[0, w_init] from `seed`, then normalised; F = 0. Throws as validate().
  StdpNetwork(const StdpOptions& options, const nn::LifWtaOptions& neurons, int64_t inputs,
              uint64_t seed);

  /// Simulates `steps` steps from now() with the input spikes `input` (sorted; steps in
  /// [0, steps), indices in [0, inputs)) and returns the output spikes. Event-driven.
  /// Throws InternalError on unsorted or out-of-range input.
  SpikeTrain run(const SpikeTrain& input, int64_t steps, const Plasticity& p);
  /// The same, visiting every step, every input and every synapse: the reference of the tests.
  SpikeTrain run_dense(const SpikeTrain& input, int64_t steps, const Plasticity& p);

  /// V, x, y, F and refractoriness back to rest (between videos); W, a and time are kept.
  void reset();
  /// Σ_i W_ij = weight_sum for every j (neurons with Σ = 0 are left alone).
  void normalise();
  /// Replaces the short-term rule's γ, τ_F and x_0 (to test several settings on one trained
  /// network) and resets the network. Throws UserError as validate().
  void set_short_term(double gamma, double tau_f, double x0);
  /// Stops threshold adaptation: a (θ) keeps its present value.
  void freeze_adaptation();

  int64_t now() const { return now_; }
  int64_t inputs() const { return inputs_; }
  int64_t size() const { return neurons_.size(); }
  uint64_t synaptic_events() const { return events_; }
  const StdpOptions& options() const { return o_; }
  /// The current-based neurons; with neuron = conductance only their options are used.
  nn::LifWta& neurons() { return neurons_; }
  /// The conductance-based neurons, or null (neuron = current).
  const nn::ConductanceWta* conductance() const { return cond_ ? &*cond_ : nullptr; }
  /// The firing threshold: V_th (current, dimensionless) or conductance.v_th (mV).
  double threshold() const;
  /// W, [inputs][neurons] row-major (W_ij at i * size() + j).
  std::vector<double>& weights() { return w_; }
  const std::vector<double>& weights() const { return w_; }
  /// F_ij decayed to now().
  double short_term(int64_t i, int64_t j) const;

 private:
  void inputs_arrive(int64_t t, const Spike* b, const Spike* e);
  void add_efficacies(int64_t t, const Spike* b, const Spike* e);
  SpikeTrain run_clocked(const SpikeTrain& input, int64_t steps, const Plasticity& p);
  void post_updates(int64_t t, const std::vector<int32_t>& spikes, size_t first, const Plasticity& p);
  void pre_depression(int64_t t, const Spike* b, const Spike* e);
  void finish_step(int64_t t, std::vector<int32_t>& spikes, SpikeTrain& out, int64_t t0);
  void check_input(const SpikeTrain& input, int64_t steps) const;

  StdpOptions o_;
  nn::LifWta neurons_;
  std::optional<nn::ConductanceWta> cond_;
  int64_t inputs_;
  nn::Decay dx_, dy_, df_;
  std::vector<double> w_, f_, x_, y_, v_;
  std::vector<int64_t> tf_, tx_, ty_;
  std::vector<int32_t> previous_;  // output spikes of step previous_t_
  int64_t previous_t_ = -2;
  int64_t now_ = 0;
  bool f_nonzero_ = false;  // some F_ij != 0 since the last reset (else reads skip F)
  uint64_t events_ = 0;
};

/// Poisson input of one image for `steps` steps: input i spikes at each step with probability
/// rate_hz · p_i · Δt / 1000 (capped at 1), independently; drawn as geometric gaps, so the cost
/// is proportional to the spikes. `p`: `count` values in [0, 1].
SpikeTrain poisson_input(const float* p, int64_t count, double rate_hz, int64_t steps, double dt,
                         std::mt19937_64& rng);

}  // namespace nc::learn
