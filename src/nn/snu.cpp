#include "neurocore/nn/weight_products.h"
#include "neurocore/nn/snu.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"
#include "module_util.h"
#include "snu_dynamics.h"

namespace nc::nn {
namespace {

void validate(const SNUOptions& o) {
  auto fail = [](const std::string& what) { throw UserError("SNU: " + what); };
  if (o.in() < 1 || o.out() < 1) {
    fail("in and out must be >= 1, got in=" + std::to_string(o.in()) +
         ", out=" + std::to_string(o.out()));
  }
  if (o.trainable_decay() ? !(o.decay() > 0 && o.decay() < 1) : !(o.decay() > 0 && o.decay() <= 1)) {
    fail(std::string("decay must be in ") + (o.trainable_decay() ? "(0, 1)" : "(0, 1]") +
         (o.trainable_decay() ? " with trainable_decay" : "") + ", got " +
         std::to_string(o.decay()));
  }
  if (!(o.g_slope() >= 0 && o.g_slope() < 1)) {
    fail("g_slope must be in [0, 1), got " + std::to_string(o.g_slope()));
  }
  if (!std::isfinite(o.threshold_init())) fail("threshold_init must be finite");
}

using detail::glorot_uniform_;
using detail::shape_of;

void check_state(const SNUState& state, int64_t batch, int64_t out) {
  for (const auto* t : {&state.s, &state.y}) {
    if (t->defined() && (t->dim() != 2 || t->size(0) != batch || t->size(1) != out)) {
      throw UserError("SNU: state tensors must be [B, out] = [" + std::to_string(batch) + ", " +
                      std::to_string(out) + "], got " + shape_of(*t));
    }
  }
  if (state.s.defined() != state.y.defined()) {
    throw UserError("SNU: state.s and state.y must both be defined or both undefined");
  }
}

void check_input(const torch::Tensor& x, const SNUOptions& options) {
  if (x.dim() != 2 || x.size(1) != options.in()) {
    throw UserError("SNU: input must be [B, in] with in=" + std::to_string(options.in()) +
                    ", got " + shape_of(x));
  }
}

detail::SNUDynamicsConfig dynamics_config(const SNUOptions& o) {
  return {o.g(), o.g_slope(), o.soft(), o.surrogate(), o.detach_reset()};
}

const char* activation_name(Activation g) {
  switch (g) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::leaky_relu: return "leaky_relu";
  }
  return "?";
}

void print_options(std::ostream& os, const char* name, const SNUOptions& o) {
  os << name << "(in=" << o.in() << ", out=" << o.out() << (o.soft() ? ", soft" : "")
     << (o.recurrent() ? ", recurrent" : "") << ", g=" << activation_name(o.g())
     << ", decay=" << o.decay() << (o.trainable_decay() ? " (trainable)" : "");
  if (!o.soft()) os << ", surrogate=" << surrogate_name(o.surrogate());
  if (o.lateral_inhibition()) os << ", lateral_inhibition";
  if (o.detach_reset()) os << ", detach_reset";
  os << ")";
}

}  // namespace

SNUCellImpl::SNUCellImpl(SNUOptions options_) : options(std::move(options_)) {
  validate(options);
  reset();
}

void SNUCellImpl::reset() {
  const int64_t in = options.in(), out = options.out();
  weight = register_parameter("weight", torch::empty({out, in}));
  glorot_uniform_(weight);
  if (options.recurrent()) {
    recurrent_weight = register_parameter("recurrent_weight", torch::empty({out, out}));
    glorot_uniform_(recurrent_weight);
  }
  threshold = register_parameter("threshold", torch::full({out}, options.threshold_init()));
  const double d = options.decay();
  if (options.trainable_decay()) {
    rho = register_parameter("rho", torch::full({out}, std::log(d / (1 - d))));
  } else {
    decay_ = register_buffer("decay", torch::full({out}, d));
  }
}

void SNUCellImpl::pretty_print(std::ostream& stream) const {
  print_options(stream, "nc::nn::SNUCell", options);
}

SNUState SNUCellImpl::initial_state(int64_t batch, torch::TensorOptions opts) const {
  if (!opts.has_dtype()) opts = opts.dtype(weight.scalar_type());
  if (!opts.has_device()) opts = opts.device(weight.device());
  return {torch::zeros({batch, options.out()}, opts), torch::zeros({batch, options.out()}, opts)};
}

torch::Tensor SNUCellImpl::decay() const {
  return options.trainable_decay() ? torch::sigmoid(rho) : decay_;
}

std::tuple<torch::Tensor, SNUState> SNUCellImpl::forward(const torch::Tensor& x,
                                                         const SNUState& state) {
  check_input(x, options);
  return dynamics(nc::nn::linear(x, weight), state);
}

std::tuple<torch::Tensor, SNUState> SNUCellImpl::forward_fused(const torch::Tensor& x,
                                                               const SNUState& state) {
  if (options.lateral_inhibition() || !x.device().is_cpu()) return forward(x, state);
  check_input(x, options);
  check_state(state, x.size(0), options.out());
  // The recurrent input H y_{t-1} is known before the step: it joins W x as in dynamics().
  torch::Tensor wx = nc::nn::linear(x, weight);
  if (options.recurrent() && state.y.defined()) {
    wx = wx + nc::nn::linear(state.y, recurrent_weight);
  }
  auto [y, s] = detail::snu_dynamics(wx.unsqueeze(0), decay(), threshold, state.s, state.y,
                                     dynamics_config(options));
  return {y[0], SNUState{s[0], y[0]}};
}

bool SNUCellImpl::fused_sequence(const torch::Device& device) const {
  return !options.recurrent() && !options.lateral_inhibition() && device.is_cpu();
}

std::pair<torch::Tensor, torch::Tensor> SNUCellImpl::dynamics_sequence(const torch::Tensor& wx,
                                                                       const SNUState& state) {
  if (!fused_sequence(wx.device())) {
    throw InternalError("SNU: dynamics_sequence needs a CPU cell without recurrence or "
                        "lateral inhibition");
  }
  return detail::snu_dynamics(wx, decay(), threshold, state.s, state.y, dynamics_config(options));
}

std::tuple<torch::Tensor, SNUState> SNUCellImpl::dynamics(const torch::Tensor& wx,
                                                          const SNUState& state) {
  if (wx.dim() != 2 || wx.size(1) != options.out()) {
    throw UserError("SNU: feed-forward input must be [B, out] with out=" +
                    std::to_string(options.out()) + ", got " + shape_of(wx));
  }
  check_state(state, wx.size(0), options.out());
  const SNUState st = state.s.defined() ? state : initial_state(wx.size(0), wx.options());
  torch::Tensor y_prev = options.detach_reset() ? st.y.detach() : st.y;
  if (options.lateral_inhibition()) y_prev = y_prev.amax(1, /*keepdim=*/true);
  // snu.md §3: u = W x + H y_{t-1} + d * s_{t-1} * (1 - y_{t-1}). The fused layer path
  // (snu_dynamics.cpp) repeats these operations in this order.
  torch::Tensor u = wx;
  if (options.recurrent()) u = u + nc::nn::linear(st.y, recurrent_weight);
  u = u + decay() * st.s * (1 - y_prev);
  torch::Tensor s;
  switch (options.g()) {
    case Activation::identity: s = u; break;
    case Activation::relu: s = torch::relu(u); break;
    case Activation::leaky_relu: s = torch::leaky_relu(u, options.g_slope()); break;
  }
  const torch::Tensor z = s - threshold;
  torch::Tensor y = options.soft() ? torch::sigmoid(z) : spike(z, options.surrogate());
  return {y, SNUState{s, y}};
}

SNUImpl::SNUImpl(SNUOptions options_) : options(std::move(options_)) {
  validate(options);
  reset();
}

void SNUImpl::reset() { cell = register_module("cell", SNUCell(options)); }

void SNUImpl::pretty_print(std::ostream& stream) const {
  print_options(stream, "nc::nn::SNU", options);
}

torch::Tensor SNUImpl::forward(const torch::Tensor& x_seq) {
  return std::get<0>(unroll(x_seq, SNUState{}));
}

std::tuple<torch::Tensor, SNUState> SNUImpl::unroll(const torch::Tensor& x_seq,
                                                    const SNUState& state) {
  if (x_seq.dim() != 3 || x_seq.size(2) != options.in() || x_seq.size(0) < 1) {
    throw UserError("SNU: input sequence must be [T, B, in] with T >= 1, in=" +
                    std::to_string(options.in()) + ", got " + shape_of(x_seq));
  }
  const int64_t T = x_seq.size(0), B = x_seq.size(1), out = options.out();
  check_state(state, B, out);
  // One matmul for all steps; only the element-wise dynamics loop over time.
  const torch::Tensor wx = nc::nn::linear(x_seq.reshape({T * B, options.in()}),
                                                         cell->weight)
                               .view({T, B, out});
  if (cell->fused_sequence(wx.device())) {
    auto [y, s] = cell->dynamics_sequence(wx, state);
    return {y, SNUState{s[T - 1], y[T - 1]}};
  }
  std::vector<torch::Tensor> ys;
  ys.reserve(T);
  SNUState st = state;
  for (int64_t t = 0; t < T; ++t) {
    auto [y, next] = cell->dynamics(wx[t], st);
    ys.push_back(y);
    st = next;
  }
  return {torch::stack(ys), st};
}

}  // namespace nc::nn
