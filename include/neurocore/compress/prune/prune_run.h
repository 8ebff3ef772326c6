#pragma once
// `neurocore prune` as one library call (docs/prune.md): prune a trained run into a new run
// directory with a report, a clean final checkpoint that `neurocore eval` and `neurocore
// compile` load, and, after channel pruning, the physically shrunk model.
//
// Layout of the prune run directory OUT:
//   OUT/config.yaml, OUT/checkpoints/   the pruned model as an ordinary run (shrunk after
//                                        channel pruning of mlp / resnet: config.yaml names the
//                                        smaller shape; else the masked weights set to zero)
//   OUT/train/                           the Trainer's run: the source config, checkpoints with
//                                        the masks and scores (resume), metrics.jsonl
//   OUT/prune.json                       the options, source, costs and accuracies
//   OUT/report.md, OUT/sparsity.svg|png  the report and the per-layer kept fraction
#include <memory>
#include <string>
#include <vector>

#include "neurocore/compress/prune/pruner.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/data_parallel.h"

namespace nc::compress::prune {

/// The ranks of a data-parallel `neurocore prune --nproc` (docs/distributed.md), provided by
/// the CLI with nc::dist (an area above compress). Rank 0 writes the prune run; the other
/// ranks fine-tune alongside it in a scratch directory and write nothing that stays.
class PruneRanks {
 public:
  virtual ~PruneRanks() = default;
  virtual bool writer() const = 0;
  virtual int world_size() const = 0;
  /// Caps this rank's intra-op threads at its share of the machine's cores; called once the
  /// config has set them.
  virtual void share_cores() = 0;
  /// Rank 0's `text` on every rank (a resumed run's prune.json: only rank 0 may have it).
  virtual std::string from_writer(const std::string& text) = 0;
  /// The prune run directory: rank 0 creates `path` (opens it when `resume`) and writes
  /// `config_yaml` into it; the other ranks get a scratch directory.
  virtual RunDir output(const std::string& path, bool resume, const std::string& config_yaml) = 0;
  /// Resuming: rank 0's last checkpoint in `train` copied into the other ranks' `train`.
  virtual void share_checkpoint(const RunDir& train, bool resume) = 0;
  /// This rank's runtime for `model` (prune_experiment's ParallelFineTuning).
  virtual std::unique_ptr<learn::DataParallel> runtime(torch::nn::Module& model) = 0;
};

struct PruneRunOptions {
  PruneOptions prune;
  std::string out;                // output run directory ("" = <runs_dir>/<source>-prune-<...>)
  double lr = -1;                 // fine-tuning learning rate (<= 0: train.learning_rate / 10)
  std::vector<std::string> sets;  // config overrides of the source run ("key=value")
  int threads = -1;               // >= 0: overrides the config's threads
  bool dry_run = false;           // validate everything, write nothing
  /// pruned_torchscript.pt with every BatchNorm folded into its convolution (faster inference;
  /// the checkpoint keeps the BNs, so it still fine-tunes and trains like the source run).
  bool fold_batch_norm = true;
  PruneRanks* ranks = nullptr;    // data-parallel fine-tuning; null: one process
};

struct PruneRunResult {
  std::string path;    // the prune run directory ("" after a dry run)
  PruneResult result;
  bool shrunk = false;
};

/// Prunes the last checkpoint of the run `source` under `o`. Every option is validated
/// against the model before anything is written (UserError naming the flag). `resume`: an
/// existing prune run directory to continue (its prune.json's options are used, `o`'s ignored
/// except threads). With o.ranks every rank calls this with the same arguments; only rank 0's
/// result names the run directory and its results.
PruneRunResult prune_run(const std::string& source, const PruneRunOptions& o,
                         const std::string& resume = "");

}  // namespace nc::compress::prune
