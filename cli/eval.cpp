// neurocore eval: evaluate a run's last checkpoint on a dataset.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "neurocore/core/error.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/trainer.h"

namespace nc::cli {

namespace {

struct EvalArgs {
  std::string run_dir, data, split = "test";
};

void run_eval(const EvalArgs& a, const Global& g) {
  RunDir run = RunDir::open(a.run_dir);
  Config config = Config::load(run.file("config.yaml"));
  if (!a.data.empty()) config.set("data.name=" + a.data);
  if (g.threads >= 0) config.set("threads=" + std::to_string(g.threads));
  learn::Experiment exp = learn::Experiment::build(config);
  const std::string ckpt = learn::last_checkpoint(run.checkpoints());
  if (ckpt.empty()) throw UserError(run.path() + ": no checkpoint yet (train at least one epoch)");
  const int64_t epochs = learn::load_checkpoint(ckpt, *exp.model, nullptr);
  learn::Trainer trainer(exp, run);
  const auto& set = a.split == "train" ? exp.train_set : exp.test_set;
  const auto r = trainer.evaluate(set);
  run.log_metrics({{"kind", "eval"},
                   {"checkpoint_epoch", epochs},
                   {"data", exp.data.name},
                   {"split", a.split},
                   {"loss", r.loss},
                   {"acc", r.accuracy},
                   {"examples", r.examples}});
  fmt::print("{} {} ({} examples), checkpoint after epoch {}: accuracy {:.2f}%, loss {:.4f}\n",
             exp.data.name, a.split, r.examples, epochs, r.accuracy, r.loss);
}

}  // namespace

void add_eval(CLI::App& app, const Global& global) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval",
      "Evaluate the last checkpoint of a run; prints accuracy and appends it to the run's "
      "metrics.jsonl.\n\nExamples:\n  neurocore eval runs/snu-mlp-fashion\n"
      "  neurocore eval runs/mlp-mnist --data mnist-10k --split train");
  cmd->add_option("RUN_DIR", args->run_dir, "a run directory written by `neurocore train`")
      ->required();
  cmd->add_option("--data", args->data, "dataset name (default: the one trained on)");
  cmd->add_option("--split", args->split, "test or train")
      ->check(CLI::IsMember({"test", "train"}));
  cmd->callback([args, &global] { run_eval(*args, global); });
}

}  // namespace nc::cli
