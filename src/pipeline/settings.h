#pragma once
// The pipeline's own config sections, validated before any stage runs (docs/pipeline.md).
#include <cstdint>
#include <string>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/core/config.h"

namespace nc::pipeline {

struct PruneSettings {
  std::string method = "none";  // none | dtp | magnitude | uniform | l1 (docs/prune.md)
  double budget = 0.5;          // kept fraction
  std::string budget_kind = "params";
  std::string granularity = "channel";
  int64_t epochs = 1;
  double lr = 0;                // 0: train.learning_rate / 10
  std::string text() const;
};

struct QuantizeSettings {
  std::string method = "none";  // none | ptq | efqat | qat
  std::string bits = "W8A8";
  std::string mode = "cwpn";
  double fraction = 0.1;
  int64_t epochs = 1;
  int64_t calib = 1024;
  std::string text() const;  // canonical form: the stage's fingerprint input
};

struct CompileSettings {
  std::string hw_path = "configs/hw/default.yaml";
  cm::Hardware hw;
  std::string hw_text;  // the file's content: editing it re-runs compile and what follows
  std::string text() const;
};

struct PlaceSettings {
  std::string topology;  // a cm::Topology::make name; "" in the config = the hw spec's
  double time_budget_s = 5.0;
  std::string text() const;
};

struct SimulateSettings {
  int64_t images = 10;
  std::string text() const;
};

struct EvaluateSettings {
  int64_t limit = 0;        // test images run through the compiled graph (LibTorch); 0 = all
  int64_t images = 200;     // test images run through the functional simulator (slower)
  double full_if_under_s = 0;  // > 0: all of them when that takes at most this long (estimated)
  cm::AnalogOptions analog; // the accelerator's non-idealities in the functional simulation
  std::string text() const;
};

struct Settings {
  PruneSettings prune;
  QuantizeSettings quantize;
  CompileSettings compile;
  PlaceSettings place;
  SimulateSettings simulate;
  EvaluateSettings evaluate;
  /// Reads and validates the sections; throws UserError naming the field.
  static Settings from_config(const Config& config);
};

/// The top-level sections Settings reads (so that the experiment does not reject them).
const std::vector<std::string>& settings_sections();

}  // namespace nc::pipeline
