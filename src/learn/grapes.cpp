#include "neurocore/learn/grapes.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"
#include "neurocore/nn/snu.h"

namespace nc::learn {
namespace {

bool is_conv(const torch::nn::Module& m) {
  return dynamic_cast<const torch::nn::Conv1dImpl*>(&m) ||
         dynamic_cast<const torch::nn::Conv2dImpl*>(&m) ||
         dynamic_cast<const torch::nn::Conv3dImpl*>(&m);
}

// F [N] shaped to broadcast over a tensor of `dim` dimensions whose dimension `axis` holds
// the N units (axis 0 for a parameter [out, ...], axis 1 for a conv activation [B, C, ...]).
torch::Tensor broadcastable(const torch::Tensor& f, int64_t dim, int64_t axis) {
  std::vector<int64_t> shape(static_cast<std::size_t>(dim - axis), 1);
  shape[0] = -1;
  return f.view(shape);
}

// Sum of |w| along each row of a contiguous [rows, k] buffer. Sixteen partial sums let the
// compiler vectorise the loop (a single float accumulator may not be reordered).
template <typename T>
void row_l1(const T* w, int64_t rows, int64_t k, T* out) {
  constexpr int kLanes = 16;
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = w + r * k;
    T lane[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= k; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) lane[j] += std::abs(row[i + j]);
    }
    T sum = 0;
    for (; i < k; ++i) sum += std::abs(row[i]);
    for (int j = 0; j < kLanes; ++j) sum += lane[j];
    out[r] = sum;
  }
}

}  // namespace

torch::Tensor grapes_importance(const torch::Tensor& weight) {
  if (weight.dim() < 2) {
    throw InternalError("grapes_importance: weight must have >= 2 dimensions, got " +
                        std::to_string(weight.dim()));
  }
  // Per unit (row / output channel), never summed over the whole layer: that published bug
  // makes every factor 2 (spec §10.6). A plain loop: it runs for every hidden layer on every
  // batch, and LibTorch's reductions cost 2.5x (abs().sum(), which also copies |W|) to 16x
  // (linalg_vector_norm) as much on a 256 x 784 weight (measured, docs/results/grapes.md).
  const auto w = weight.detach().contiguous();
  if (!w.is_cpu() || !at::isFloatingType(w.scalar_type())) {
    return w.abs().flatten(1).sum(1);
  }
  const int64_t rows = w.size(0), k = rows == 0 ? 0 : w.numel() / rows;
  auto out = torch::empty({rows}, w.options());
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "grapes_importance", [&] {
    row_l1(w.data_ptr<scalar_t>(), rows, k, out.data_ptr<scalar_t>());
  });
  return out;
}

torch::Tensor grapes_factor(const torch::Tensor& importance, bool clip) {
  torch::NoGradGuard no_grad;
  const auto max = importance.max();
  if (max.item<double>() <= 0) return torch::ones_like(importance);
  auto f = importance.mul(2).div(max);
  return clip ? f.clamp(1, 2) : f;
}

torch::Tensor grapes_weight(const torch::nn::Module& producer) {
  if (auto* l = dynamic_cast<const torch::nn::LinearImpl*>(&producer)) return l->weight;
  if (auto* c = dynamic_cast<const torch::nn::Conv1dImpl*>(&producer)) return c->weight;
  if (auto* c = dynamic_cast<const torch::nn::Conv2dImpl*>(&producer)) return c->weight;
  if (auto* c = dynamic_cast<const torch::nn::Conv3dImpl*>(&producer)) return c->weight;
  if (auto* s = dynamic_cast<const nn::SNUImpl*>(&producer)) return s->cell->weight;
  throw UserError("learn.modulation: grapes supports hidden layers made by Linear, Conv and "
                  "SNU modules, got a hidden layer made by " + producer.name());
}

Grapes::Grapes(nn::NetImpl& model, GrapesOptions options)
    : model_(&model), options_(options) {
  for (auto& p : model.hidden_producers()) {
    grapes_weight(*p);  // rejects unsupported producers before anything is attached
    layers_.push_back({p, is_conv(*p)});
  }
  if (layers_.empty()) {
    throw UserError("learn.modulation: grapes modulates the errors of hidden layers (never the "
                    "output layer) and needs a model with at least one hidden layer; this " +
                    model.name() + " has none");
  }
  compute_factors();
  if (options_.version() == GrapesVersion::propagating) {
    model.set_hidden_hook([this](const torch::nn::Module& producer, const torch::Tensor& a) {
      return modulate(producer, a);
    });
    return;
  }
  // Local: scale the rows of each hidden layer's own weight (and bias) gradient, as they
  // reach the parameter; the error that flows to the layers below is untouched.
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<torch::Tensor> params;  // (not a braced list: GCC 12 warns falsely on it)
    params.push_back(grapes_weight(*layers_[i].producer));
    if (auto* l = layers_[i].producer->as<torch::nn::LinearImpl>()) {
      if (l->bias.defined()) params.push_back(l->bias);
    } else if (auto* c = layers_[i].producer->as<torch::nn::Conv2dImpl>()) {
      if (c->bias.defined()) params.push_back(c->bias);
    }
    for (auto& p : params) {
      if (!p.requires_grad()) continue;
      const unsigned h = p.register_hook([this, i](const torch::Tensor& g) {
        return g * broadcastable(factors_[i], g.dim(), 0);
      });
      param_hooks_.push_back({p, h});
    }
  }
}

Grapes::~Grapes() {
  if (options_.version() == GrapesVersion::propagating) model_->set_hidden_hook({});
  for (auto& h : param_hooks_) h.param.remove_hook(h.handle);
}

void Grapes::before_batch(nn::NetImpl& model) {
  if (&model != model_) throw InternalError("Grapes::before_batch: not the attached model");
  compute_factors();
}

void Grapes::compute_factors() {
  torch::NoGradGuard no_grad;
  factors_.clear();
  for (const auto& l : layers_) {
    factors_.push_back(grapes_factor(grapes_importance(grapes_weight(*l.producer)),
                                     options_.clip()));
  }
}

torch::Tensor Grapes::modulate(const torch::nn::Module& producer, const torch::Tensor& a) const {
  std::size_t i = 0;
  while (i < layers_.size() && layers_[i].producer.get() != &producer) ++i;
  if (i == layers_.size()) {
    throw InternalError("grapes: the model passed a hidden activation from " + producer.name() +
                        ", which hidden_producers() does not list");
  }
  if (!a.requires_grad() || !torch::GradMode::is_enabled()) return a;
  const int64_t axis = layers_[i].channels ? 1 : a.dim() - 1;
  TORCH_CHECK(a.dim() > axis && a.size(axis) == factors_[i].numel(), "grapes: activation ",
              a.sizes(), " does not have ", factors_[i].numel(), " units in dimension ", axis);
  // The identity op: forward y = a (a view, bit-identical), backward grad_a = F * grad_y.
  // F is captured by value: this batch's factors, whatever later batches compute.
  const auto f = broadcastable(factors_[i], a.dim(), axis);
  auto y = a.view_as(a);
  y.register_hook([f](const torch::Tensor& g) { return g * f; });
  return y;
}

}  // namespace nc::learn
