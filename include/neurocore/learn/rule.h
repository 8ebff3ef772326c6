#pragma once
// Learning rules and error modulations: the extension points of the Trainer.
//
// A Rule turns one batch into parameter updates (BPTT: autograd over the time loop; online
// rules such as OSTL: per-step updates). A Modulation changes how errors propagate through a
// model (GRAPES) and is refreshed once per batch. Both are chosen in the config's `learn`
// section: `learn: {rule: bptt, modulation: none}` plus one sub-section per rule or
// modulation for its own options.
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/nn/net.h"

namespace nc::learn {

struct BatchResult {
  torch::Tensor scores;  // [B, C] class scores, detached
  double loss = 0;       // mean loss over the batch
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual std::string name() const = 0;
  /// Trains on one batch: x is the prepared input ([B, ...], or [T, B, ...] for temporal
  /// nets), labels [B] int64, loss a resolved loss name (loss.h). Computes the gradients,
  /// applies `optimizer` (once per batch, or per time step for online rules) and returns the
  /// scores and the loss. The loss is computed before any update of this batch.
  virtual BatchResult train_batch(nn::NetImpl& model, const torch::Tensor& x,
                                  const torch::Tensor& labels, const std::string& loss,
                                  torch::optim::Optimizer& optimizer) = 0;
  /// Called by the Trainer before each epoch (0-based) with the run's seed: a rule that draws
  /// random numbers seeds them from (seed, epoch), so a resumed run repeats them.
  virtual void start_epoch(uint64_t /*seed*/, int64_t /*epoch*/) {}
  /// Metrics of the epoch just trained, as (name, value), for metrics.jsonl and the report
  /// (ESSOP: operation counts and energies); called once after each epoch. Empty by default.
  virtual std::vector<std::pair<std::string, double>> epoch_metrics() { return {}; }
};

/// Backpropagation (through time, for temporal nets) by autograd.
/// per_step (`learn.bptt.loss: per_step`, temporal nets): the loss is the mean over steps of
/// the configured loss of each step's output, E = sum_t l(o^t, label) / T, the loss OSTL
/// trains (ostl.md §9: "BPTT baselines must use the same per-step loss"); the reported batch
/// loss stays l on the time-averaged scores. Default: l on the time-averaged scores.
class BpttRule : public Rule {
 public:
  explicit BpttRule(bool per_step = false) : per_step_(per_step) {}
  std::string name() const override { return "bptt"; }
  BatchResult train_batch(nn::NetImpl& model, const torch::Tensor& x, const torch::Tensor& labels,
                          const std::string& loss, torch::optim::Optimizer& optimizer) override;

 private:
  bool per_step_;
};

class Modulation {
 public:
  virtual ~Modulation() = default;
  virtual std::string name() const = 0;
  /// Called once per batch before the forward pass (e.g. to recompute factors).
  virtual void before_batch(nn::NetImpl& model) = 0;
};

/// The rule named by `learn.rule`, configured from its sub-section, with the weight update of
/// `learn.update` (exact | essop, essop_rule.h). Throws UserError on an unknown rule or when
/// the rule does not support `model` (listing what it supports).
std::unique_ptr<Rule> make_rule(ConfigSection learn, nn::NetImpl& model);

/// The modulation named by `learn.modulation` attached to `model`, or nullptr for "none".
std::unique_ptr<Modulation> make_modulation(ConfigSection learn, nn::NetImpl& model);

}  // namespace nc::learn
