// neurocore continual: train one model on a sequence of permuted-pixel tasks and measure
// forgetting (docs/continual.md).
#include <spdlog/spdlog.h>

#include "commands.h"
#include "dist_flags.h"
#include "load_config.h"
#include "neurocore/core/config.h"
#include "neurocore/core/io.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/dist/runtime.h"
#include "neurocore/learn/continual.h"

namespace nc::cli {

namespace {

struct ContinualArgs {
  std::string config;
  std::vector<std::string> sets;
  bool dry_run = false;
  DistArgs dist;
};

void run_continual_cmd(const ContinualArgs& a, const Global& g) {
  Config config = load_config(a.config, a.sets, g);
  // The continual section first: a typo there fails before any data is loaded.
  const learn::ContinualOptions options =
      learn::continual_options(config.root().section("continual"));
  if (a.dist.nproc > 0 && !a.dry_run) return launch_workers(a.dist, g);
  if (dist::launched_as_worker() && !a.dry_run) {
    return as_worker(a.dist, g, [&](dist::Group& group, const dist::World& world) {
      learn::Experiment exp = learn::Experiment::build(config, {"continual"});
      share_cores(world);
      exp.effective_yaml = config.effective_yaml();
      dist::RankRun run(group, exp.runs_dir, exp.name, "", exp.effective_yaml);
      dist::Runtime runtime(group, *exp.model, a.dist.bucket_bytes());
      runtime.broadcast_model(*exp.model);
      learn::run_continual(exp, options, run.run(), &runtime);
      group.barrier("end of the task sequence");
    });
  }
  learn::Experiment exp = learn::Experiment::build(config, {"continual"});
  if (a.dry_run) return;  // validated: what `neurocore sweep` checks before its runs
  exp.effective_yaml = config.effective_yaml();
  RunDir run = RunDir::create(exp.runs_dir, exp.name);
  write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  spdlog::info("run directory: {}", run.path());
  learn::run_continual(exp, options, run);
  spdlog::info("report: {}", run.file("report.md"));
}

}  // namespace

void add_continual(CLI::App& app, const Global& global) {
  auto args = std::make_shared<ContinualArgs>();
  auto* cmd = app.add_subcommand(
      "continual",
      "Continual learning on permuted-pixel tasks: train one model on task 1, 2, ... in "
      "sequence (train.epochs each) and report the accuracy on every task after each one.\n"
      "The config is a training config plus a `continual` section: tasks (5), "
      "permutation_seed (0), identity_first (false).\n\nExamples:\n"
      "  neurocore continual configs/continual-mnist10k.yaml\n"
      "  neurocore continual configs/continual-mnist10k.yaml --set learn.modulation=grapes "
      "--set seed=2");
  cmd->add_option("CONFIG", args->config, "experiment config (YAML), see docs/continual.md")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "override a config value: key.path=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_dist_options(cmd, args->dist);
  cmd->add_flag("--dry-run", args->dry_run,
               "validate the config (and that the data exist), then exit without training or "
               "writing anything");
  cmd->callback([args, &global] { run_continual_cmd(*args, global); });
}

}  // namespace nc::cli
