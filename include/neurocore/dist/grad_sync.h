#pragma once
// Bucketed gradient all-reduce overlapped with the backward pass (what DDP's Reducer does;
// Debian's headers cannot include that one, specs/scaleout.md §1).
//
// Parameters are grouped into buckets of about `bucket_bytes` (the first one at most 1 MiB, as
// in DDP), in reverse registration order (gradients of the last layers are ready first). A post-hook on each parameter's gradient
// accumulator marks it ready; as soon as a bucket and every bucket before it are ready, its
// gradients, scaled by this rank's weight w_r = n_r / N, are flattened into one tensor and an
// asynchronous sum all-reduce starts, while autograd goes on with the earlier layers.
// finish() (called just before the optimizer's update) starts what is left, waits, and writes
// sum_r w_r g_r back into every .grad: the gradient of the mean loss over the global batch.
//
// Buckets start in index order on every rank, so the collectives match across ranks. Rules
// that write gradients without autograd (OSTL) fire no hook: finish() reduces those buckets.
// If a hook fires twice between two finish() calls (two backward passes per update), the
// early all-reduces are discarded and finish() reduces every bucket from the final gradients.
// A parameter without a gradient contributes zeros and is left without one (as the optimizer
// expects: it skips such a parameter; the ranks agree on which have none, as they run the same
// graph).
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "neurocore/dist/group.h"

namespace nc::dist {

struct SyncStats {
  int64_t steps = 0;             // finish() calls
  int64_t bytes = 0;             // all-reduced payload, summed over steps (this rank's send size)
  int64_t buckets_overlapped = 0;  // buckets started by a hook, before finish()
  int64_t buckets_total = 0;
  double exposed_s = 0;          // time inside finish(): communication the backward did not hide
};

class GradientSync {
 public:
  static constexpr int64_t kFirstBucketBytes = 1 << 20;
  /// `params` that do not require a gradient now are left out, unless `frozen_too` (EfQAT
  /// switches rows and scales on and off between steps): those are reduced in finish().
  GradientSync(Group& group, std::vector<torch::Tensor> params, int64_t bucket_bytes = 25ll << 20,
               bool frozen_too = false);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// This rank's weight in the next update: n_r / N (1 / world for equal shards).
  void set_weight(double w) { weight_ = w; }
  /// Reduces what the hooks have not started, waits, writes the averaged gradients.
  void finish();
  /// Sum all-reduces of every bucket with no compute beside it, timed (seconds, median of
  /// `reps`): the communication time one step would take if nothing hid it.
  double time_bare_allreduce(int reps = 3);

  /// Number of elements of each bucket, in all-reduce order.
  std::vector<int64_t> bucket_sizes() const;
  const SyncStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  struct Bucket;
  void ready(std::size_t param);
  void launch(std::size_t bucket);
  torch::Tensor flatten(std::size_t bucket) const;

  Group& group_;
  std::vector<torch::Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_;
  std::vector<char> ready_;
  std::size_t next_launch_ = 0;
  bool dirty_ = false;
  double weight_ = 1.0;
  SyncStats stats_;
  struct Hooks;
  std::unique_ptr<Hooks> hooks_;
};

}  // namespace nc::dist
