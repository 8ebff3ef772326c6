#include "neurocore/compress/efqat.h"

#include <c10/util/string_utils.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "neurocore/core/error.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/data_parallel.h"

namespace nc::compress {

SelectMode parse_select_mode(const std::string& name, const std::string& field) {
  if (name == "cwpn") return SelectMode::cwpn;
  if (name == "cwpl") return SelectMode::cwpl;
  if (name == "lwpn") return SelectMode::lwpn;
  throw UserError(field + ": expected cwpn, cwpl or lwpn, got '" + name + "'");
}

std::string to_string(SelectMode m) {
  switch (m) {
    case SelectMode::cwpn: return "cwpn";
    case SelectMode::cwpl: return "cwpl";
    case SelectMode::lwpn: return "lwpn";
  }
  return "?";
}

std::vector<torch::Tensor> channel_importance(const QuantNetImpl& net) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (const auto& l : const_cast<QuantNetImpl&>(net).layers()) {
    out.push_back(l.weight().detach().abs().reshape({l.out_channels(), -1}).mean(1).to(torch::kDouble));
  }
  return out;
}

namespace {

// ⌈ρ·n⌉, robust to ρ·n landing a rounding error above an integer (0.1 · 160).
int64_t ceil_fraction(double rho, int64_t n) {
  return static_cast<int64_t>(std::ceil(rho * static_cast<double>(n) - 1e-9));
}

struct Ranked {
  double importance;
  size_t layer;
  int64_t channel;
};

// Descending importance; stable sort on (layer, channel) order breaks ties to the lower index.
void rank(std::vector<Ranked>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const Ranked& a, const Ranked& b) { return a.importance > b.importance; });
}

torch::Tensor sorted_rows(std::vector<int64_t> rows) {
  std::sort(rows.begin(), rows.end());
  return torch::tensor(rows, torch::kLong);
}

}  // namespace

std::vector<torch::Tensor> select_channels(const std::vector<torch::Tensor>& imp,
                                           const std::vector<int64_t>& params, SelectMode mode,
                                           double rho) {
  if (!(rho >= 0.0 && rho <= 1.0)) {
    throw UserError("--fraction: the unfrozen fraction must be in [0, 1], got " +
                    std::to_string(rho));
  }
  TORCH_CHECK(imp.size() == params.size(), "select_channels: sizes differ");
  std::vector<std::vector<int64_t>> chosen(imp.size());
  std::vector<std::vector<Ranked>> per_layer(imp.size());
  for (size_t l = 0; l < imp.size(); ++l) {
    const auto a = imp[l].to(torch::kDouble).contiguous();
    for (int64_t c = 0; c < a.numel(); ++c) per_layer[l].push_back({a[c].item<double>(), l, c});
  }
  if (mode == SelectMode::cwpl) {
    for (size_t l = 0; l < imp.size(); ++l) {
      auto v = per_layer[l];
      rank(v);
      const int64_t k = ceil_fraction(rho, static_cast<int64_t>(v.size()));
      for (int64_t i = 0; i < k; ++i) chosen[l].push_back(v[i].channel);
    }
  } else if (mode == SelectMode::cwpn) {
    std::vector<Ranked> all;
    for (const auto& v : per_layer) all.insert(all.end(), v.begin(), v.end());
    rank(all);
    const int64_t k = ceil_fraction(rho, static_cast<int64_t>(all.size()));
    for (int64_t i = 0; i < k; ++i) chosen[all[i].layer].push_back(all[i].channel);
  } else {
    std::vector<Ranked> layers;
    int64_t total = 0;
    for (size_t l = 0; l < imp.size(); ++l) {
      // Every channel of a layer has the same size, so the layer mean is the channel mean.
      layers.push_back({imp[l].to(torch::kDouble).mean().item<double>(), l, 0});
      total += params[l];
    }
    rank(layers);
    const double budget = rho * static_cast<double>(total) - 1e-9;
    int64_t taken = 0;
    for (const auto& r : layers) {
      if (static_cast<double>(taken) >= budget) break;
      taken += params[r.layer];
      for (int64_t c = 0; c < imp[r.layer].numel(); ++c) chosen[r.layer].push_back(c);
    }
  }
  std::vector<torch::Tensor> out;
  for (auto& c : chosen) out.push_back(sorted_rows(c));
  return out;
}

Efqat::Efqat(QuantNetImpl& net, EfqatOptions options) : net_(net), options_(options) {}

int64_t Efqat::selected_channels() const {
  int64_t n = 0;
  for (const auto& l : net_.layers()) n += l.rows.numel();
  return n;
}

int64_t Efqat::total_channels() const {
  int64_t n = 0;
  for (const auto& l : net_.layers()) n += l.out_channels();
  return n;
}

void Efqat::reselect(torch::optim::Optimizer* optimizer) {
  torch::NoGradGuard no_grad;
  auto& layers = net_.layers();
  std::vector<int64_t> params;
  for (const auto& l : layers) params.push_back(l.weight().numel());
  const auto rows = select_channels(channel_importance(net_), params, options_.mode, options_.rho);
  frozen_.assign(layers.size(), {});
  frozen_w_.assign(layers.size(), {});
  frozen_s_.assign(layers.size(), {});
  for (size_t i = 0; i < layers.size(); ++i) {
    auto& l = layers[i];
    const int64_t c = l.out_channels();
    auto was = torch::zeros({c}, torch::kBool), now = torch::zeros({c}, torch::kBool);
    was.index_fill_(0, l.rows, true);
    now.index_fill_(0, rows[i], true);
    l.rows = rows[i];
    const bool any = l.rows.numel() > 0;
    l.weight().set_requires_grad(any);
    l.weight_q->scale.set_requires_grad(any && options_.train_quant_params &&
                                        l.weight_q->spec().learnable);
    l.input_q->scale.set_requires_grad(options_.train_quant_params && l.input_q->spec().learnable);
    if (l.bias().defined()) l.bias().set_requires_grad(options_.train_biases);
    frozen_[i] = torch::nonzero(~now).flatten();
    frozen_w_[i] = l.weight().index_select(0, frozen_[i]).clone();
    frozen_s_[i] = l.weight_q->scale.index_select(0, frozen_[i]).clone();
    if (!optimizer) continue;
    const auto changed = torch::nonzero(was != now).flatten();
    if (changed.numel() == 0) continue;
    // A row that changes status starts with fresh optimiser state (efqat.md §8).
    for (auto* p : {&l.weight(), &l.weight_q->scale}) {
      auto it = optimizer->state().find(c10::guts::to_string(p->unsafeGetTensorImpl()));
      if (it == optimizer->state().end()) continue;
      if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(it->second.get())) {
        if (sgd->momentum_buffer().defined()) sgd->momentum_buffer().index_fill_(0, changed, 0);
      } else if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get())) {
        adam->exp_avg().index_fill_(0, changed, 0);
        adam->exp_avg_sq().index_fill_(0, changed, 0);
      }
    }
  }
}

void Efqat::restore_frozen() {
  torch::NoGradGuard no_grad;
  auto& layers = net_.layers();
  for (size_t i = 0; i < layers.size() && i < frozen_.size(); ++i) {
    if (frozen_[i].numel() == 0) continue;
    layers[i].weight().index_copy_(0, frozen_[i], frozen_w_[i]);
    layers[i].weight_q->scale.index_copy_(0, frozen_[i], frozen_s_[i]);
  }
}

void Efqat::maybe_reselect(int64_t step, torch::optim::Optimizer* optimizer) {
  if (options_.reselect_every > 0 && step % options_.reselect_every == 0) reselect(optimizer);
}

std::vector<torch::Tensor> quant_parameters(QuantNetImpl& net) {
  std::vector<torch::Tensor> p;
  for (auto& l : net.layers()) {
    p.push_back(l.weight());
    if (l.bias().defined()) p.push_back(l.bias());
    if (l.weight_q->spec().learnable) p.push_back(l.weight_q->scale);
    if (l.input_q->spec().learnable) p.push_back(l.input_q->scale);
  }
  return p;
}

// An LSQ scale is a plain parameter, so a large step can push it to or below 0, where the
// quantizer is meaningless and the integer export refuses the model. Projecting back after each
// step (to float epsilon, as PyTorch's learnable fake-quantizer clamps) keeps training on the
// feasible set; a scale that never leaves it is untouched.
namespace {
void keep_scales_positive(QuantNetImpl& net) {
  torch::NoGradGuard no_grad;
  const double eps = std::numeric_limits<float>::epsilon();
  for (auto& l : net.layers()) {
    if (l.weight_q->spec().learnable) l.weight_q->scale.clamp_min_(eps);
    if (l.input_q->spec().learnable) l.input_q->scale.clamp_min_(eps);
  }
}
}  // namespace

QatStats train_quantized(QuantNetImpl& net, const torch::Tensor& images,
                         const torch::Tensor& labels, const QatOptions& o,
                         const std::function<void(int64_t, double)>& on_step,
                         learn::DataParallel* parallel) {
  // Data-parallel: a step takes batch_size x world examples of the epoch's order and rank r
  // trains the r-th part (learn::shard_range); the selection of critical channels depends on
  // the weights alone, so every rank selects the same rows.
  const int world = parallel ? parallel->world_size() : 1, rank = parallel ? parallel->rank() : 0;
  const int64_t global_batch = o.batch_size * world;
  auto params = quant_parameters(net);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(o.learning_rate)
                                    .momentum(o.momentum)
                                    .weight_decay(o.weight_decay));
  std::unique_ptr<Efqat> efqat;
  net.set_partial_backward(o.efqat);
  if (o.efqat) {
    efqat = std::make_unique<Efqat>(net, o.efqat_options);
  } else {
    for (auto& p : params) p.set_requires_grad(true);
    for (auto& l : net.layers()) l.rows = torch::arange(l.out_channels(), torch::kLong);
  }
  net.train();
  QatStats st;
  double loss_sum = 0;
  const int64_t n = images.size(0);
  const int64_t steps_per_epoch = (n + global_batch - 1) / global_batch;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    auto gen = make_generator(o.seed, "quantize-shuffle", static_cast<uint64_t>(epoch));
    const auto order = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
    Progress progress(fmt::format("{} epoch {}/{}", o.efqat ? "efqat" : "qat", epoch + 1, o.epochs),
                      parallel && !parallel->writer() ? 0
                      : o.max_steps >= 0 ? std::clamp<int64_t>(o.max_steps - st.steps, 0, steps_per_epoch)
                                       : steps_per_epoch,
                      "batch");
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      if (o.max_steps >= 0 && st.steps >= o.max_steps) break;
      if (efqat) efqat->maybe_reselect(st.steps, &opt);
      const auto global_idx = order.slice(0, s * global_batch, std::min(n, (s + 1) * global_batch));
      auto [first, end] = learn::shard_range(global_idx.size(0), rank, world);
      const int64_t local = end - first;
      if (local == 0) first = 0, end = 1;  // weight 0: joins the step's collectives only
      const auto idx = global_idx.slice(0, first, end);
      if (parallel) {
        parallel->start_batch(net, local, global_idx.size(0));
        net.set_activation_numel_scale(static_cast<double>(global_idx.size(0)) / static_cast<double>(end - first));
      }
      const auto x = images.index_select(0, idx), y = labels.index_select(0, idx);
      // Gradients set to none (not zero): a parameter frozen this step is skipped by SGD.
      for (auto& p : params) p.mutable_grad().reset();
      const auto loss = torch::cross_entropy_loss(net.forward(x), y);
      // With rho = 0 and frozen quantizers and biases nothing is trainable: PTQ exactly.
      if (loss.requires_grad()) {
        const auto t0 = std::chrono::steady_clock::now();
        loss.backward();
        st.backward_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        st.backward_macs += net.backward_macs();
        if (parallel) parallel->synchronize_gradients();
        opt.step();
        if (efqat) efqat->restore_frozen();
        keep_scales_positive(net);
      }
      st.full_backward_macs += net.full_backward_macs();
      const double l = loss.item<double>();
      if (!std::isfinite(l)) {
        throw UserError("quantize: the loss became " + std::to_string(l) + " at step " +
                        std::to_string(st.steps) + " (lower the learning rate)");
      }
      loss_sum += l;
      ++st.steps;
      progress.advance(1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(st.steps)));
      if (on_step) on_step(st.steps, l);
    }
  }
  net.set_activation_numel_scale(1.0);
  st.mean_loss = st.steps ? loss_sum / static_cast<double>(st.steps) : 0;
  net.set_partial_backward(false);
  return st;
}

}  // namespace nc::compress
