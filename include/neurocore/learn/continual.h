#pragma once
// Continual learning on permuted-pixel tasks (the spec of GRAPES §9: "permuted MNIST"):
// one model is trained on task 1, then task 2, ..., each task the same dataset with its own
// fixed pixel permutation, and after each task it is evaluated on every task's test split.
// Forgetting shows as the accuracy on earlier tasks dropping while later ones are learnt.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/data/dataset.h"
#include "neurocore/learn/experiment.h"

namespace nc {
class RunDir;
}

namespace nc::learn {

class DataParallel;

struct ContinualOptions {
  int64_t tasks = 5;                 // number of permuted tasks, >= 1
  uint64_t permutation_seed = 0;     // task k's permutation comes from (this seed, k)
  bool identity_first = false;       // task 1 unpermuted (the original images)
};

/// Reads the config's `continual` section (keys above; unknown keys rejected).
ContinualOptions continual_options(ConfigSection section);

/// Task `task`'s (0-based) permutation of `pixels` positions: identity for task 0 when
/// identity_first, else a seeded random permutation (the same for every run and machine).
torch::Tensor task_permutation(int64_t pixels, const ContinualOptions& options, int64_t task);

/// `d` with the pixels of every image (flattened C*H*W) reordered: out[..., i] = in[..., perm[i]].
data::Dataset permute_pixels(const data::Dataset& d, const torch::Tensor& perm);

struct ContinualResult {
  /// accuracy[k][j]: test accuracy (%) on task j after training on tasks 0..k.
  std::vector<std::vector<double>> accuracy;
  /// Mean over tasks 0..k of accuracy[k][j]: the usual "average accuracy" after task k.
  std::vector<double> average_seen;
};

/// Trains `exp`'s model on the tasks in sequence, train.epochs epochs each, with a fresh
/// optimizer per task (naive fine-tuning: optimizer state is not carried across tasks);
/// each task's training run is `run/task-<k>/` (metrics, checkpoints, report). Writes
/// `run/continual.json`, `run/report.md`, the accuracy plot, and one `run/metrics.jsonl`
/// record per task (kind "task": test_acc, and valid_acc when exp.valid_set is not empty,
/// each the average over the tasks seen so far; the valid set is permuted per task like the
/// test set). exp.train_set/test_set/valid_set are the unpermuted data and are left unchanged.
/// `parallel`: this rank of a data-parallel job (data_parallel.h; only rank 0 writes), or nullptr.
ContinualResult run_continual(Experiment& exp, const ContinualOptions& options, RunDir& run,
                              DataParallel* parallel = nullptr);

}  // namespace nc::learn
