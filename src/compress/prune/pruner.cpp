#include "neurocore/compress/prune/pruner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "neurocore/core/error.h"
#include "neurocore/learn/trainer.h"
#include "neurocore/nn/weight_products.h"

namespace nc::compress::prune {

// ---- names ----------------------------------------------------------------------------------

namespace {
template <class E>
E parse(const std::string& name, const std::string& flag, const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<E>(i);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw UserError(fmt::format("{}: expected one of {}, got '{}'", flag, list, name));
}
const std::vector<std::string> kMethods{"dtp", "magnitude", "uniform", "l1", "gmp", "ste"};
const std::vector<std::string> kKinds{"params", "flops"};
const std::vector<std::string> kGranularities{"weight", "channel"};
const std::vector<std::string> kScopes{"global", "layer"};
const std::vector<std::string> kRoundings{"nearest", "greedy", "plan"};
const std::vector<std::string> kScoreInits{"global", "layer"};
}  // namespace

Method parse_method(const std::string& n, const std::string& f) { return parse<Method>(n, f, kMethods); }
BudgetKind parse_budget_kind(const std::string& n, const std::string& f) { return parse<BudgetKind>(n, f, kKinds); }
Granularity parse_granularity(const std::string& n, const std::string& f) {
  return parse<Granularity>(n, f, kGranularities);
}
bool learns_scores(Method m) { return m == Method::dtp || m == Method::ste; }
bool one_shot(Method m) { return m == Method::magnitude || m == Method::uniform || m == Method::l1; }
std::string to_string(Method m) { return kMethods.at(static_cast<std::size_t>(m)); }
std::string to_string(BudgetKind k) { return kKinds.at(static_cast<std::size_t>(k)); }
Scope parse_scope(const std::string& n, const std::string& f) { return parse<Scope>(n, f, kScopes); }
std::string to_string(Scope s) { return kScopes.at(static_cast<std::size_t>(s)); }
std::string to_string(Granularity g) { return kGranularities.at(static_cast<std::size_t>(g)); }
Rounding parse_rounding(const std::string& n, const std::string& f) { return parse<Rounding>(n, f, kRoundings); }
std::string to_string(Rounding r) { return kRoundings.at(static_cast<std::size_t>(r)); }
ScoreInit parse_score_init(const std::string& n, const std::string& f) { return parse<ScoreInit>(n, f, kScoreInits); }
std::string to_string(ScoreInit i) { return kScoreInits.at(static_cast<std::size_t>(i)); }

namespace {
double one_channel_per_layer_cost(const ModelStructure& st, BudgetKind kind);
std::vector<std::vector<int64_t>> home_elements(const ModelStructure& st);
}  // namespace

void validate(const PruneOptions& o, const ModelStructure& st) {
  if (!(o.budget > 0 && o.budget < 1)) {
    throw UserError(fmt::format("--budget: expected the kept fraction in (0, 1) (0.1 keeps 10 %), got {}",
                                o.budget));
  }
  if (o.epochs < 0) throw UserError(fmt::format("--epochs: expected >= 0, got {}", o.epochs));
  if (o.rounding == Rounding::plan &&
      !(o.method == Method::dtp && o.variant == Variant::prox && o.granularity == Granularity::channel &&
        o.scope == Scope::global)) {
    throw UserError("--rounding: plan rounds the prox variant's own soft masks and needs --method dtp "
                    "--variant prox --granularity channel --scope global");
  }
  if (o.method == Method::l1 && o.granularity != Granularity::channel) {
    throw UserError("--method: l1 ranks whole filters and needs --granularity channel, got --granularity " +
                    to_string(o.granularity));
  }
  if (o.granularity == Granularity::channel && !st.no_channels.empty()) {
    throw UserError("--granularity: this model cannot be channel-pruned: " + st.no_channels);
  }
  if (o.granularity == Granularity::channel && st.no_channels.empty()) {
    // Every selection keeps at least one channel per layer (no layer emptied); a budget below
    // that is refused here, before any training, rather than at the final hard selection.
    const double least = one_channel_per_layer_cost(st, o.kind), target = o.budget * dense_cost(st, o.kind);
    if (least > target) {
      throw UserError(fmt::format("--budget: {} of the {} is too small for channel pruning of this model: "
                                  "keeping one channel per layer already costs {:.0f}, the budget allows {:.0f}",
                                  o.budget, o.kind == BudgetKind::params ? "weight parameters" : "MACs",
                                  least, target));
    }
  }
  if (o.gmp_updates < 1) throw UserError(fmt::format("--gmp-updates: expected >= 1, got {}", o.gmp_updates));
  if (!(o.soft_fraction > 0 && o.soft_fraction <= 1)) {
    throw UserError(fmt::format("soft fraction: expected a value in (0, 1], got {}", o.soft_fraction));
  }
}

// ---- masker ---------------------------------------------------------------------------------

class Masker::Products : public nn::WeightProducts {
 public:
  explicit Products(Masker& m) : m_(m) {
    for (std::size_t l = 0; l < m.st_.layers.size(); ++l)
      layer_[m.st_.layers[l].weight.unsafeGetTensorImpl()] = l;
  }
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w,
                       const torch::Tensor& b) override {
    return torch::nn::functional::linear(x, masked(w), b);
  }
  torch::Tensor conv2d(const torch::Tensor& x, torch::nn::Conv2dImpl& c) override {
    const auto& o = c.options;
    const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
    TORCH_CHECK(pad != nullptr, "prune: conv padding must be explicit");
    return torch::conv2d(x, masked(c.weight), c.bias, o.stride(), **pad, o.dilation(), o.groups());
  }

 private:
  torch::Tensor masked(const torch::Tensor& w) const {
    const auto it = layer_.find(w.unsafeGetTensorImpl());
    return it == layer_.end() ? w : w * m_.weight_mask(it->second);
  }
  Masker& m_;
  std::map<const void*, std::size_t> layer_;
};

struct WeightGuardHolder {
  explicit WeightGuardHolder(nn::WeightProducts* p) : guard(p) {}
  nn::WeightProductsGuard guard;
};

namespace {
torch::Tensor element_index(const std::vector<int64_t>& el) {
  // -1 (not prunable) reads the constant 1 appended after the element masks.
  std::vector<int64_t> v(el);
  return torch::tensor(v, torch::kLong);
}
std::vector<int64_t> weight_offsets(const ModelStructure& st) {
  std::vector<int64_t> off{0};
  for (const auto& l : st.layers) off.push_back(off.back() + l.weight.numel());
  return off;
}
}  // namespace

Masker::Masker(nn::NetImpl& model, ModelStructure st, Granularity g)
    : model_(model), st_(std::move(st)), g_(g) {
  mask_ = torch::ones({size()});
  for (const auto& l : st_.layers) out_index_.push_back(element_index(l.out_element));
  if (g_ == Granularity::channel) {
    model_.set_hidden_hook([this](const torch::nn::Module& producer, const torch::Tensor& a) {
      const int64_t l = st_.layer_of(producer);
      if (l < 0) return a;
      std::vector<int64_t> shape(a.dim(), 1);
      shape[1] = a.size(1);
      return a * mask_.index_select(0, out_index_[l]).to(a.dtype()).view(shape);
    });
  } else {
    products_ = std::make_unique<Products>(*this);
    guard_ = std::make_unique<WeightGuardHolder>(products_.get());
  }
}

Masker::~Masker() {
  if (g_ == Granularity::channel) model_.set_hidden_hook({});
}

int64_t Masker::size() const {
  return g_ == Granularity::channel ? st_.elements : weight_offsets(st_).back();
}

void Masker::set(const torch::Tensor& mask) {
  TORCH_CHECK(mask.numel() == size(), "Masker::set: wrong mask size");
  mask_ = mask.to(torch::kFloat);
}

torch::Tensor Masker::weight_mask(std::size_t l) const {
  const auto& layer = st_.layers.at(l);
  if (g_ == Granularity::weight) {
    int64_t off = 0;
    for (std::size_t i = 0; i < l; ++i) off += st_.layers[i].weight.numel();
    return mask_.slice(0, off, off + layer.weight.numel()).view(layer.weight.sizes());
  }
  auto gather = [this](const std::vector<int64_t>& el) {
    const auto ext = torch::cat({mask_, torch::ones({1}, mask_.options())});
    std::vector<int64_t> idx(el);
    for (auto& i : idx) if (i < 0) i = mask_.numel();
    return ext.index_select(0, torch::tensor(idx, torch::kLong));
  };
  auto m = gather(layer.out_element).unsqueeze(1) * gather(layer.in_element).unsqueeze(0);
  return layer.weight.dim() == 4 ? m.view({layer.out, layer.in, 1, 1}).expand(layer.weight.sizes()) : m;
}

// ---- selection --------------------------------------------------------------------------------

double masked_cost(const Masker& masker, const torch::Tensor& hard, BudgetKind kind) {
  if (masker.granularity() == Granularity::channel) return channel_cost(masker.structure(), hard, kind);
  return (weight_costs(masker.structure(), kind) * hard.to(torch::kDouble)).sum().item<double>();
}

torch::Tensor initial_scores(const Masker& masker, ScoreInit init) {
  const auto& st = masker.structure();
  torch::NoGradGuard no_grad;
  torch::Tensor s;
  if (masker.granularity() == Granularity::weight) {
    std::vector<torch::Tensor> parts;
    for (const auto& l : st.layers) {
      parts.push_back(l.weight.detach().abs().flatten().to(torch::kDouble));
      if (init == ScoreInit::layer) parts.back() /= parts.back().max().clamp_min(1e-30);
    }
    s = torch::cat(parts);
  } else {
    s = torch::zeros({st.elements}, torch::kDouble);
    for (const auto& l : st.layers) {
      const auto norm = l.weight.detach().abs().flatten(1).mean(1).to(torch::kDouble);
      for (int64_t o = 0; o < l.out; ++o)
        if (l.out_element[o] >= 0) s[l.out_element[o]] += norm[o];
    }
    if (init == ScoreInit::layer) {
      for (const auto& h : home_elements(st)) {
        if (h.empty()) continue;
        const auto idx = torch::tensor(h, torch::kLong);
        s.index_copy_(0, idx, s.index_select(0, idx) / s.index_select(0, idx).max().clamp_min(1e-30));
      }
    }
  }
  return s / s.max().clamp_min(1e-30);
}

namespace {

// The elements each layer produces, first appearance (the element's "home" layer).
std::vector<std::vector<int64_t>> home_elements(const ModelStructure& st) {
  std::vector<std::vector<int64_t>> home(st.layers.size());
  std::vector<bool> seen(st.elements, false);
  for (std::size_t l = 0; l < st.layers.size(); ++l)
    for (auto e : st.layers[l].out_element)
      if (e >= 0 && !seen[e]) {
        seen[e] = true;
        home[l].push_back(e);
      }
  return home;
}

// The exact cost of keeping one element of every layer's own elements (within a layer's own
// elements every element costs the same, so any one does).
double one_channel_per_layer_cost(const ModelStructure& st, BudgetKind kind) {
  auto m = torch::zeros({st.elements}, torch::kDouble);
  for (const auto& h : home_elements(st))
    if (!h.empty()) m[h.front()] = 1.0;
  return channel_cost(st, m, kind);
}

// The exact (bilinear) channel cost of a selection, updated one element at a time: each layer's
// cost is (kept outputs)(kept inputs) kernel unit_cost, and an element touches the layers it is
// an output or an input of.
class ChannelCount {
 public:
  ChannelCount(const ModelStructure& st, BudgetKind kind)
      : touch_(st.elements), kout_(st.layers.size(), 0), kin_(st.layers.size(), 0), w_(st.layers.size()),
        keep_(st.elements, false) {
    for (std::size_t l = 0; l < st.layers.size(); ++l) {
      const auto& L = st.layers[l];
      w_[l] = static_cast<double>(L.kernel) * L.unit_cost(kind);
      std::map<int64_t, std::pair<double, double>> c;
      for (auto e : L.out_element) (e < 0 ? kout_[l] : c[e].first) += 1;
      for (auto e : L.in_element) (e < 0 ? kin_[l] : c[e].second) += 1;
      for (const auto& [e, d] : c) touch_[e].push_back({l, d.first, d.second});
    }
    for (std::size_t l = 0; l < st.layers.size(); ++l) total_ += kout_[l] * kin_[l] * w_[l];
  }
  double total() const { return total_; }
  bool kept(int64_t e) const { return keep_[e]; }
  /// The change of the total if e's state were flipped (kept -> removed or back).
  double delta(int64_t e) const {
    const double sign = keep_[e] ? -1 : 1;
    double d = 0;
    for (const auto& t : touch_[e]) {
      const double o = kout_[t.layer], i = kin_[t.layer];
      d += ((o + sign * t.dout) * (i + sign * t.din) - o * i) * w_[t.layer];
    }
    return d;
  }
  void flip(int64_t e) {
    const double d = delta(e), sign = keep_[e] ? -1 : 1;
    for (const auto& t : touch_[e]) {
      kout_[t.layer] += sign * t.dout;
      kin_[t.layer] += sign * t.din;
    }
    keep_[e] = !keep_[e];
    total_ += d;
  }
  torch::Tensor mask() const {
    auto m = torch::zeros({static_cast<int64_t>(keep_.size())});
    for (std::size_t e = 0; e < keep_.size(); ++e) m[static_cast<int64_t>(e)] = keep_[e] ? 1.f : 0.f;
    return m;
  }

 private:
  struct Touch { std::size_t layer; double dout, din; };
  std::vector<std::vector<Touch>> touch_;
  std::vector<double> kout_, kin_, w_;
  std::vector<bool> keep_;
  double total_ = 0;
};

std::vector<int64_t> by_decreasing(const torch::Tensor& scores) {
  const auto sc = scores.to(torch::kDouble).contiguous();
  const double* sp = sc.data_ptr<double>();
  std::vector<int64_t> order(sc.numel());
  for (int64_t i = 0; i < sc.numel(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return sp[a] > sp[b]; });
  return order;
}

// Each layer's best element by score (kept first, so no layer is emptied).
std::vector<int64_t> layer_bests(const ModelStructure& st, const torch::Tensor& scores) {
  const auto sc = scores.to(torch::kDouble).contiguous();
  const double* sp = sc.data_ptr<double>();
  std::vector<int64_t> best;
  for (const auto& h : home_elements(st))
    if (!h.empty())
      best.push_back(*std::max_element(h.begin(), h.end(), [&](int64_t a, int64_t b) { return sp[a] < sp[b]; }));
  return best;
}

// Takes, in `order`, every element not kept yet whose addition still fits the target.
void fill(ChannelCount& cc, const std::vector<int64_t>& order, double target) {
  for (auto e : order)
    if (!cc.kept(e) && cc.total() + cc.delta(e) <= target) cc.flip(e);
}

// Channels greedily under the exact (bilinear) cost: each layer's best element first, then in
// decreasing score while everything fits, then any remaining element that still fits.
ChannelCount greedy_count(const ModelStructure& st, const torch::Tensor& scores, double target,
                          BudgetKind kind) {
  ChannelCount cc(st, kind);
  for (auto best : layer_bests(st, scores)) {
    if (cc.kept(best)) continue;
    if (cc.total() + cc.delta(best) > target) {
      throw UserError(fmt::format("--budget: too small for this model: keeping one channel per layer "
                                  "already costs more than the budget {:.0f}", target));
    }
    cc.flip(best);
  }
  // One pass in score order taking what fits is "in order while it fits, then whatever still
  // fits": after the first miss the same order is continued with the fit test.
  fill(cc, by_decreasing(scores), target);
  return cc;
}

torch::Tensor greedy_channels(const ModelStructure& st, const torch::Tensor& scores, double target,
                              BudgetKind kind) {
  return greedy_count(st, scores, target, kind).mask();
}

// Cost-weighted distance of hard masks to the soft ones, sum_i c_i |h_i - m_i| (the mass the
// transport plan would move between "keep" and "prune").
double distance(const ChannelCount& cc, const double* m, const double* c, int64_t n) {
  double d = 0;
  for (int64_t e = 0; e < n; ++e) d += c[e] * std::abs((cc.kept(e) ? 1.0 : 0.0) - m[e]);
  return d;
}

}  // namespace

torch::Tensor round_channels(const ModelStructure& st, const torch::Tensor& scores, const torch::Tensor& soft,
                             double target, BudgetKind kind) {
  ChannelCount best = greedy_count(st, scores, target, kind);
  const auto m = soft.detach().to(torch::kDouble).contiguous();
  // The costs the soft phase's gradient used: dG/dm at the soft masks.
  const auto c = channel_cost_grad(st, m, kind).contiguous();
  const auto sc = scores.detach().to(torch::kDouble).contiguous();
  const double *mp = m.data_ptr<double>(), *cp = c.data_ptr<double>(), *sp = sc.data_ptr<double>();
  const int64_t n = st.elements;
  const auto order = by_decreasing(scores);
  std::vector<bool> fixed(n, false);  // each layer's best: never dropped, so no layer is emptied
  for (auto e : layer_bests(st, scores)) fixed[e] = true;
  double best_d = distance(best, mp, cp, n);
  // Every element the soft masks keep at >= 1/2 but the selection leaves out: keep it, pay for
  // it by dropping kept elements, refill what still fits, and take the result when it is nearer
  // the soft masks.
  for (auto f : order) {
    if (best.kept(f) || mp[f] < 0.5) continue;
    ChannelCount cand = best;
    cand.flip(f);
    // Lowest score first (the elements filled in at masks near 0, then the least important of
    // those kept), the cheaper first among equal scores.
    std::vector<int64_t> drop;
    for (auto it = order.rbegin(); it != order.rend(); ++it)
      if (cand.kept(*it) && *it != f && !fixed[*it]) drop.push_back(*it);
    std::vector<double> freed(n, 0);
    for (auto e : drop) freed[e] = -cand.delta(e);
    std::stable_sort(drop.begin(), drop.end(), [&](int64_t a, int64_t b) {
      return sp[a] != sp[b] ? sp[a] < sp[b] : freed[a] < freed[b];
    });
    for (auto e : drop) {
      if (cand.total() <= target) break;
      cand.flip(e);
    }
    if (cand.total() > target) continue;  // cannot be paid for without emptying a layer
    fill(cand, order, target);
    const double d = distance(cand, mp, cp, n);
    if (d < best_d) {
      best = cand;
      best_d = d;
    }
  }
  return best.mask();
}

namespace {

// The largest fraction q for which every group keeping max(1, floor(q n_g)) of its n_g elements
// costs at most `target` (bisection; the cost grows with q), as those counts. `cost_of` is the
// exact cost of given counts (within a group every element costs the same).
std::vector<int64_t> uniform_counts(const std::vector<int64_t>& sizes,
                                    const std::function<double(const std::vector<int64_t>&)>& cost_of,
                                    double target) {
  auto at = [&](double q) {
    std::vector<int64_t> k;
    for (auto n : sizes) k.push_back(std::max<int64_t>(1, static_cast<int64_t>(std::floor(q * n))));
    return k;
  };
  if (cost_of(at(0)) > target) {
    throw UserError(fmt::format("--budget: too small for this model: keeping one element per layer "
                                "already costs more than the budget {:.0f}", target));
  }
  double lo = 0, hi = 1;
  for (int it = 0; it < 60; ++it) {
    const double mid = 0.5 * (lo + hi);
    (cost_of(at(mid)) <= target ? lo : hi) = mid;
  }
  return at(lo);
}

// Keeps the top keep[g] elements of each group by score ([size] float 0/1).
torch::Tensor top_in_groups(int64_t size, const std::vector<torch::Tensor>& groups,
                            const std::vector<int64_t>& keep, const torch::Tensor& scores) {
  auto m = torch::zeros({size});
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto order = std::get<1>(scores.index_select(0, groups[g]).sort(/*stable=*/true, 0, true));
    m.index_fill_(0, groups[g].index_select(0, order.slice(0, 0, keep[g])), 1.f);
  }
  return m;
}

std::vector<torch::Tensor> group_index(const std::vector<std::vector<int64_t>>& elements) {
  std::vector<torch::Tensor> idx;
  for (const auto& e : elements) idx.push_back(torch::tensor(e, torch::kLong));
  return idx;
}

// Every layer keeps the same fraction q of its own elements / weights (ranked by `scores`),
// the largest q whose exact cost fits the target. For channels these are the per-layer shares.
torch::Tensor uniform_masks(const Masker& masker, const torch::Tensor& scores, double target,
                            BudgetKind kind) {
  const auto& st = masker.structure();
  if (masker.granularity() == Granularity::channel) {
    const auto sh = channel_layer_shares(st, target / dense_cost(st, kind), kind);
    return top_in_groups(masker.size(), group_index(sh.elements), sh.keep, scores);
  }
  std::vector<torch::Tensor> groups;  // indices per layer
  std::vector<int64_t> sizes;
  std::vector<double> unit;
  int64_t off = 0;
  for (const auto& l : st.layers) {
    const int64_t n = l.weight.numel();
    groups.push_back(torch::arange(off, off + n, torch::kLong));
    sizes.push_back(n);
    unit.push_back(static_cast<double>(l.unit_cost(kind)));
    off += n;
  }
  const auto keep = uniform_counts(sizes, [&unit](const std::vector<int64_t>& k) {
    double c = 0;
    for (std::size_t l = 0; l < k.size(); ++l) c += static_cast<double>(k[l]) * unit[l];
    return c;
  }, target);
  return top_in_groups(masker.size(), groups, keep, scores);
}

}  // namespace

LayerShares channel_layer_shares(const ModelStructure& st, double r, BudgetKind kind) {
  LayerShares sh;
  std::vector<int64_t> sizes;
  for (auto& h : home_elements(st)) {
    if (h.empty()) continue;
    sizes.push_back(static_cast<int64_t>(h.size()));
    sh.elements.push_back(std::move(h));
  }
  const auto cost_of = [&st, &sh, kind](const std::vector<int64_t>& k) {
    auto m = torch::zeros({st.elements}, torch::kDouble);
    double* mp = m.data_ptr<double>();
    for (std::size_t g = 0; g < k.size(); ++g)
      for (int64_t i = 0; i < k[g]; ++i) mp[sh.elements[g][i]] = 1.0;
    return channel_cost(st, m, kind);
  };
  sh.keep = uniform_counts(sizes, cost_of, r * dense_cost(st, kind));
  sh.cost = cost_of(sh.keep);
  return sh;
}

std::vector<double> layer_budgets(const ModelStructure& st, double r, BudgetKind kind) {
  std::vector<double> b;
  for (const auto& l : st.layers) {
    const double n = static_cast<double>(l.weight.numel());
    b.push_back(kind == BudgetKind::params ? std::max(1.0, std::round(r * n)) : r * n * l.unit_cost(kind));
  }
  return b;
}

torch::Tensor hard_masks(const Masker& masker, Method method, const torch::Tensor& scores_in,
                         double r, BudgetKind kind, Scope scope) {
  const auto& st = masker.structure();
  const double target = r * dense_cost(st, kind);
  torch::NoGradGuard no_grad;
  const auto scores = (learns_scores(method) ? scores_in.detach() : initial_scores(masker)).to(torch::kDouble);
  if (method == Method::uniform || method == Method::l1) return uniform_masks(masker, scores, target, kind);
  if (masker.granularity() == Granularity::channel) {
    if (scope == Scope::global) return greedy_channels(st, scores, target, kind);
    const auto sh = channel_layer_shares(st, r, kind);
    return top_in_groups(masker.size(), group_index(sh.elements), sh.keep, scores);
  }
  const auto c = weight_costs(st, kind);
  if (scope == Scope::layer) {
    const auto budgets = layer_budgets(st, r, kind);
    std::vector<torch::Tensor> parts;
    int64_t off = 0;
    for (std::size_t l = 0; l < st.layers.size(); ++l) {
      const int64_t n = st.layers[l].weight.numel();
      parts.push_back(hard_topk(scores.slice(0, off, off + n), c.slice(0, off, off + n), budgets[l]));
      off += n;
    }
    return torch::cat(parts).to(torch::kFloat);
  }
  const double b = kind == BudgetKind::params ? std::round(r * scores.numel()) : target;
  return hard_topk(scores, c, b).to(torch::kFloat);
}

// ---- training ---------------------------------------------------------------------------------

namespace {

// The Trainer's rule with masks: before each batch the soft masks are recomputed from the
// scores (DTP's soft phase) and installed; after the update the scores are clamped to [0, 1].
class MaskRule : public PruneRule {
 public:
  MaskRule(std::unique_ptr<learn::Rule> inner, Masker& masker, torch::Tensor scores,
            torch::Tensor mask_buf, torch::Tensor final_buf, torch::Tensor stage_buf,
            torch::Tensor soft_buf, const PruneOptions& o, int64_t steps_per_epoch)
      : inner_(std::move(inner)), masker_(masker), scores_(std::move(scores)),
        mask_buf_(std::move(mask_buf)), final_buf_(std::move(final_buf)),
        stage_buf_(std::move(stage_buf)), soft_buf_(std::move(soft_buf)), o_(o), steps_(steps_per_epoch),
        prox_(o.eps_prox, o.cost) {
    soft_epochs_ = static_cast<int64_t>(std::ceil(o.soft_fraction * o.epochs - 1e-9));
    const auto& st = masker.structure();
    dense_ = dense_cost(st, o.kind);
    target_ = o.budget * dense_;
    if (masker.granularity() == Granularity::weight) {
      wcost_ = weight_costs(st, o.kind);
      if (o.kind == BudgetKind::params) target_ = std::round(o.budget * wcost_.numel());
      if (o.scope == Scope::layer) {
        budgets_ = layer_budgets(st, o.budget, o.kind);
        target_ = 0;
        for (double b : budgets_) target_ += b;
        taus_.assign(budgets_.size(), std::numeric_limits<double>::quiet_NaN());
        for (std::size_t l = 0; l < budgets_.size(); ++l) proxes_.emplace_back(o.eps_prox, o.cost);
      }
    } else if (o.scope == Scope::layer) {
      shares_ = channel_layer_shares(st, o.budget, o.kind);
      target_ = shares_.cost;
      groups_ = group_index(shares_.elements);
      inverse_ = torch::argsort(torch::cat(groups_));
      taus_.assign(groups_.size(), std::numeric_limits<double>::quiet_NaN());
      for (std::size_t g = 0; g < groups_.size(); ++g) proxes_.emplace_back(o.eps_prox, o.cost);
    }
  }
  std::string name() const override { return "prune+" + inner_->name(); }

  void start_epoch(uint64_t seed, int64_t epoch) override {
    inner_->start_epoch(seed, epoch);
    step_ = epoch * steps_;
    if (final() || epoch >= soft_epochs_) {
      finalise();
    } else {
      torch::NoGradGuard no_grad;
      masker_.set(soft());
    }
  }

  learn::BatchResult train_batch(nn::NetImpl& model, const torch::Tensor& x,
                                 const torch::Tensor& labels, const std::string& loss,
                                 torch::optim::Optimizer& optimizer) override {
    if (final()) return inner_->train_batch(model, x, labels, loss, optimizer);
    const auto m = soft();
    masker_.set(m);
    auto r = inner_->train_batch(model, x, labels, loss, optimizer);
    if (learns_scores(o_.method)) {
      torch::NoGradGuard no_grad;
      scores_.clamp_(0, 1);
    }
    masker_.set(m.detach());
    ++step_;
    return r;
  }

  std::vector<std::pair<std::string, double>> epoch_metrics() override {
    auto v = inner_->epoch_metrics();
    const double cost = final() ? masked_cost(masker_, mask_buf_, o_.kind)
                                : (o_.granularity == Granularity::weight
                                       ? (wcost_ * masker_.mask().to(torch::kDouble)).sum().item<double>()
                                       : channel_cost(masker_.structure(), masker_.mask(), o_.kind));
    v.push_back({"kept_cost_fraction", cost / dense_});
    v.push_back({"budget_rel_error", last_error_});
    v.push_back({"eps", eps_});
    v.push_back({"hard", final() ? 1.0 : 0.0});
    return v;
  }

  bool final() const { return final_buf_.item<double>() > 0; }

  void finalise() override {
    if (!final()) {
      torch::NoGradGuard no_grad;
      if (rounds_soft_masks()) {
        // --rounding plan: the prox plan's own last masks (ranked by themselves: they follow the
        // plan's history of scores, not the current scores); else the exact solver's at the end.
        const bool own = soft_buf_.defined() && soft_buf_.min().item<float>() >= 0;
        const auto m = own ? soft_buf_.clone() : end_masks();
        const torch::Tensor rank = own ? m : scores_;
        const auto frac = ((m > 1e-6) & (m < 1 - 1e-6)).sum().item<int64_t>();
        const auto greedy = hard_masks(masker_, Method::dtp, scores_, o_.budget, o_.kind, o_.scope);
        mask_buf_.copy_(round_channels(masker_.structure(), rank, m, target_, o_.kind));
        spdlog::info("prune: {} soft mask(s) fractional {}; nearest rounding {} "
                     "({:.0f} of {:.0f} {} kept)", frac,
                     own ? "in the prox plan's last step" : "at the last temperature",
                     torch::equal(greedy, mask_buf_) ? "agrees with the greedy rule" : "differs from the greedy rule",
                     masked_cost(masker_, mask_buf_, o_.kind), target_, to_string(o_.kind));
      } else {
        mask_buf_.copy_(hard_masks(masker_, Method::dtp, ranking(), o_.budget, o_.kind, o_.scope));
      }
      final_buf_.fill_(1);
    }
    masker_.set(mask_buf_);
  }

 private:
  // What the hard selections rank: the learned scores, or (gmp) the magnitudes of the weights
  // the current mask keeps (pruned ones rank last, so the masks only shrink).
  torch::Tensor ranking() const {
    if (o_.method != Method::gmp) return scores_;
    return initial_scores(masker_) * mask_buf_.to(torch::kDouble);
  }

  // The masks of the next step before the hard phase.
  torch::Tensor soft() {
    if (o_.method == Method::ste) return straight_through();
    if (o_.method == Method::gmp) return gradual();
    torch::Tensor m;
    if (o_.granularity == Granularity::weight) {
      m = o_.scope == Scope::layer                ? soft_layers()
          : o_.variant == Variant::exact ? soft_exact(wcost_)
                                         : soft_prox(wcost_, target_);
      last_error_ = std::abs(m.detach().dot(wcost_).item<double>() - target_) / target_;
    } else if (o_.scope == Scope::layer) {
      m = soft_channel_groups();
    } else {
      m = o_.variant == Variant::exact ? soft_exact_channels() : soft_prox_channels();
      last_error_ = std::abs(channel_cost(masker_.structure(), m, o_.kind) - target_) / target_;
    }
    return m.to(torch::kFloat);
  }

  double next_eps() {
    return temperature_at(o_.schedule, o_.eps0, o_.eps_min, step_, soft_epochs_ * steps_);
  }

  torch::Tensor soft_exact(const torch::Tensor& c) {
    eps_ = next_eps();
    auto r = soft_topk(scores_, c, target_, eps_, o_.cost, tau_);
    tau_ = r.tau;
    return r.mask;
  }

  // Scope::layer: each layer's weights are a pruning group with its own budget (spec §3: "a
  // pruning group is one layer (per-layer budget) or the whole network").
  torch::Tensor soft_layers() {
    const auto& st = masker_.structure();
    std::vector<torch::Tensor> parts;
    int64_t off = 0;
    if (o_.variant == Variant::exact) eps_ = next_eps();
    for (std::size_t l = 0; l < st.layers.size(); ++l) {
      const int64_t n = st.layers[l].weight.numel();
      const auto s = scores_.slice(0, off, off + n), c = wcost_.slice(0, off, off + n);
      if (budgets_[l] >= static_cast<double>(n) * st.layers[l].unit_cost(o_.kind)) {
        parts.push_back(torch::ones({n}, torch::kDouble));  // keeps everything: nothing to learn
      } else if (o_.variant == Variant::exact) {
        auto r = soft_topk(s, c, budgets_[l], eps_, o_.cost, taus_[l]);
        taus_[l] = r.tau;
        parts.push_back(r.mask);
      } else {
        eps_ = o_.eps_prox;
        parts.push_back(proxes_[l].step(s, c, budgets_[l]));
      }
      off += n;
    }
    return torch::cat(parts);
  }

  // Scope::layer with channels: each layer's elements are a pruning group with unit costs and
  // the exact count channel_layer_shares gives it (sum of the group's masks = that count at
  // every step); the cost of the hard selection is then fixed by the counts.
  torch::Tensor soft_channel_groups() {
    eps_ = o_.variant == Variant::exact ? next_eps() : o_.eps_prox;
    std::vector<torch::Tensor> parts;
    double err = 0, total = 0;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const int64_t n = groups_[g].numel();
      const auto k = static_cast<double>(shares_.keep[g]);
      const auto s = scores_.index_select(0, groups_[g]);
      const auto c = torch::ones({n}, torch::kDouble);
      torch::Tensor part;
      if (shares_.keep[g] >= n) {
        part = torch::ones({n}, torch::kDouble);  // keeps everything: nothing to learn
      } else if (o_.variant == Variant::exact) {
        auto r = soft_topk(s, c, k, eps_, o_.cost, taus_[g]);
        taus_[g] = r.tau;
        part = r.mask;
      } else {
        part = proxes_[g].step(s, c, k);
      }
      err += std::abs(part.detach().sum().item<double>() - k);
      total += k;
      parts.push_back(part);
    }
    last_error_ = err / total;
    return torch::cat(parts).index_select(0, inverse_);
  }

  torch::Tensor soft_prox(const torch::Tensor& c, double b) {
    if (!(b > 0 && b < c.sum().item<double>())) cannot_meet();
    eps_ = o_.eps_prox;
    return prox_.step(scores_, c, b);
  }

  // Channels: the exact cost is bilinear in consecutive layers' masks. The exact variant solves
  // tau on that cost itself (budget exact at every step). Costs linearised at the previous
  // step's masks (c_e from the previous kept counts, sum c m = B) make each step's uniform
  // kept fraction r / (the previous one): after one step the budget is no longer reachable.
  torch::Tensor soft_exact_channels() {
    eps_ = next_eps();
    return soft_channels(eps_, &tau_);
  }

  // The exact soft top-k on the channel cost at temperature eps, warm-started from *tau (and
  // updated). Each layer's best element by the current scores is held at mask 1 and the others
  // share the rest of the budget, as the hard selection keeps each layer's best first: without
  // it a global threshold can give a whole layer masks near 0 (LeNet-5 at 10 % of its MACs:
  // every conv2 / fc channel below the conv1 channels' initial scores, the soft network's output
  // constant, validation at chance for the whole soft phase).
  torch::Tensor soft_channels(double eps, double* tau) const {
    const auto& st = masker_.structure();
    const auto kind = o_.kind;
    std::vector<bool> fixed(st.elements, false);
    for (auto e : layer_bests(st, scores_.detach())) fixed[e] = true;
    std::vector<int64_t> free_ids;
    for (int64_t e = 0; e < st.elements; ++e)
      if (!fixed[e]) free_ids.push_back(e);
    const auto free = torch::tensor(free_ids, torch::kLong);
    const auto full = [&st, free](const torch::Tensor& mf) {
      return torch::ones({st.elements}, torch::kDouble).index_copy(0, free, mf);
    };
    const MaskCost cost = [&st, kind, free, full](const torch::Tensor& mf, torch::Tensor* grad) {
      const auto m = full(mf);
      if (grad) *grad = channel_cost_grad(st, m, kind).index_select(0, free);
      return channel_cost(st, m, kind);
    };
    const int64_t nf = free.numel();
    if (!(target_ > cost(torch::zeros({nf}, torch::kDouble), nullptr))) cannot_meet();
    auto r = soft_topk(scores_.index_select(0, free), cost, target_, eps, o_.cost, *tau);
    *tau = r.tau;
    return full(r.mask);
  }

  // Whether the final selection rounds the soft masks (docs/prune.md, "Hard selection"): DTP's
  // global channel budget, whose bilinear costs leave elements fractional at every temperature.
  bool rounds_soft_masks() const {
    return o_.method == Method::dtp && o_.granularity == Granularity::channel && o_.scope == Scope::global &&
           o_.rounding != Rounding::greedy;
  }

  // The soft masks the exact schedule ends with (its last temperature), recomputed from the
  // scores, so a resumed run rounds the same masks; the prox variant rounds these only when it
  // has no soft step of its own (soft_buf_: a run without soft epochs).
  torch::Tensor end_masks() const {
    const int64_t T = soft_epochs_ * steps_;
    const double eps = o_.variant == Variant::exact ? temperature_at(o_.schedule, o_.eps0, o_.eps_min, T, T)
                                                    : o_.eps_min;
    double tau = std::numeric_limits<double>::quiet_NaN();
    return soft_channels(eps, &tau).detach();
  }

  // The one-sweep prox step needs linear costs: the tangent of the exact cost G at the previous
  // masks mb, c = dG/dm(mb) with budget B - G(mb) + c mb (for a uniform kept fraction q this is
  // Newton's step for q^2 = r, converging to the budget as the masks settle).
  torch::Tensor soft_prox_channels() {
    const auto mb = masker_.mask().detach().to(torch::kDouble);
    const auto c = channel_cost_grad(masker_.structure(), mb, o_.kind);
    const double b = target_ - channel_cost(masker_.structure(), mb, o_.kind) + c.dot(mb).item<double>();
    auto m = soft_prox(c, b);
    if (soft_buf_.defined()) soft_buf_.copy_(m.detach());  // in double: its order decides the rounding
    return m;
  }

  // Straight-through hard top-k: the forward pass uses the hard selection of the scores (the
  // budget met as by finalise), the backward pass hands the masks' gradient to the scores as if
  // m = s.
  torch::Tensor straight_through() {
    torch::Tensor hard;
    {
      torch::NoGradGuard no_grad;
      hard = hard_masks(masker_, Method::ste, scores_, o_.budget, o_.kind, o_.scope);
      last_error_ = std::abs(masked_cost(masker_, hard, o_.kind) - target_) / target_;
    }
    return hard + (scores_ - scores_.detach());
  }

  // Gradual magnitude pruning (Zhu & Gupta 2017): o.gmp_updates mask updates spread evenly over
  // the pruning phase; update k keeps the fraction r + (1 - r)(1 - (k + 1) / n)^3 of the dense
  // cost, ranked by the magnitudes the current mask keeps; the last one keeps r.
  torch::Tensor gradual() {
    const int64_t total = std::max<int64_t>(1, soft_epochs_ * steps_), n = o_.gmp_updates;
    const int64_t k = std::min(n - 1, step_ * n / total);
    torch::NoGradGuard no_grad;
    if (stage_buf_.item<int64_t>() < k) {
      const double r = o_.budget + (1 - o_.budget) * std::pow(1.0 - static_cast<double>(k + 1) / n, 3);
      mask_buf_.copy_(hard_masks(masker_, Method::dtp, ranking(), r, o_.kind, o_.scope));
      stage_buf_.fill_(k);
      last_error_ = std::abs(masked_cost(masker_, mask_buf_, o_.kind) - r * dense_) / (r * dense_);
    }
    return mask_buf_;
  }

  [[noreturn]] void cannot_meet() const {
    throw UserError(fmt::format("--budget: {} cannot be met: the layers that are not pruned already "
                                "cost more than the {:.0f} allowed", o_.budget, target_));
  }

  std::unique_ptr<learn::Rule> inner_;
  Masker& masker_;
  torch::Tensor scores_, mask_buf_, final_buf_, stage_buf_, wcost_;
  torch::Tensor soft_buf_;  // --rounding plan: the prox plan's last soft masks (else undefined)
  PruneOptions o_;
  int64_t steps_, soft_epochs_ = 0, step_ = 0;
  double dense_ = 0, target_ = 0, tau_ = std::numeric_limits<double>::quiet_NaN();
  double eps_ = 0, last_error_ = 0;
  ProxSoftTopK prox_;
  std::vector<double> budgets_, taus_;  // Scope::layer (per layer, or per channel group)
  std::vector<ProxSoftTopK> proxes_;
  LayerShares shares_;                  // Scope::layer with channels
  std::vector<torch::Tensor> groups_;   // its groups' element ids
  torch::Tensor inverse_;               // position of every element in the groups' concatenation
};

}  // namespace

std::unique_ptr<PruneRule> attach_pruning(nn::NetImpl& model, Masker& masker, const PruneOptions& o,
                                          std::unique_ptr<learn::Rule> inner, int64_t steps_per_epoch) {
  // Scores and masks live on the model, so the Trainer's optimizer trains the scores and its
  // checkpoints (and resume) carry them.
  auto scores = model.register_parameter("prune_scores", initial_scores(masker, o.score_init).to(torch::kFloat),
                                         learns_scores(o.method));
  if (learns_scores(o.method) && o.score_lr_factor != 1) {
    const double f = o.score_lr_factor;
    scores.register_hook([f](torch::Tensor g) { return g * f; });
  }
  auto mask_buf = model.register_buffer("prune_mask", torch::ones({masker.size()}));
  auto final_buf = model.register_buffer("prune_final", torch::zeros({1}));
  // gmp: the index of the last mask update (-1: none yet), so a resumed run continues it.
  torch::Tensor stage_buf = o.method == Method::gmp
                                ? model.register_buffer("prune_stage", torch::full({1}, -1, torch::kLong))
                                : torch::full({1}, -1, torch::kLong);
  // --rounding plan reads the prox variant's last soft masks (they depend on the plan's history,
  // which is not recomputable from the scores): a buffer, so a run resumed at the hard phase
  // rounds the same masks. -1 until the first soft step.
  torch::Tensor soft_buf;
  if (o.method == Method::dtp && o.variant == Variant::prox && o.granularity == Granularity::channel &&
      o.scope == Scope::global && o.rounding == Rounding::plan)
    soft_buf = model.register_buffer("prune_soft", torch::full({masker.size()}, -1.0, torch::kDouble));
  if (one_shot(o.method)) {  // one-shot at epoch 0, then fine-tuning with the mask fixed
    torch::NoGradGuard no_grad;
    mask_buf.copy_(hard_masks(masker, o.method, scores, o.budget, o.kind, o.scope));
    final_buf.fill_(1);
  }
  return std::make_unique<MaskRule>(std::move(inner), masker, scores, mask_buf, final_buf, stage_buf,
                                    soft_buf, o, steps_per_epoch);
}

PruneResult prune_experiment(learn::Experiment& exp, RunDir& run, const PruneOptions& o,
                             const ParallelFineTuning& parallel) {
  nn::NetImpl& model = *exp.model;
  const auto& sizes = exp.test_set.images.sizes();
  const nn::InputShape in{sizes[1], sizes[2], sizes[3]};
  ModelStructure st = model_structure(model, in);
  validate(o, st);
  if (exp.modulation && o.granularity == Granularity::channel) {
    throw UserError("--granularity: channel masks use the hidden-layer hook, which learn.modulation " +
                    exp.modulation->name() + " also uses; prune a run trained without a modulation");
  }
  if (o.granularity == Granularity::weight && exp.rule &&
      exp.rule->name().find("essop") != std::string::npos) {
    // ESSOP installs its own weight products around each forward pass, which would bypass the
    // weight masks while training.
    throw UserError("--granularity: weight masks act through the models' weight products, which "
                    "learn.update essop replaces; prune a run trained with learn.update exact, or "
                    "use --granularity channel");
  }
  PruneResult res;
  res.params_before = dense_cost(st, BudgetKind::params);
  res.flops_before = dense_cost(st, BudgetKind::flops);
  res.target = o.budget * dense_cost(st, o.kind);
  if (o.scope == Scope::layer && o.granularity == Granularity::channel) {
    res.target = channel_layer_shares(st, o.budget, o.kind).cost;
  } else if (o.scope == Scope::layer) {
    res.target = 0;
    for (double b : layer_budgets(st, o.budget, o.kind)) res.target += b;
  }
  Masker masker(model, std::move(st), o.granularity);

  exp.train.epochs = o.epochs;
  const int64_t global_batch = exp.train.batch_size * parallel.world_size;
  const int64_t steps = (exp.train_set.size() + global_batch - 1) / global_batch;
  auto rule = attach_pruning(model, masker, o, std::move(exp.rule), steps);
  PruneRule* prule = rule.get();
  exp.rule = std::move(rule);

  auto runtime = parallel.runtime ? parallel.runtime(model) : nullptr;
  learn::Trainer trainer(exp, run, runtime.get());
  res.acc_before = trainer.evaluate(exp.test_set).accuracy;  // masks all ones: the dense model
  trainer.resume();
  if (o.stop_after >= 0) trainer.stop_after(o.stop_after);
  trainer.fit();
  if (trainer.epochs_done() < o.epochs) {  // interrupted: the checkpoints hold the state
    res.epochs = trainer.epochs_done();
    return res;
  }
  prule->finalise();  // a run of only soft epochs ends hard too
  res.hard = model.named_buffers(/*recurse=*/false)["prune_mask"].clone();
  const learn::EvalResult test = trainer.evaluate(exp.test_set);
  res.acc_after = test.accuracy;
  res.loss_after = test.loss;
  if (exp.valid_set.size() > 0) res.valid_after = trainer.evaluate(exp.valid_set);
  res.params_after = masked_cost(masker, res.hard, BudgetKind::params);
  res.flops_after = masked_cost(masker, res.hard, BudgetKind::flops);
  for (std::size_t l = 0; l < masker.structure().layers.size(); ++l) {
    const auto& L = masker.structure().layers[l];
    res.layers.push_back({L.name, L.weight.numel(), masker.weight_mask(l).sum().item<int64_t>()});
  }
  res.epochs = trainer.epochs_done();
  return res;
}

}  // namespace nc::compress::prune
