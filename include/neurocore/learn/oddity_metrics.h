#pragma once
// Per-riddle accuracy of a model trained on the oddity riddles (data.name oddity; docs/oddity.md).
#include <cstdint>
#include <vector>

#include "neurocore/core/run_dir.h"
#include "neurocore/learn/experiment.h"

namespace nc::learn {

/// Test accuracy per riddle id 0..44, in percent (NaN where the split holds no sample of it), and
/// the sample counts.
struct RiddleAccuracy {
  std::vector<double> accuracy;
  std::vector<int64_t> count;
};

/// The model's accuracy on each riddle of `test` (the experiment's oddity test split: its riddle
/// ids come from data::oddity_riddle_ids), in batches of train.eval_batch_size.
/// Throws UserError when exp.data.name is not oddity.
RiddleAccuracy riddle_accuracy(const Experiment& exp, const data::Dataset& test);

/// Writes riddle_accuracy.md (a table with chance, 1/6) and riddle_accuracy.svg/.png (a bar
/// chart, when gnuplot is installed) into the run directory.
void write_riddle_report(const RunDir& run, const RiddleAccuracy& r);

}  // namespace nc::learn
