// neurocore train: train a model described by a config, or resume a run.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "commands.h"
#include "dist_flags.h"
#include "load_config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/asr/train.h"
#include "neurocore/dist/runtime.h"
#include "neurocore/dist/world.h"
#include "neurocore/learn/stdp_experiment.h"
#include "neurocore/learn/trainer.h"

namespace nc::cli {

namespace {

struct TrainArgs {
  std::string config, resume;
  std::vector<std::string> sets;
  bool dry_run = false;
  DistArgs dist;
};

void run_worker(const TrainArgs& a, Config& config, const Global& g) {
  as_worker(a.dist, g, [&](dist::Group& group, const dist::World& world) {
    learn::Experiment exp = learn::Experiment::build(config);
    share_cores(world);
    const std::string path = dist::train(exp, group, a.resume, a.dist.bucket_bytes());
    if (world.rank == 0) spdlog::info("report: {}", (std::filesystem::path(path) / "report.md").string());
  });
}

void run_train(const TrainArgs& a, const Global& g) {
  if (a.config.empty() == a.resume.empty()) {
    throw UserError("train: give a CONFIG file, or --resume RUN_DIR (not both)");
  }
  const std::string config_path =
      a.resume.empty() ? a.config : (std::filesystem::path(a.resume) / "config.yaml").string();
  if (!a.resume.empty()) RunDir::open(a.resume);  // validates the folder before any work
  Config config = load_config(config_path, a.sets, g);
  if (distributed(a.dist) && (asr::is_asr_config(config) || learn::is_stdp_config(config))) {
    throw UserError("train: --nproc / WORLD_SIZE (data-parallel training) supports the Trainer's "
                    "configs (rules bptt, ostl, GRAPES modulation, ESSOP updates); not ASR or learn.rule stdp");
  }
  if (a.dist.nproc > 0 && !a.dry_run) return launch_workers(a.dist, g);
  if (dist::launched_as_worker() && !a.dry_run) return run_worker(a, config, g);
  if (asr::is_asr_config(config)) {  // its own loop: RNN-T, WER/CER (docs/asr.md)
    const auto e = asr::AsrExperiment::build(config);
    if (a.dry_run) return;
    RunDir run = a.resume.empty() ? RunDir::create(e.keys.runs_dir, e.keys.name) : RunDir::open(a.resume);
    write_file_atomic(run.file("config.yaml"), e.effective_yaml);
    spdlog::info("run directory: {}", run.path());
    asr::run_asr(e, run);
    spdlog::info("report: {}", run.file("report.md"));
    return;
  }
  if (learn::is_stdp_config(config)) {  // its own flow: no optimizer, no batches (docs/st-stdp.md)
    if (!a.resume.empty()) throw UserError("train: --resume is not supported with learn.rule stdp");
    const auto stdp = learn::StdpExperiment::build(config);
    if (a.dry_run) return;
    RunDir run = RunDir::create(stdp.keys.runs_dir, stdp.keys.name);
    write_file_atomic(run.file("config.yaml"), stdp.effective_yaml);
    spdlog::info("run directory: {}", run.path());
    learn::run_stdp(stdp, run);
    spdlog::info("report: {}", run.file("report.md"));
    return;
  }
  learn::Experiment exp = learn::Experiment::build(config);
  if (a.dry_run) return;  // validated: what `neurocore sweep` checks before its runs

  RunDir run = a.resume.empty() ? RunDir::create(exp.runs_dir, exp.name) : RunDir::open(a.resume);
  write_file_atomic(run.file("config.yaml"), exp.effective_yaml);
  spdlog::info("run directory: {}", run.path());
  learn::Trainer trainer(exp, run);
  if (!a.resume.empty()) trainer.resume();
  if (trainer.epochs_done() >= exp.train.epochs) {
    spdlog::info("all {} epochs already done; raise train.epochs with --set to train more",
                 exp.train.epochs);
  }
  trainer.fit();
  spdlog::info("report: {}", run.file("report.md"));
}

}  // namespace

void add_train(CLI::App& app, const Global& global) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand(
      "train",
      "Train a model from a YAML config; writes runs/<name>/ with config.yaml, "
      "metrics.jsonl, checkpoints/ and report.md.\n\nExamples:\n"
      "  neurocore train configs/snu-mlp-fashion.yaml\n"
      "  neurocore train configs/resnet20-fashion.yaml --set train.epochs=5 --set name=r20\n"
      "  neurocore train --resume runs/r20 --set train.epochs=10\n"
      "  neurocore train configs/mlp-fashion.yaml --nproc 2   (data-parallel, docs/distributed.md)");
  cmd->add_option("CONFIG", args->config, "experiment config (YAML), see docs/configs.md")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "override a config value: key.path=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--resume", args->resume,
                  "continue the run in RUN_DIR from its last checkpoint (its config.yaml is used)");
  add_dist_options(cmd, args->dist);
  cmd->add_flag("--dry-run", args->dry_run,
               "validate the config and arguments (and that the data exist), then exit without "
               "training or writing anything");
  cmd->callback([args, &global] { run_train(*args, global); });
}

}  // namespace nc::cli
