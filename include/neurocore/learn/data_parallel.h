#pragma once
// What the Trainer needs from a data-parallel runtime. The runtime itself (process group,
// bucketed gradient all-reduce) lives in nc::dist, an area above learn (ARCHITECTURE.md), and
// implements this interface; a single-process run has none (the Trainer gets nullptr).
//
// The Trainer's contract with it, per optimizer step of global batch N split over the ranks
// (rank r holds n_r examples, sum n_r = N):
//   start_batch(model, n_r, N)   before the forward pass (buffers such as BatchNorm's running
//                                statistics are taken from rank 0 here, as DDP does);
//   synchronize_gradients()      from inside optimizer.step(), before the update: every
//                                gradient becomes sum_r (n_r / N) g_r, the gradient of the mean
//                                loss over the global batch (g_r: rank r's mean-loss gradient);
//   sum(values)                  element-wise sum over ranks (metrics).
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nc::learn {

class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  /// Rank 0 writes checkpoints, metrics and reports; the others only compute.
  bool writer() const { return rank() == 0; }
  virtual void start_batch(torch::nn::Module& model, int64_t local_examples, int64_t global_examples) = 0;
  virtual void synchronize_gradients() = 0;
  virtual void sum(std::vector<double>& values) = 0;
  /// Communication metrics of the epoch just trained (bytes per step, exposed wait, ...),
  /// as (name, value) for metrics.jsonl; resets the counters.
  virtual std::vector<std::pair<std::string, double>> epoch_metrics() = 0;
};

/// The contiguous part [first, end) of a global batch of `global` examples that `rank` of
/// `world` ranks takes: sizes differ by at most one, lower ranks take the larger parts.
/// The union over ranks is the whole batch, in order, so rank r's examples are those a single
/// process would see at positions first..end-1 of the same batch.
std::pair<int64_t, int64_t> shard_range(int64_t global, int rank, int world);

}  // namespace nc::learn
