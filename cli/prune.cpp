// neurocore prune: prune a trained run under an exact parameter or FLOP budget (docs/prune.md).
#include <fmt/format.h>

#include <filesystem>

#include "commands.h"
#include "dist_flags.h"
#include "neurocore/compress/prune/prune_run.h"
#include "neurocore/core/error.h"
#include "neurocore/dist/runtime.h"

namespace nc::cli {

namespace {

using namespace nc::compress::prune;

struct PruneArgs {
  std::string run_dir, method = "dtp", kind = "params", granularity = "weight", scope = "global", out, resume;
  std::string variant = "exact", cost = "squared", schedule = "exponential", rounding = "nearest",
              score_init = "global";
  double budget = 0.1, lr = -1, soft_fraction = 0.6, eps0 = 1, eps_min = 1e-3, eps_prox = 20;
  int64_t epochs = 3, gmp_updates = 10;
  bool dry_run = false, no_fold_bn = false;
  std::vector<std::string> sets;
  DistArgs dist;
};

// One rank of `neurocore prune --nproc`: rank 0's prune run, a scratch one elsewhere
// (dist::RankRun), its checkpoint and prune.json sent through the rendezvous store.
class DistRanks : public PruneRanks {
 public:
  DistRanks(dist::Group& group, const dist::World& world, int64_t bucket_bytes)
      : group_(group), world_(world), bucket_bytes_(bucket_bytes) {}
  bool writer() const override { return group_.rank() == 0; }
  int world_size() const override { return group_.size(); }
  void share_cores() override { cli::share_cores(world_); }
  std::string from_writer(const std::string& text) override {
    if (writer()) group_.store().set("nc/prune/text", std::vector<uint8_t>(text.begin(), text.end()));
    const auto v = group_.store().get("nc/prune/text");
    return {v.begin(), v.end()};
  }
  RunDir output(const std::string& path, bool resume, const std::string& config_yaml) override {
    const std::filesystem::path p(path);
    run_ = std::make_unique<dist::RankRun>(group_, p.parent_path().empty() ? "." : p.parent_path().string(),
                                           p.filename().string(), resume ? path : "", config_yaml);
    return run_->run();
  }
  void share_checkpoint(const RunDir& train, bool resume) override { dist::share_checkpoint(group_, train, resume); }
  std::unique_ptr<learn::DataParallel> runtime(torch::nn::Module& model) override {
    return std::make_unique<dist::Runtime>(group_, model, bucket_bytes_);
  }

 private:
  dist::Group& group_;
  const dist::World& world_;
  int64_t bucket_bytes_;
  std::unique_ptr<dist::RankRun> run_;
};

void report(const PruneRunResult& r) {
  const auto& p = r.result;
  fmt::print("test accuracy before {:.2f}%, after {:.2f}%; weight parameters {:.0f} -> {:.0f}; MACs {:.0f} -> {:.0f}{}\n",
             p.acc_before, p.acc_after, p.params_before, p.params_after, p.flops_before, p.flops_after,
             r.shrunk ? " (shrunk)" : "");
  fmt::print("report: {}/report.md\n", r.path);
}

void run_prune(const PruneArgs& a, const Global& g) {
  PruneRunOptions o;
  o.prune.method = parse_method(a.method, "--method");
  o.prune.kind = parse_budget_kind(a.kind, "--budget-kind");
  o.prune.granularity = parse_granularity(a.granularity, "--granularity");
  o.prune.scope = parse_scope(a.scope, "--scope");
  o.prune.rounding = parse_rounding(a.rounding, "--rounding");
  o.prune.score_init = parse_score_init(a.score_init, "--score-init");
  if (a.variant != "exact" && a.variant != "prox")
    throw UserError("--variant: expected exact or prox, got '" + a.variant + "'");
  if (a.cost != "squared" && a.cost != "linear")
    throw UserError("--cost: expected squared or linear, got '" + a.cost + "'");
  if (a.schedule != "exponential" && a.schedule != "inverse")
    throw UserError("--schedule: expected exponential or inverse, got '" + a.schedule + "'");
  if (!(a.eps0 > 0) || !(a.eps_min > 0) || !(a.eps_prox > 0))
    throw UserError(fmt::format("--eps0, --eps-min, --eps-prox: expected > 0, got {}, {}, {}", a.eps0,
                                a.eps_min, a.eps_prox));
  o.prune.variant = a.variant == "exact" ? Variant::exact : Variant::prox;
  o.prune.cost = a.cost == "squared" ? OtCost::squared : OtCost::linear;
  o.prune.schedule = a.schedule == "exponential" ? Schedule::exponential : Schedule::inverse;
  o.prune.budget = a.budget;
  o.prune.epochs = a.epochs;
  o.prune.soft_fraction = a.soft_fraction;
  o.prune.gmp_updates = a.gmp_updates;
  o.prune.eps0 = a.eps0;
  o.prune.eps_min = a.eps_min;
  o.prune.eps_prox = a.eps_prox;
  o.out = a.out;
  o.lr = a.lr;
  o.sets = a.sets;
  o.threads = g.threads;
  o.dry_run = a.dry_run;
  o.fold_batch_norm = !a.no_fold_bn;
  if (a.dry_run) {  // one process validates; no workers are started
    prune_run(a.run_dir, o, a.resume);
    return;
  }
  if (a.dist.nproc > 0) return launch_workers(a.dist, g);
  if (dist::launched_as_worker()) {
    return as_worker(a.dist, g, [&](dist::Group& group, const dist::World& world) {
      DistRanks ranks(group, world, a.dist.bucket_bytes());
      o.ranks = &ranks;
      const auto r = prune_run(a.run_dir, o, a.resume);
      group.barrier("end of pruning");
      if (group.rank() == 0) report(r);
    });
  }
  report(prune_run(a.run_dir, o, a.resume));
}

}  // namespace

void add_prune(CLI::App& app, const Global& global) {
  auto a = std::make_shared<PruneArgs>();
  auto* cmd = app.add_subcommand(
      "prune",
      "Prune a trained run under an exact budget (a fraction of the weight parameters or of the "
      "MACs kept): DTP (optimal-transport soft top-k masks annealed to hard ones) or the "
      "baselines magnitude, uniform, l1, gmp, ste; fine-tunes, shrinks channel-pruned models and writes a "
      "run directory with report.md.\n\nExamples:\n"
      "  neurocore prune runs/lenet5 --method dtp --budget 0.1 --epochs 3\n"
      "  neurocore prune runs/r20 --method l1 --budget 0.2 --budget-kind flops --granularity channel");
  cmd->add_option("RUN_DIR", a->run_dir, "a run directory written by `neurocore train`")->required();
  cmd->add_option("--method", a->method, "dtp, magnitude (global), uniform (layer-uniform magnitude), l1 (channel), gmp (gradual "
                  "magnitude) or ste (straight-through hard top-k) (default dtp)");
  cmd->add_option("--budget", a->budget, "fraction of the dense cost kept, in (0, 1) (default 0.1)");
  cmd->add_option("--budget-kind", a->kind, "params or flops (default params)");
  cmd->add_option("--granularity", a->granularity, "weight or channel (default weight)");
  cmd->add_option("--scope", a->scope, "global (one budget across layers) or layer (every layer a budget of its own: weights, the fraction r of its cost; channels, an exact count of its channels, the largest common fraction that fits) (default global)");
  cmd->add_option("--epochs", a->epochs, "fine-tuning epochs, the same for every method (default 3)");
  cmd->add_option("--lr", a->lr, "fine-tuning learning rate (default train.learning_rate / 10)");
  cmd->add_option("--soft-fraction", a->soft_fraction,
                  "dtp, ste, gmp: share of the epochs that prune (soft masks, straight-through, gradual) (default 0.6)");
  cmd->add_option("--gmp-updates", a->gmp_updates, "gmp: mask updates while pruning (default 10)");
  cmd->add_option("--variant", a->variant, "dtp: exact (threshold solve + schedule) or prox (one Sinkhorn sweep) (default exact)");
  cmd->add_option("--cost", a->cost, "dtp: transport cost squared or linear (default squared)");
  cmd->add_option("--schedule", a->schedule, "dtp exact: exponential or inverse temperature (default exponential)");
  cmd->add_option("--eps0", a->eps0, "dtp exact: first temperature (default 1)");
  cmd->add_option("--eps-min", a->eps_min, "dtp exact: last temperature (default 1e-3)");
  cmd->add_option("--eps-prox", a->eps_prox, "dtp prox: epsilon (default 20)");
  cmd->add_option("--score-init", a->score_init,
                  "dtp, ste: initial scores, the magnitudes divided by the network's largest (global) or by "
                  "their layer's largest (layer) (default global)");
  cmd->add_option("--rounding", a->rounding,
                  "dtp, global channel budget: how the final hard selection rounds the soft masks: nearest (the "
                  "selection under the budget nearest them), greedy (decreasing score while it fits) or plan (--variant prox: "
                  "the nearest rounding of the prox plan's own last masks) (default nearest)");
  cmd->add_option("--out", a->out, "output run directory (default <runs_dir>/<run>-prune-<method>-...)");
  cmd->add_option("--resume", a->resume, "continue the prune run directory PRUNE_RUN (its own options)");
  cmd->add_option("--set", a->sets, "override a value of the run's config (e.g. data.limit_train=512)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag("--dry-run", a->dry_run, "validate the arguments, the run and the model, then exit");
  cmd->add_flag("--no-fold-bn", a->no_fold_bn,
                "write pruned_torchscript.pt with its BatchNorms as they are (default: folded into the convolutions; "
                "the checkpoint always keeps them)");
  add_dist_options(cmd, a->dist);
  cmd->callback([a, &global] { run_prune(*a, global); });
}

}  // namespace nc::cli
