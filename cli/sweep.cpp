// neurocore sweep: settings x seeds of a command, summarised with spread and intervals
// (docs/sweep.md). Flags become a SweepSpec; the sweep itself is learn::run_sweep.
#include <filesystem>

#include "commands.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/sweep.h"

namespace nc::cli {

namespace {

namespace fs = std::filesystem;

struct SweepArgs {
  std::string file, command, out, select, select_mode, test_metric;
  std::vector<std::string> grid, sets, args;
  int64_t seeds = 0, first_seed = -1, jobs = 0;
};

void run_sweep_cmd(const SweepArgs& a, const Global& g) {
  learn::SweepSpec spec;
  if (!fs::is_directory(a.file) && learn::SweepSpec::is_sweep_file(a.file)) {
    spec = learn::SweepSpec::from_file(a.file);
    if (!a.command.empty() && a.command != spec.command) {
      throw UserError("--command " + a.command + ": " + a.file + " is a sweep file of command " +
                      spec.command + "; drop --command or change its `command`");
    }
  } else {
    spec.target = a.file;
    if (!a.command.empty()) spec.command = a.command;
  }
  // Flags add to (or override) what a sweep file says.
  if (a.seeds > 0) spec.seeds = a.seeds;
  if (a.first_seed >= 0) spec.first_seed = a.first_seed;
  if (a.jobs > 0) spec.jobs = a.jobs;
  if (!a.out.empty()) spec.out = a.out;
  if (!a.select.empty()) spec.select = a.select;
  if (!a.select_mode.empty()) spec.select_mode = a.select_mode;
  if (!a.test_metric.empty()) spec.test_metric = a.test_metric;
  spec.sets.insert(spec.sets.end(), a.sets.begin(), a.sets.end());
  if (g.threads >= 0) spec.sets.push_back("threads=" + std::to_string(g.threads));
  spec.args.insert(spec.args.end(), a.args.begin(), a.args.end());
  for (const auto& axis : a.grid) spec.grid.push_back(learn::parse_axis(axis, "--grid"));
  learn::run_sweep(spec, fs::read_symlink("/proc/self/exe").string());
}

}  // namespace

void add_sweep(CLI::App& app, const Global& global) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Run a command over a grid of settings x seeds (child processes, --jobs at a time), "
      "resumably, and summarise each final metric per setting: mean, std, 95 % t-interval; "
      "select the best setting on the validation metric. Writes DIR/sweep.json and "
      "DIR/report.md (docs/sweep.md).\n\nExamples:\n"
      "  neurocore sweep configs/sweep-snu-mlp-fashion.yaml\n"
      "  neurocore sweep configs/mlp-fashion.yaml --seeds 3 --set data.validation=true "
      "--grid train.learning_rate=0.001,0.002\n"
      "  neurocore sweep runs/r20 --command quantize --arg=--method=efqat "
      "--grid=--fraction=0.01,0.1 --seeds 2");
  cmd->add_option("SWEEP_OR_CONFIG", a->file,
                  "a sweep file (YAML with a `command` key), or the command's config "
                  "(quantize, prune: its RUN_DIR)")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--command", a->command,
                  "train (default), lm, continual, quantize, prune or pipeline");
  cmd->add_option("--grid", a->grid,
                  "an axis: key=v1,v2,... (a config key, or a command flag such as --lr); "
                  "repeatable, the settings are their cartesian product")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--set", a->sets, "override a config value in every run: key.path=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--arg", a->args, "an argument passed to every run, e.g. --arg=--method=qat (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--seeds", a->seeds, "seeds per setting (default 3)")->check(CLI::PositiveNumber);
  cmd->add_option("--first-seed", a->first_seed, "the first seed (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--jobs,-j", a->jobs, "runs at a time (default 1)")->check(CLI::PositiveNumber);
  cmd->add_option("--out", a->out, "the sweep directory (default sweeps/<config name>)");
  cmd->add_option("--select", a->select,
                  "metric the best setting is chosen on (default valid_acc; lm: valid_bpc)");
  cmd->add_option("--select-mode", a->select_mode, "max or min (default: min for loss/bpc/error)");
  cmd->add_option("--test-metric", a->test_metric,
                  "metric reported for the selected setting (default: the selection metric "
                  "with valid -> test)");
  cmd->callback([a, &global] { run_sweep_cmd(*a, global); });
}

}  // namespace nc::cli
