#include "neurocore/nn/weight_products.h"
#include "neurocore/nn/lif.h"

#include <torch/torch.h>

#include <cmath>

#include "module_util.h"
#include "neurocore/core/error.h"

namespace nc::nn {
namespace {

void validate(const LIFOptions& o) {
  auto fail = [](const std::string& what) { throw UserError("LIF: " + what); };
  if (o.in() < 1 || o.out() < 1) {
    fail("in and out must be >= 1, got in=" + std::to_string(o.in()) +
         ", out=" + std::to_string(o.out()));
  }
  if (!(o.tau_m() > 0) || !(o.dt() > 0)) {
    fail("tau_m and dt must be > 0, got tau_m=" + std::to_string(o.tau_m()) +
         ", dt=" + std::to_string(o.dt()));
  }
  if (o.scheme() == LIFScheme::euler && o.tau_m() < o.dt()) {
    fail("the euler scheme needs tau_m >= dt (alpha = 1 - dt/tau_m >= 0), got tau_m=" +
         std::to_string(o.tau_m()) + ", dt=" + std::to_string(o.dt()));
  }
  if (o.refractory_steps() < 0) {
    fail("refractory_steps must be >= 0, got " + std::to_string(o.refractory_steps()));
  }
}

using detail::shape_of;

void print_options(std::ostream& os, const char* name, const LIFOptions& o) {
  os << name << "(in=" << o.in() << ", out=" << o.out() << ", tau_m=" << o.tau_m()
     << ", dt=" << o.dt() << ", scheme="
     << (o.scheme() == LIFScheme::euler ? "euler" : "exponential")
     << ", threshold=" << o.threshold() << ", v_reset=" << o.v_reset()
     << ", refractory_steps=" << o.refractory_steps()
     << ", surrogate=" << surrogate_name(o.surrogate()) << ")";
}

}  // namespace

LIFCellImpl::LIFCellImpl(LIFOptions options_) : options(std::move(options_)) {
  validate(options);
  reset();
}

void LIFCellImpl::reset() {
  weight = register_parameter("weight", torch::empty({options.out(), options.in()}));
  detail::glorot_uniform_(weight);
}

void LIFCellImpl::pretty_print(std::ostream& stream) const {
  print_options(stream, "nc::nn::LIFCell", options);
}

double LIFCellImpl::alpha() const {
  const double r = options.dt() / options.tau_m();
  return options.scheme() == LIFScheme::euler ? 1 - r : std::exp(-r);
}

LIFState LIFCellImpl::initial_state(int64_t batch, torch::TensorOptions opts) const {
  if (!opts.has_dtype()) opts = opts.dtype(weight.scalar_type());
  if (!opts.has_device()) opts = opts.device(weight.device());
  const auto z = torch::zeros({batch, options.out()}, opts);
  return {z, z, torch::zeros({batch, options.out()}, opts.dtype(torch::kLong))};
}

std::tuple<torch::Tensor, LIFState> LIFCellImpl::forward(const torch::Tensor& x,
                                                         const LIFState& state) {
  if (x.dim() != 2 || x.size(1) != options.in()) {
    throw UserError("LIF: input must be [B, in] with in=" + std::to_string(options.in()) +
                    ", got " + shape_of(x));
  }
  return dynamics(nc::nn::linear(x, weight), state);
}

std::tuple<torch::Tensor, LIFState> LIFCellImpl::dynamics(const torch::Tensor& wx,
                                                          const LIFState& state) {
  if (wx.dim() != 2 || wx.size(1) != options.out()) {
    throw UserError("LIF: input current must be [B, out] with out=" +
                    std::to_string(options.out()) + ", got " + shape_of(wx));
  }
  const int64_t batch = wx.size(0);
  for (const auto* t : {&state.v, &state.y, &state.refractory}) {
    if (t->defined() && (t->dim() != 2 || t->size(0) != batch || t->size(1) != options.out())) {
      throw UserError("LIF: state tensors must be [B, out] = [" + std::to_string(batch) + ", " +
                      std::to_string(options.out()) + "], got " + shape_of(*t));
    }
  }
  if (state.v.defined() != state.y.defined()) {
    throw UserError("LIF: state.v and state.y must both be defined or both undefined");
  }
  LIFState st = state.v.defined() ? state : initial_state(batch, wx.options());
  if (!st.refractory.defined()) st.refractory = torch::zeros_like(st.v, torch::kLong);
  const torch::Tensor y_prev = options.detach_reset() ? st.y.detach() : st.y;
  // Reset to V_reset after a spike, written multiplicatively so that (unless detached) the
  // gradient flows through the reset as in the SNU.
  torch::Tensor v = st.v * (1 - y_prev);
  if (options.v_reset() != 0) v = v + options.v_reset() * y_prev;
  v = alpha() * v + wx;
  const int64_t R = options.refractory_steps();
  if (R == 0) {
    torch::Tensor y = spike(v - options.threshold(), options.surrogate());
    return {y, LIFState{v, y, st.refractory}};
  }
  const torch::Tensor& refractory = st.refractory;
  const torch::Tensor active = refractory == 0;
  v = torch::where(active, v, torch::full_like(v, options.v_reset()));
  torch::Tensor y = spike(v - options.threshold(), options.surrogate()) * active;
  const torch::Tensor next =
      torch::where(y > 0, torch::full_like(refractory, R), torch::clamp_min(refractory - 1, 0));
  return {y, LIFState{v, y, next}};
}

LIFImpl::LIFImpl(LIFOptions options_) : options(std::move(options_)) {
  validate(options);
  reset();
}

void LIFImpl::reset() { cell = register_module("cell", LIFCell(options)); }

void LIFImpl::pretty_print(std::ostream& stream) const {
  print_options(stream, "nc::nn::LIF", options);
}

torch::Tensor LIFImpl::forward(const torch::Tensor& x_seq) {
  if (x_seq.dim() != 3 || x_seq.size(2) != options.in() || x_seq.size(0) < 1) {
    throw UserError("LIF: input sequence must be [T, B, in] with T >= 1, in=" +
                    std::to_string(options.in()) + ", got " + shape_of(x_seq));
  }
  const int64_t T = x_seq.size(0), B = x_seq.size(1);
  const torch::Tensor wx =
      nc::nn::linear(x_seq.reshape({T * B, options.in()}), cell->weight)
          .view({T, B, options.out()});
  std::vector<torch::Tensor> ys;
  ys.reserve(T);
  LIFState st = cell->initial_state(B, wx.options());
  for (int64_t t = 0; t < T; ++t) {
    auto [y, next] = cell->dynamics(wx[t], st);
    ys.push_back(y);
    st = next;
  }
  return torch::stack(ys);
}

}  // namespace nc::nn
