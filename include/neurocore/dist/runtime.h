#pragma once
// The data-parallel runtime the Trainer talks to (learn/data_parallel.h), and the whole
// data-parallel training flow of one rank.
#include <memory>
#include <string>

#include "neurocore/core/run_dir.h"
#include "neurocore/dist/grad_sync.h"
#include "neurocore/dist/group.h"
#include "neurocore/learn/data_parallel.h"
#include "neurocore/learn/experiment.h"

namespace nc::dist {

class Runtime : public learn::DataParallel {
 public:
  /// Synchronises the gradients of `model`'s parameters that require one.
  Runtime(Group& group, torch::nn::Module& model, int64_t bucket_bytes = 25ll << 20);
  /// Synchronises the gradients of `params`, also those frozen now (EfQAT's row selection).
  Runtime(Group& group, std::vector<torch::Tensor> params, int64_t bucket_bytes = 25ll << 20);
  int rank() const override { return group_.rank(); }
  int world_size() const override { return group_.size(); }
  /// Takes rank 0's buffers (BatchNorm running statistics: per-rank batch statistics in the
  /// forward pass, rank 0's running averages kept, as DDP's broadcast_buffers does) and sets
  /// this rank's gradient weight n_r / N.
  void start_batch(torch::nn::Module& model, int64_t local_examples, int64_t global_examples) override;
  void synchronize_gradients() override { sync_.finish(); }
  void sum(std::vector<double>& values) override;
  /// dist_bytes_per_step (all-reduced payload per update), dist_allreduce_ms (one update's
  /// all-reduces timed alone), dist_exposed_ms (per update, the wait the backward pass did
  /// not hide), dist_hidden_fraction = 1 - exposed / alone (clamped to [0, 1]),
  /// dist_overlapped_buckets (fraction started by a hook). A collective: every rank calls it.
  std::vector<std::pair<std::string, double>> epoch_metrics() override;
  /// Copies rank 0's parameters and buffers to every rank.
  void broadcast_model(torch::nn::Module& model);
  GradientSync& gradient_sync() { return sync_; }

 private:
  Group& group_;
  GradientSync sync_;
};

/// The run directory of one rank of a job: rank 0 creates `runs_dir/name` (or opens `resume`)
/// and writes `config_yaml` into it; the other ranks get a scratch directory in the temporary
/// folder that is never published and is removed with this object. path() is rank 0's
/// directory on every rank (sent through the rendezvous store).
class RankRun {
 public:
  RankRun(Group& group, const std::string& runs_dir, const std::string& name,
          const std::string& resume, const std::string& config_yaml);
  ~RankRun();
  RankRun(const RankRun&) = delete;
  RankRun& operator=(const RankRun&) = delete;
  RunDir& run() { return *run_; }
  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<RunDir> run_;
  std::string path_, scratch_;
};

/// Resuming (`resume`): rank 0 hands its last checkpoint in `run` (the archive and its index,
/// last.json) to the other ranks' `run` through the rendezvous store, so no shared file system
/// is needed. A collective: every rank calls it; nothing is sent when not resuming.
void share_checkpoint(Group& group, const RunDir& run, bool resume);

/// Trains `exp` as one rank of `group` through the Trainer: rank 0 writes everything; when
/// resuming, the other ranks get rank 0's last checkpoint through the rendezvous store (no
/// shared file system needed). Returns rank 0's run directory.
std::string train(learn::Experiment& exp, Group& group, const std::string& resume,
                  int64_t bucket_bytes = 25ll << 20);

}  // namespace nc::dist
