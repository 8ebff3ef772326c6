// neurocore lm: character-level language modelling on a text corpus, by BPTT or OSTL
// (docs/lm.md).
#include <spdlog/spdlog.h>

#include "commands.h"
#include "dist_flags.h"
#include "load_config.h"
#include "neurocore/core/config.h"
#include "neurocore/core/io.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/core/seed.h"
#include "neurocore/dist/runtime.h"
#include "neurocore/learn/charlm.h"

namespace nc::cli {

namespace {

struct LmArgs {
  std::string config;
  std::vector<std::string> sets;
  bool dry_run = false;
  DistArgs dist;
};

void run_lm_cmd(const LmArgs& a, const Global& g) {
  Config config = load_config(a.config, a.sets, g);
  auto root = config.root();
  const RunKeys keys = RunKeys::from_config(root);
  const auto text = data::TextOptions::from_config(root.section("data"));
  const auto options =
      learn::lm_options(root.section("model"), root.section("learn"), root.section("train"));
  root.finish();
  // Everything is validated before the data is read and before the run directory exists.
  const auto corpus = data::load_text(text);
  seed_everything(keys.seed);
  learn::CharLm model(static_cast<int64_t>(corpus.vocabulary.size()), options);
  if (a.dry_run) return;  // validated: what `neurocore sweep` checks before its runs
  if (a.dist.nproc > 0) return launch_workers(a.dist, g);
  if (dist::launched_as_worker()) {
    return as_worker(a.dist, g, [&](dist::Group& group, const dist::World& world) {
      share_cores(world);
      dist::RankRun run(group, keys.runs_dir, keys.name, "", config.effective_yaml());
      dist::Runtime runtime(group, *model, a.dist.bucket_bytes());
      runtime.broadcast_model(*model);
      learn::run_lm(model, options, corpus, run.run(), &runtime);
      group.barrier("end of training");
    });
  }
  RunDir run = RunDir::create(keys.runs_dir, keys.name);
  write_file_atomic(run.file("config.yaml"), config.effective_yaml());
  spdlog::info("run directory: {}", run.path());
  learn::run_lm(model, options, corpus, run);
  spdlog::info("report: {}", run.file("report.md"));
}

}  // namespace

void add_lm(CLI::App& app, const Global& global) {
  auto args = std::make_shared<LmArgs>();
  auto* cmd = app.add_subcommand(
      "lm",
      "Character-level language modelling: one recurrent layer (snu, ssnu, lstm, gru) and a "
      "linear readout predict the next character of a text (default: the King James Bible, "
      "split by book), trained by truncated BPTT or OSTL; reports bits per character.\n\n"
      "Examples:\n"
      "  neurocore lm configs/lm-kjv-ssnu.yaml\n"
      "  neurocore lm configs/lm-kjv-ssnu.yaml --set learn.rule=ostl\n"
      "  neurocore lm configs/lm-kjv-lstm.yaml --set data.path=mytext.txt");
  cmd->add_option("CONFIG", args->config, "language-model config (YAML), see docs/lm.md")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->sets, "override a config value: key.path=value (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_dist_options(cmd, args->dist);
  cmd->add_flag("--dry-run", args->dry_run,
               "validate the config (and that the text exists), then exit without training or "
               "writing anything");
  cmd->callback([args, &global] { run_lm_cmd(*args, global); });
}

}  // namespace nc::cli
