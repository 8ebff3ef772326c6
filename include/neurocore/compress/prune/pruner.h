#pragma once
// Pruning a trained model under an exact parameter or FLOP budget (docs/prune.md; spec dtp.md
// §6): DTP (learned soft top-k masks annealed to hard ones) and the baselines global
// magnitude, layer-uniform magnitude and L1-norm channel pruning, all fine-tuned for the same
// number of epochs by the ordinary Trainer (its optimizer, SGD or Adam, its checkpoints and
// resume).
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/compress/prune/soft_topk.h"
#include "neurocore/compress/prune/structure.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/data_parallel.h"
#include "neurocore/learn/experiment.h"
#include "neurocore/learn/trainer.h"

namespace nc::compress::prune {

/// dtp: learned masks; magnitude: global |w| (weight) or normalised filter L1 norm (channel)
/// ranking; uniform: every layer keeps the same fraction of its largest weights / filters;
/// l1: L1-norm channel pruning (Li et al.), layer-uniform by filter L1 norm (channel only);
/// gmp: gradual magnitude pruning (Zhu & Gupta), the kept fraction falling from 1 to the budget
/// on a cubic schedule during the pruning phase, global magnitude ranking of the kept weights /
/// filters; ste: a straight-through hard top-k of learned scores (the forward pass uses the hard
/// selection, the backward pass treats the masks as the scores).
enum class Method { dtp, magnitude, uniform, l1, gmp, ste };
enum class Variant { exact, prox };
/// global: one budget across all layers (the default); layer: every layer is a pruning
/// group with a budget of its own: weights, the fraction r of the layer's weight cost; channels,
/// an exact number of the layer's channel elements (channel_layer_shares).
enum class Scope { global, layer };
/// How DTP's final hard selection rounds its soft masks under a global channel budget, whose
/// bilinear costs leave elements fractional at every temperature (docs/prune.md, "Hard
/// selection"): nearest, the selection under the budget nearest the soft masks at the last
/// temperature (round_channels); greedy, the spec's rule (§6): decreasing score while it fits,
/// then whatever still fits (it drops a fractional element even when the soft masks kept most
/// of it); plan (prox variant only), the nearest rounding of the prox plan's own last soft masks,
/// ranked by themselves (they follow the plan's history of scores, not the current scores).
enum class Rounding { nearest, greedy, plan };
/// Initial learned scores (dtp, ste): the magnitudes divided by the network's largest (global,
/// the spec's "normalised per group" with one global group) or by their own layer's largest
/// (layer: every layer's best element starts at 1, so scores of layers with differently scaled
/// weights start comparable).
enum class ScoreInit { global, layer };

struct PruneOptions {
  Method method = Method::dtp;
  double budget = 0.1;  // fraction of the dense cost kept, in (0, 1)
  BudgetKind kind = BudgetKind::params;
  Scope scope = Scope::global;
  Granularity granularity = Granularity::weight;
  int64_t epochs = 3;            // fine-tuning epochs (every method)
  double soft_fraction = 0.6;    // dtp, ste, gmp: the first ceil(soft_fraction * epochs) epochs
                                 // prune (soft masks, straight-through, gradual), then hard
  int64_t gmp_updates = 10;      // gmp: mask updates in the pruning phase [guess]
  Variant variant = Variant::exact;
  OtCost cost = OtCost::squared;
  Schedule schedule = Schedule::exponential;
  double eps0 = 1.0, eps_min = 1e-3;  // exact solver's temperature schedule
  double eps_prox = 20;               // the one-sweep prox variant's epsilon
  double score_lr_factor = 10;        // score gradient scale (SGD: lr_s = factor x lr_W)
  Rounding rounding = Rounding::nearest;  // dtp, global channel budget: final rounding
  ScoreInit score_init = ScoreInit::global;  // dtp, ste: initial scores
  int64_t stop_after = -1;  // stop after this many epochs in this call (simulates an interruption)
};

/// Parses the names used by the CLI and configs; throws UserError naming `flag`.
Method parse_method(const std::string& name, const std::string& flag);
BudgetKind parse_budget_kind(const std::string& name, const std::string& flag);
Granularity parse_granularity(const std::string& name, const std::string& flag);
Scope parse_scope(const std::string& name, const std::string& flag);
Rounding parse_rounding(const std::string& name, const std::string& flag);
std::string to_string(Rounding r);
ScoreInit parse_score_init(const std::string& name, const std::string& flag);
std::string to_string(ScoreInit i);
std::string to_string(Method m);
/// Whether the method trains scores (dtp, ste); one-shot methods select once at epoch 0.
bool learns_scores(Method m);
bool one_shot(Method m);
std::string to_string(BudgetKind k);
std::string to_string(Granularity g);
std::string to_string(Scope s);

/// Checks o against the model (before anything is written): budget in (0, 1), l1 only with
/// channel granularity, channel granularity only where the model allows it. Throws UserError
/// naming the flag (--budget, --method, --granularity, --epochs).
void validate(const PruneOptions& o, const ModelStructure& st);

/// The masks of a model: per channel element ([elements]) or per weight (all layers' weights
/// concatenated, [sum numel]). While installed, the model computes with them: channel masks
/// multiply each hidden activation (after BN/ReLU, through NetImpl's hidden-layer hook);
/// weight masks multiply each weight (through nn::WeightProducts).
class Masker {
 public:
  Masker(nn::NetImpl& model, ModelStructure st, Granularity g);
  ~Masker();
  /// The masks the next forward passes use (float, may carry a graph to the scores).
  void set(const torch::Tensor& mask);
  const torch::Tensor& mask() const { return mask_; }
  const ModelStructure& structure() const { return st_; }
  Granularity granularity() const { return g_; }
  int64_t size() const;
  /// The mask of layer l's weight ([out, in, kh, kw] or [out, in]) implied by the masks.
  torch::Tensor weight_mask(std::size_t l) const;

 private:
  class Products;
  nn::NetImpl& model_;
  ModelStructure st_;
  Granularity g_;
  torch::Tensor mask_;
  std::vector<torch::Tensor> out_index_;  // channel: per layer, its output channels' elements
  std::unique_ptr<Products> products_;
  std::unique_ptr<struct WeightGuardHolder> guard_;
};

/// The exact cost of `hard` ([size] bool or 0/1) masks.
double masked_cost(const Masker& masker, const torch::Tensor& hard, BudgetKind kind);

/// Hard masks of a one-shot method (magnitude, uniform, l1; gmp ranks as magnitude) from the
/// current weights, or, for dtp and ste, from `scores`, with the exact cost <= budget_fraction x dense: weight granularity
/// by hard_topk; channels greedily in decreasing score (each layer first keeps its best element,
/// so none is emptied), then any element that still fits. Returns [size] float 0/1.
/// With Scope::layer each layer is selected on its own: weights under its layer_budgets entry,
/// channels the top channel_layer_shares count of its elements.
torch::Tensor hard_masks(const Masker& masker, Method method, const torch::Tensor& scores,
                         double budget_fraction, BudgetKind kind, Scope scope = Scope::global);

/// DTP's hard channel selection nearest its soft masks `soft` ([elements], those at the last
/// temperature) with the exact cost <= target. It starts from the greedy rule of hard_masks
/// (each layer's best element, then decreasing score while it fits, then anything that fits);
/// then every element the soft masks keep at >= 1/2 but that selection leaves out is kept and
/// paid for by dropping kept elements (never a layer's best), lowest score first (the cheaper
/// first among equal scores), the freed budget refilled in score order; the result is taken
/// when its cost-weighted distance to the soft masks, sum_i c_i |h_i - m_i| with c = dG/dm at m
/// (the mass the transport plan moves), is smaller. So the cost stays <= target, nothing left
/// out would fit, and a costly element the soft phase trained at m = 0.7 is not dropped for
/// cheap elements it had at 0.
torch::Tensor round_channels(const ModelStructure& st, const torch::Tensor& scores, const torch::Tensor& soft,
                             double target, BudgetKind kind);

/// Per-layer budgets of Scope::layer (weight granularity), in the kind's cost: parameters
/// max(1, round(r n_l)) (a whole count, no layer emptied), FLOPs r x the layer's MACs.
std::vector<double> layer_budgets(const ModelStructure& st, double budget_fraction, BudgetKind kind);

/// The pruning groups of Scope::layer with channel granularity: each layer's own channel
/// elements (the elements it produces first: a ResNet stage's tied channels are one group) and
/// the exact number each keeps. A channel layer's parameters and MACs are bilinear in its own
/// and its input's kept counts, so keeping the fraction r of every layer's channels would keep
/// about r^2 of the cost; instead every group keeps max(1, floor(q n_g)) elements for the
/// largest q whose exact cost fits r x the dense cost (the counts of `--method uniform`, so the
/// per-layer methods differ only in which channels they keep). Within a group every element
/// costs the same, so `cost` (the exact cost of the counts, <= the budget) does not depend on
/// which are kept. Throws UserError when one channel per layer already exceeds the budget.
struct LayerShares {
  std::vector<std::vector<int64_t>> elements;  // per group, its element ids
  std::vector<int64_t> keep;                   // per group, elements kept
  double cost = 0;                             // exact cost of any selection with these counts
};
LayerShares channel_layer_shares(const ModelStructure& st, double budget_fraction, BudgetKind kind);

/// Initial DTP scores in [0, 1]: |w| (weight) or the filters' mean |w| summed over an element's
/// channels (channel); ScoreInit::layer divides each layer's (for channels: each group of
/// elements a layer produces first) by that layer's largest; then all by the largest.
/// The magnitude baselines rank by the global form.
torch::Tensor initial_scores(const Masker& masker, ScoreInit init = ScoreInit::global);

/// The Trainer rule of a pruning run, wrapping the run's own rule: in DTP's soft phase, before
/// each batch the soft masks are computed from the scores and installed (their graph reaches
/// the scores) and after the update the scores are clamped to [0, 1]; from the first epoch past
/// the soft phase (and for one-shot methods from the start) the hard masks are fixed.
class PruneRule : public learn::Rule {
 public:
  /// Fixes the hard masks (DTP: selected from the scores, once) and installs them.
  virtual void finalise() = 0;
};

/// Installs pruning on `model`, whose masks `masker` applies (both must outlive the rule):
/// registers the parameter "prune_scores" (initial_scores; trainable for dtp and ste, its gradient
/// scaled by o.score_lr_factor) and the buffers "prune_mask" and "prune_final" (a one-shot
/// method's hard masks, final at once; gmp's current masks) and, for gmp, "prune_stage" (its
/// last mask update), so checkpoints hold them, and returns the rule that
/// trains with them around `inner` for steps_per_epoch batches per epoch (the DTP schedule's
/// length). prune_experiment trains with it; bench/dtp_bench.cpp times its step.
std::unique_ptr<PruneRule> attach_pruning(nn::NetImpl& model, Masker& masker, const PruneOptions& o,
                                          std::unique_ptr<learn::Rule> inner, int64_t steps_per_epoch);

struct LayerSparsity {
  std::string name;
  int64_t weights = 0, kept = 0;
};

struct PruneResult {
  double acc_before = 0, acc_after = 0;
  double loss_after = 0;  // test loss of the final model
  /// The final model on the validation split (data.validation=true), else examples == 0.
  learn::EvalResult valid_after;
  double params_before = 0, params_after = 0, flops_before = 0, flops_after = 0;
  double target = 0;  // budget x dense, in the budget's kind
  std::vector<LayerSparsity> layers;
  torch::Tensor hard;  // the final 0/1 masks
  int64_t epochs = 0;
};

/// Prunes exp.model (trained, in `run`'s checkpoints or fresh) under `o`, training with the
/// Trainer in `run` (resumes from its last checkpoint). The masks and DTP's scores are kept on
/// the model as "prune_mask", "prune_final" and "prune_scores", so checkpoints hold them.
/// A call stopped by o.stop_after before o.epochs returns only `epochs` (the run resumes later).
/// Throws UserError as validate.
/// `parallel`: data-parallel fine-tuning (docs/distributed.md); every rank then calls this with
/// the same arguments.
struct ParallelFineTuning {
  int world_size = 1;  // train.batch_size is per rank: the schedule counts global batches
  /// This rank's runtime for the model once the pruner's scores are attached, so they are
  /// synchronised like every other parameter; empty: one process.
  std::function<std::unique_ptr<learn::DataParallel>(torch::nn::Module&)> runtime;
};
PruneResult prune_experiment(learn::Experiment& exp, RunDir& run, const PruneOptions& o,
                             const ParallelFineTuning& parallel = {});

}  // namespace nc::compress::prune
