#pragma once
// neurocore's main job: train -> quantize -> compile -> place -> simulate -> evaluate, each
// stage in its own sub-directory of the pipeline's run directory, skipped when up to date
// (docs/pipeline.md). Every stage's settings are validated before the first stage runs.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "neurocore/core/config.h"

namespace nc::pipeline {

/// The stages in the order they run.
const std::vector<std::string>& stage_names();

struct PipelineResult {
  std::string dir;                 // the pipeline's run directory
  std::vector<std::string> ran;    // stages that ran (the others were up to date)
  nlohmann::json summary;          // per stage: its summary
  std::string report_md, report_html;
};

/// Validates every section of `config` (the experiment's keys as for `neurocore train`, plus
/// quantize, compile, place, simulate and evaluate: docs/pipeline.md), then runs the stages up
/// to and including `until` ("" = all) in `runs_dir/name`. Throws UserError on any invalid
/// field, before any stage runs.
PipelineResult run_pipeline(Config& config, const std::string& until = "");

/// The validation run_pipeline does before its first stage (loads the data and builds the
/// model), without running anything. Throws UserError on any invalid field.
void validate_pipeline_config(Config& config);

}  // namespace nc::pipeline
