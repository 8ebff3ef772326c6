// neurocore pipeline: train -> quantize -> compile -> place -> simulate -> evaluate in one
// command, resuming where an earlier run of the same pipeline stopped (docs/pipeline.md).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "load_config.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/pipeline/pipeline.h"

namespace nc::cli {

namespace {

struct PipelineArgs {
  std::string config, until;
  std::vector<std::string> sets;
  bool dry_run = false;
};

void run_pipeline_command(const PipelineArgs& a, const Global& g) {
  Config config = load_config(a.config, a.sets, g);
  if (a.dry_run) {  // what `neurocore sweep` checks before its runs
    pipeline::validate_pipeline_config(config);
    return;
  }
  const auto r = pipeline::run_pipeline(config, a.until);
  const std::string ran = r.ran.empty() ? "none (everything was up to date)" : [&] {
    std::string s;
    for (const auto& n : r.ran) s += (s.empty() ? "" : ", ") + n;
    return s;
  }();
  spdlog::info("stages run: {}", ran);
  fmt::print("report: {}\n", r.report_html);
}

}  // namespace

void add_pipeline(CLI::App& app, const Global& global) {
  auto args = std::make_shared<PipelineArgs>();
  auto* cmd = app.add_subcommand(
      "pipeline",
      "Train, quantize, compile, place and simulate a model on a computational-memory "
      "accelerator, in one command. Each stage writes a sub-directory of runs/<name>/ and is "
      "skipped when its outputs are up to date, so an interrupted pipeline resumes and a "
      "changed late stage re-runs only from there. Writes report.md and report.html.\n\n"
      "Examples:\n  neurocore pipeline configs/pipeline.yaml\n"
      "  neurocore pipeline configs/pipeline.yaml --set place.topology=mesh\n"
      "  neurocore pipeline configs/pipeline.yaml --until compile\n"
      "  neurocore pipeline configs/pipeline-snu.yaml      # spiking network trained by OSTL");
  cmd->add_option("CONFIG", args->config, "pipeline config (YAML), see docs/pipeline.md")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "override a config value: key.path=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--until", args->until,
                  "stop after this stage: train, quantize, compile, place, simulate or evaluate");
  cmd->add_flag("--dry-run", args->dry_run,
               "validate every section of the config (and that the data exist), then exit "
               "without running a stage or writing anything");
  cmd->callback([args, &global] { run_pipeline_command(*args, global); });
}

}  // namespace nc::cli
