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
#include <string>
#include <vector>

#include "neurocore/compress/prune/pruner.h"

namespace nc::compress::prune {

struct PruneRunOptions {
  PruneOptions prune;
  std::string out;                // output run directory ("" = <runs_dir>/<source>-prune-<...>)
  double lr = -1;                 // fine-tuning learning rate (<= 0: train.learning_rate / 10)
  std::vector<std::string> sets;  // config overrides of the source run ("key=value")
  int threads = -1;               // >= 0: overrides the config's threads
  bool dry_run = false;           // validate everything, write nothing
};

struct PruneRunResult {
  std::string path;    // the prune run directory ("" after a dry run)
  PruneResult result;
  bool shrunk = false;
};

/// Prunes the last checkpoint of the run `source` under `o`. Every option is validated
/// against the model before anything is written (UserError naming the flag). `resume`: an
/// existing prune run directory to continue (its prune.json's options are used, `o`'s ignored
/// except threads).
PruneRunResult prune_run(const std::string& source, const PruneRunOptions& o,
                         const std::string& resume = "");

}  // namespace nc::compress::prune
