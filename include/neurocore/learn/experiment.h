#pragma once
// An experiment: everything a config describes, built and validated in one place.
//
// Top-level keys: name, seed, threads, runs_dir, log_every, and the sections data,
// encoder, model, train, learn. Every key is validated; unknown keys are rejected.
#include <memory>
#include <string>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/data/dataset.h"
#include "neurocore/data/encoder.h"
#include "neurocore/data/registry.h"
#include "neurocore/learn/options.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/net.h"

namespace nc::learn {

struct Experiment {
  std::string name;       // run name ("" = timestamp)
  uint64_t seed = 42;
  int threads = 0;        // 0 = one per core
  std::string runs_dir = "runs";
  data::DataOptions data;
  data::EncoderOptions encoder;
  TrainOptions train;

  data::Dataset train_set, test_set;
  /// The validation split when data.validation is true (train_set then excludes it), else
  /// empty; the trainer reports valid_loss and valid_acc on it after each epoch.
  data::Dataset valid_set;
  data::Normalization norm{0.0, 1.0};
  std::shared_ptr<nn::NetImpl> model;
  std::string model_name;      // the config's model.name
  std::unique_ptr<Rule> rule;              // learn.rule
  std::unique_ptr<Modulation> modulation;  // learn.modulation; nullptr for none
  std::string effective_yaml;  // the config with every default filled in

  /// Parses and validates `config`, applies threads and seed, loads the data and builds
  /// the model (initialised from the seed). Normalisation (for non-spiking models) uses
  /// the train split's pixel mean and std. Throws UserError on any invalid field or
  /// missing data.
  /// `other_sections`: top-level keys that another reader validates (e.g. the pipeline's
  /// quantize, compile, place, simulate and evaluate sections); they are not rejected here.
  static Experiment build(Config& config, const std::vector<std::string>& other_sections = {});
};

}  // namespace nc::learn
