#pragma once
// The training loop: epochs of mini-batches, evaluation and a checkpoint after each epoch,
// metrics and the report in the run directory, and exact resumption.
//
// Reproducibility: every random draw of epoch e (shuffling, spike encoding) comes from
// generators seeded by (seed, stream, e), and the learning rate is a function of e. A run
// resumed after epoch k therefore computes bit for bit what an uninterrupted run computes
// (same machine, same thread count).
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/core/run_dir.h"
#include "neurocore/learn/data_parallel.h"
#include "neurocore/learn/experiment.h"

namespace nc::learn {

/// What the model takes for `images` ([B, C, H, W], pixels in [0, 1]): the normalised images,
/// or, for a spiking model, their encoding [T, B, C, H, W] drawn from `gen`. An experiment
/// without a model (a pipeline from an ONNX file) gets the normalised images.
torch::Tensor model_input(const Experiment& exp, const torch::Tensor& images, at::Generator& gen);

/// The whole input Trainer::evaluate feeds for `images`: the same batches from the same
/// encoder stream, so a spiking model sees exactly the spikes its test accuracy was measured on.
torch::Tensor evaluation_input(const Experiment& exp, const torch::Tensor& images);

struct EvalResult {
  double loss = 0, accuracy = 0;  // accuracy in percent
  int64_t examples = 0;
  /// Temporal models only (else -1): percent of (step, example) pairs whose own output's argmax
  /// is the example's label. With data.omnist.sequences and encoder.coding: frames, a step is
  /// a video frame: the per-frame accuracy of the ST-STDP baselines (st-stdp.md §7).
  double step_accuracy = -1;
};

class Trainer {
 public:
  /// `parallel`: the data-parallel runtime of this rank (data_parallel.h), or nullptr for a
  /// single process. With it, only rank 0 writes into `run`; every rank trains and evaluates
  /// its share, and metrics are sums over ranks.
  Trainer(Experiment& experiment, RunDir& run, DataParallel* parallel = nullptr);
  ~Trainer();

  /// Loads the run's last checkpoint (model and optimizer) and drops metrics of epochs
  /// after it. Returns the number of epochs already done (0 when there is no checkpoint).
  int64_t resume();
  /// Trains the remaining epochs. Throws UserError when the loss becomes NaN or Inf,
  /// naming the epoch and step.
  void fit();
  /// Loss and accuracy over a dataset, in batches of train.eval_batch_size.
  EvalResult evaluate(const data::Dataset& dataset);
  /// Number of finished epochs.
  int64_t epochs_done() const { return epochs_done_; }

  /// Stops after this many epochs in the current fit() call (for tests that simulate an
  /// interrupted run); -1 = no limit.
  void stop_after(int64_t epochs) { stop_after_ = epochs; }

 private:
  void write_report() const;
  bool writer() const;

  Experiment& exp_;
  RunDir& run_;
  DataParallel* parallel_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::string loss_;
  int64_t epochs_done_ = 0;
  int64_t stop_after_ = -1;
  std::vector<std::pair<std::string, double>> rule_metrics_;  // of the last epoch trained
};

}  // namespace nc::learn
