#pragma once
// `neurocore train` with `learn: {rule: stdp}` (configs/st-stdp-omnist.yaml, docs/st-stdp.md):
// unsupervised training of a LIF-WTA layer by STDP on OMNIST's still images, labelling of the
// neurons, then frame-by-frame classification of occluded videos with and without the
// short-term component F, into a run directory:
//   config.yaml, metrics.jsonl (one "epoch" record per training pass, one "eval" record),
//   receptive_fields.png (W of every neuron as a 28x28 tile, neurons in index order),
//   accuracy_vs_size.{svg,png}, accuracy_vs_frame.{svg,png}, results.json, report.md.
#include <cstdint>
#include <string>

#include "neurocore/core/config.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/data/registry.h"
#include "neurocore/learn/stdp.h"

namespace nc::learn {

/// Whether the config's learn.rule is stdp (reads nothing else).
bool is_stdp_config(const Config& config);

struct StdpExperiment {
  RunKeys keys;
  data::DataOptions data;      ///< name must be omnist; limit_train = static images used
  nn::LifWtaOptions neurons;   ///< the `model` section (name lif-wta)
  StdpOptions stdp;            ///< learn.stdp
  int64_t epochs = 3;          ///< train.epochs: passes over the still images, >= 1
  std::string eval_split = "test";  ///< evaluate.split: test | valid (hyper-parameter search)
  std::string effective_yaml;

  /// Reads and validates every section (unknown keys rejected). Throws UserError naming the
  /// field, e.g. data.name other than omnist, a negative time constant, an occluder larger
  /// than the frame.
  static StdpExperiment build(Config& config);
};

/// Runs the experiment into `run` (see the header comment). Throws UserError when the data
/// are missing.
void run_stdp(const StdpExperiment& exp, RunDir& run);

}  // namespace nc::learn
