#include "neurocore/compress/prune/prune_run.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "neurocore/compress/prune/float_torchscript.h"
#include "neurocore/compress/prune/shrink.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/report.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"

namespace nc::compress::prune {
namespace {

namespace fs = std::filesystem;

// The model's own submodules without the pruner's extra parameters and buffers: what a
// checkpoint of the plain model holds.
struct PlainView : torch::nn::Module {
  explicit PlainView(torch::nn::Module& m) {
    for (const auto& c : m.named_children()) register_module(c.key(), c.value());
  }
};

nlohmann::json options_json(const PruneOptions& o) {
  return {{"method", to_string(o.method)},       {"budget", o.budget},
          {"budget_kind", to_string(o.kind)},    {"granularity", to_string(o.granularity)},
          {"scope", to_string(o.scope)},
          {"epochs", o.epochs},                  {"soft_fraction", o.soft_fraction},
          {"variant", o.variant == Variant::exact ? "exact" : "prox"},
          {"cost", o.cost == OtCost::squared ? "squared" : "linear"},
          {"schedule", o.schedule == Schedule::exponential ? "exponential" : "inverse"},
          {"eps0", o.eps0},                      {"eps_min", o.eps_min},
          {"eps_prox", o.eps_prox},              {"score_lr_factor", o.score_lr_factor},
          {"gmp_updates", o.gmp_updates},        {"rounding", to_string(o.rounding)},
          {"score_init", to_string(o.score_init)}};
}

PruneOptions options_from_json(const nlohmann::json& j) {
  PruneOptions o;
  o.method = parse_method(j.at("method"), "prune.json method");
  o.budget = j.at("budget");
  o.kind = parse_budget_kind(j.at("budget_kind"), "prune.json budget_kind");
  o.granularity = parse_granularity(j.at("granularity"), "prune.json granularity");
  o.scope = parse_scope(j.value("scope", std::string("global")), "prune.json scope");  // absent before scopes
  o.epochs = j.at("epochs");
  o.soft_fraction = j.at("soft_fraction");
  o.variant = j.at("variant") == "exact" ? Variant::exact : Variant::prox;
  o.cost = j.at("cost") == "squared" ? OtCost::squared : OtCost::linear;
  o.schedule = j.at("schedule") == "exponential" ? Schedule::exponential : Schedule::inverse;
  o.eps0 = j.at("eps0");
  o.eps_min = j.at("eps_min");
  o.eps_prox = j.at("eps_prox");
  o.score_lr_factor = j.at("score_lr_factor");
  o.gmp_updates = j.value("gmp_updates", int64_t{10});  // absent in prune runs older than gmp
  // Absent in prune runs older than the nearest rounding: they selected greedily.
  o.rounding = parse_rounding(j.value("rounding", std::string("greedy")), "prune.json rounding");
  o.score_init = parse_score_init(j.value("score_init", std::string("global")), "prune.json score_init");
  return o;
}

// Zeroes the weights the hard (weight) masks remove.
void bake_masks(Masker& masker, const torch::Tensor& hard) {
  torch::NoGradGuard no_grad;
  masker.set(hard);
  for (std::size_t l = 0; l < masker.structure().layers.size(); ++l)
    const_cast<torch::Tensor&>(masker.structure().layers[l].weight).mul_(masker.weight_mask(l));
}

std::string pct(double a, double b) { return fmt::format("{:.2f} %", b > 0 ? 100.0 * a / b : 0.0); }

}  // namespace

PruneRunResult prune_run(const std::string& source, const PruneRunOptions& o_in,
                         const std::string& resume) {
  PruneRunOptions o = o_in;
  nlohmann::json record;
  const bool writer = !o.ranks || o.ranks->writer();
  if (!resume.empty()) {
    std::string text = writer ? read_file(RunDir::open(resume).file("prune.json")) : "";
    if (o.ranks) text = o.ranks->from_writer(text);
    record = nlohmann::json::parse(text);
    o.prune = options_from_json(record.at("options"));
    o.lr = record.at("lr");
  }
  // Checks that need no model first (cheap, and nothing loaded on a typo).
  if (!(o.prune.budget > 0 && o.prune.budget < 1)) validate(o.prune, ModelStructure{});
  if (o.prune.epochs < 0) validate(o.prune, ModelStructure{});

  RunDir src = RunDir::open(resume.empty() ? source : record.at("source").get<std::string>());
  Config config = Config::load(src.file("config.yaml"));
  for (const auto& s : o.sets) config.set(s);
  if (o.threads >= 0) config.set("threads=" + std::to_string(o.threads));
  learn::Experiment exp = learn::Experiment::build(config);
  if (o.ranks) o.ranks->share_cores();
  const std::string ckpt = learn::last_checkpoint(src.checkpoints());
  if (ckpt.empty()) throw UserError(src.path() + ": no checkpoint yet (train at least one epoch)");
  learn::load_checkpoint(ckpt, *exp.model, nullptr);
  const auto& sizes = exp.test_set.images.sizes();
  const nn::InputShape in{sizes[1], sizes[2], sizes[3]};
  validate(o.prune, model_structure(*exp.model, in));
  if (o.dry_run) return {};

  const std::string source_yaml = exp.effective_yaml;
  const double lr = o.lr > 0 ? o.lr : exp.train.learning_rate / 10;
  exp.train.learning_rate = lr;
  std::string tag = fmt::format("prune-{}-{}-{:g}-{}", to_string(o.prune.method),
                                to_string(o.prune.kind), o.prune.budget, to_string(o.prune.granularity));
  const fs::path outp = !resume.empty() ? fs::path(resume)
                        : o.out.empty() ? fs::path(exp.runs_dir) / (fs::path(src.path()).filename().string() + "-" + tag)
                                        : fs::path(o.out);
  // The source config goes into OUT at once (RunDir::open needs one to resume an interrupted
  // run); the final, possibly shrunk, model's config replaces it at the end.
  RunDir out = o.ranks           ? o.ranks->output(outp.string(), !resume.empty(), source_yaml)
               : resume.empty() ? RunDir::create(outp.parent_path().empty() ? "." : outp.parent_path().string(),
                                                 outp.filename().string())
                                : RunDir::open(resume);
  if (!o.ranks && resume.empty()) write_file_atomic(out.file("config.yaml"), source_yaml);
  // The other ranks' scratch OUT is always new.
  const bool fresh = resume.empty() || !writer;
  RunDir train = fresh ? RunDir::create(out.path(), "train") : RunDir::open(out.file("train"));
  if (fresh) write_file_atomic(train.file("config.yaml"), source_yaml);
  if (resume.empty()) {
    record = {{"source", src.path()}, {"checkpoint", ckpt}, {"lr", lr}, {"options", options_json(o.prune)}};
    if (writer) write_file_atomic(out.file("prune.json"), record.dump(2) + "\n");
  }
  if (o.ranks) o.ranks->share_checkpoint(train, !resume.empty());
  if (writer) spdlog::info("prune run directory: {}", out.path());

  PruneRunResult rr;
  rr.path = out.path();
  ParallelFineTuning parallel;
  if (o.ranks) {
    parallel.world_size = o.ranks->world_size();
    parallel.runtime = [&](torch::nn::Module& m) { return o.ranks->runtime(m); };
  }
  rr.result = prune_experiment(exp, train, o.prune, parallel);
  if (!writer) return rr;  // rank 0 writes the results
  const PruneResult& r = rr.result;

  // The final model as an ordinary run: shrunk when it can be, else the masks baked in.
  ModelStructure st = model_structure(*exp.model, in);
  std::string final_yaml = source_yaml;
  std::shared_ptr<nn::NetImpl> final_model = exp.model;
  if (o.prune.granularity == Granularity::channel) {
    exp.model->set_hidden_hook({});
    const Shrunk s = shrink(*exp.model, st, r.hard);
    final_model = s.model;
    Config shrunk_config = Config::from_string(source_yaml, "the source run's effective config");
    for (const auto& set : s.config_sets) shrunk_config.set(set);
    final_yaml = shrunk_config.document_yaml();
    rr.shrunk = true;
  } else {
    Masker masker(*exp.model, st, o.prune.granularity);
    bake_masks(masker, r.hard);
  }
  write_file_atomic(out.file("config.yaml"), final_yaml);
  PlainView plain(*final_model);
  learn::save_checkpoint(out.checkpoints(), plain, nullptr, r.epochs);
  const std::string torchscript = out.file("pruned_torchscript.pt");
  final_model->eval();
  save_float_torchscript(*final_model, torchscript, o.fold_batch_norm);

  // Report.
  record["acc_before"] = r.acc_before;
  record["acc_after"] = r.acc_after;
  record["params_before"] = r.params_before;
  record["params_after"] = r.params_after;
  record["flops_before"] = r.flops_before;
  record["flops_after"] = r.flops_after;
  record["target"] = r.target;
  record["shrunk"] = rr.shrunk;
  record["torchscript_bn_folded"] = o.fold_batch_norm;
  write_file_atomic(out.file("prune.json"), record.dump(2) + "\n");
  // The last record carries the final model's metrics under the names every command uses
  // (test_acc, valid_acc), which `neurocore sweep` reads.
  nlohmann::json last = {{"kind", "prune"}, {"stage", "final"}, {"acc_before", r.acc_before},
                         {"acc_after", r.acc_after}, {"test_acc", r.acc_after}, {"test_loss", r.loss_after},
                         {"params_before", r.params_before}, {"params_after", r.params_after},
                         {"flops_before", r.flops_before}, {"flops_after", r.flops_after}};
  if (r.valid_after.examples > 0) {
    last["valid_acc"] = r.valid_after.accuracy;
    last["valid_loss"] = r.valid_after.loss;
    record["valid_after"] = r.valid_after.accuracy;
    write_file_atomic(out.file("prune.json"), record.dump(2) + "\n");
  }
  out.log_metrics(last);
  BarSpec bars;
  bars.title = "kept fraction of each layer's weights";
  bars.ylabel = "kept fraction";
  std::string table = "| layer | weights | kept | kept fraction |\n|---|---|---|---|\n";
  for (const auto& l : r.layers) {
    bars.labels.push_back(l.name);
    bars.values.push_back(static_cast<double>(l.kept) / l.weights);
    table += fmt::format("| {} | {} | {} | {} |\n", l.name, l.weights, l.kept, pct(l.kept, l.weights));
  }
  const bool plotted = plot_bars(out.file("sparsity"), bars);
  const auto& po = o.prune;
  std::vector<std::string> summary{
      fmt::format("source run: `{}` (checkpoint `{}`)", src.path(), ckpt),
      fmt::format("method {}, budget {:g} of the dense {} kept ({} granularity, {} budget), {} epochs of "
                  "fine-tuning at learning rate {:g} ({})",
                  to_string(po.method), po.budget, to_string(po.kind), to_string(po.granularity),
                  po.scope == Scope::layer ? "per-layer" : "global", po.epochs, lr, exp.train.optimizer),
      po.method == Method::dtp
          ? fmt::format("DTP: {} solver, {} cost, soft masks for the first {} epoch(s), then hard{}",
                        po.variant == Variant::exact ? fmt::format("exact (eps {:g} -> {:g}, {})", po.eps0, po.eps_min,
                                                                   po.schedule == Schedule::exponential ? "exponential" : "inverse")
                                                     : fmt::format("one-sweep prox (eps {:g})", po.eps_prox),
                        po.cost == OtCost::squared ? "squared" : "linear",
                        static_cast<int64_t>(std::ceil(po.soft_fraction * po.epochs - 1e-9)),
                        po.granularity == Granularity::channel && po.scope == Scope::global
                            ? fmt::format(" ({} rounding)", to_string(po.rounding))
                            : "")
      : po.method == Method::gmp
          ? fmt::format("gradual magnitude pruning: {} mask updates on a cubic schedule in the first {} epoch(s), then fixed",
                        po.gmp_updates, static_cast<int64_t>(std::ceil(po.soft_fraction * po.epochs - 1e-9)))
      : po.method == Method::ste
          ? fmt::format("straight-through hard top-k of learned scores for the first {} epoch(s), then fixed",
                        static_cast<int64_t>(std::ceil(po.soft_fraction * po.epochs - 1e-9)))
          : "one-shot selection at epoch 0, fixed while fine-tuning",
      fmt::format("test accuracy before {:.2f} %, after {:.2f} %", r.acc_before, r.acc_after),
      fmt::format("weight parameters before {:.0f}, after {:.0f} ({})", r.params_before, r.params_after,
                  pct(r.params_after, r.params_before)),
      fmt::format("MACs per sample before {:.0f}, after {:.0f} ({})", r.flops_before, r.flops_after,
                  pct(r.flops_after, r.flops_before)),
      fmt::format("budget {:.0f} {}: met ({:.0f})", r.target, to_string(po.kind),
                  po.kind == BudgetKind::params ? r.params_after : r.flops_after),
      rr.shrunk ? "the final model is physically shrunk: `config.yaml` names its shape, `checkpoints/` holds it"
                : "the final model keeps the dense shape with the pruned weights set to zero (`checkpoints/`)",
      "training run with masks and scores (resume with --resume): `train/`",
      fmt::format("the final model as TorchScript (torch.jit.load{}): `pruned_torchscript.pt`",
                  o.fold_batch_norm ? "; BatchNorms folded into the convolutions" : "")};
  write_run_report(out, "prune " + tag, summary);
  write_file_atomic(out.file("report.md"),
                    read_file(out.file("report.md")) + "\n## Kept weights per layer\n\n" +
                        (plotted ? "![kept fraction per layer](sparsity.svg)\n\n" : "") + table);
  return rr;
}

}  // namespace nc::compress::prune
