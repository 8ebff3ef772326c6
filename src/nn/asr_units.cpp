// Recurrent units of the bio-inspired RNN-T (include/neurocore/nn/asr_units.h).
#include "neurocore/nn/asr_units.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"

namespace nc::nn {
namespace {

bool has_gate(AsrUnitKind k) {
  return k == AsrUnitKind::snu_aa || k == AsrUnitKind::ssnu_aa || k == AsrUnitKind::ssnu_aa_x;
}
bool is_soft(AsrUnitKind k) {
  return k == AsrUnitKind::ssnu || k == AsrUnitKind::ssnu_aa || k == AsrUnitKind::ssnu_aa_x;
}
// Number of stacked input projections (rows of W / n) and recurrent ones (rows of H / n).
int64_t input_groups(AsrUnitKind k) {
  return k == AsrUnitKind::lstm ? 4 : has_gate(k) ? 2 : 1;
}
int64_t recurrent_groups(AsrUnitKind k) {
  return k == AsrUnitKind::lstm ? 4 : (k == AsrUnitKind::snu_aa || k == AsrUnitKind::ssnu_aa) ? 2 : 1;
}

}  // namespace

AsrUnitKind parse_asr_unit(const std::string& name, const std::string& field) {
  for (auto k : {AsrUnitKind::lstm, AsrUnitKind::snu, AsrUnitKind::ssnu, AsrUnitKind::snu_aa,
                 AsrUnitKind::ssnu_aa, AsrUnitKind::ssnu_aa_x})
    if (asr_unit_name(k) == name) return k;
  throw UserError(field + ": '" + name +
                  "' is not a unit (expected lstm, snu, ssnu, snu_aa, ssnu_aa or ssnu_aa_x)");
}

std::string asr_unit_name(AsrUnitKind k) {
  switch (k) {
    case AsrUnitKind::lstm: return "lstm";
    case AsrUnitKind::snu: return "snu";
    case AsrUnitKind::ssnu: return "ssnu";
    case AsrUnitKind::snu_aa: return "snu_aa";
    case AsrUnitKind::ssnu_aa: return "ssnu_aa";
    case AsrUnitKind::ssnu_aa_x: return "ssnu_aa_x";
  }
  return "?";
}

AsrUnitImpl::AsrUnitImpl(AsrUnitOptions o) : options(std::move(o)) {
  if (options.in() < 1 || options.out() < 1)
    throw UserError("unit sizes must be >= 1, got in = " + std::to_string(options.in()) +
                    ", out = " + std::to_string(options.out()));
  const double d = options.decay();
  if (!(d > 0 && d <= 1) || (options.trainable_decay() && d >= 1))
    throw UserError("unit decay = " + std::to_string(d) + ", expected in (0, 1]" +
                    (options.trainable_decay() ? " and < 1 when trainable" : ""));
  reset();
}

void AsrUnitImpl::reset() {
  const int64_t m = options.in(), n = options.out();
  const auto k = options.kind();
  // Uniform(-1/sqrt(n), 1/sqrt(n)) as PyTorch's recurrent layers.
  const double a = 1.0 / std::sqrt(static_cast<double>(n));
  weight = register_parameter("weight", torch::empty({input_groups(k) * n, m}).uniform_(-a, a));
  recurrent_weight = register_parameter(
      "recurrent_weight", torch::empty({recurrent_groups(k) * n, n}).uniform_(-a, a));
  bias = register_parameter("bias", torch::empty({input_groups(k) * n}).uniform_(-a, a));
  if (k != AsrUnitKind::lstm) {
    threshold = register_parameter("threshold", torch::full({n}, options.threshold_init()));
    if (options.trainable_decay()) {
      const double d = options.decay();
      rho = register_parameter("rho", torch::full({n}, std::log(d / (1 - d))));
    } else {
      decay_ = register_buffer("decay", torch::full({n}, options.decay()));
    }
  }
}

torch::Tensor AsrUnitImpl::decay() const {
  return options.trainable_decay() ? torch::sigmoid(rho) : decay_;
}

int64_t AsrUnitImpl::macs_per_step() const {
  const int64_t m = options.in(), n = options.out();
  switch (options.kind()) {
    case AsrUnitKind::lstm: return 4 * n * (m + n);
    case AsrUnitKind::snu:
    case AsrUnitKind::ssnu: return n * (m + n);
    case AsrUnitKind::snu_aa:
    case AsrUnitKind::ssnu_aa: return 2 * n * (m + n);
    case AsrUnitKind::ssnu_aa_x: return n * (m + n) + n * m;
  }
  return 0;
}

torch::Tensor AsrUnitImpl::cell(const torch::Tensor& wx, AsrUnitState& state) {
  const int64_t B = wx.size(0), n = options.out();
  const auto k = options.kind();
  if (state.empty()) {
    const int64_t parts = k == AsrUnitKind::lstm ? 2 : 3;
    for (int64_t i = 0; i < parts; ++i) state.push_back(torch::zeros({B, n}, wx.options()));
  }
  if (k == AsrUnitKind::lstm) {
    auto gates = (wx + torch::matmul(state[0], recurrent_weight.t())).chunk(4, 1);
    auto c = torch::sigmoid(gates[1]) * state[1] + torch::sigmoid(gates[0]) * torch::tanh(gates[2]);
    auto h = torch::sigmoid(gates[3]) * torch::tanh(c);
    state = {h, c};
    return h;
  }
  const auto& s_prev = state[0];
  const auto& z_prev = state[1];
  const auto& y_prev = state[2];
  auto hy = torch::matmul(y_prev, recurrent_weight.t());  // [B, G_h n]
  const auto& reset_src = options.reset_from_y() ? y_prev : z_prev;
  auto u = wx.narrow(1, 0, n) + hy.narrow(1, 0, n) + decay() * s_prev * (1 - reset_src);
  auto s = options.relu() ? torch::relu(u) : u;
  auto z = is_soft(k) ? torch::sigmoid(s - threshold) : spike(s - threshold, options.surrogate());
  torch::Tensor y = z;
  if (has_gate(k)) {
    auto gate_in = wx.narrow(1, n, n);
    if (k != AsrUnitKind::ssnu_aa_x) gate_in = gate_in + hy.narrow(1, n, n);
    y = torch::sigmoid(gate_in) * z;
  }
  state = {s, z, y};
  return y;
}

torch::Tensor AsrUnitImpl::forward(const torch::Tensor& x, AsrUnitState& state) {
  if (x.dim() != 3 || x.size(2) != options.in())
    throw UserError("unit input must be [T, B, " + std::to_string(options.in()) + "], got " +
                    std::to_string(x.dim()) + " dimensions");
  const int64_t T = x.size(0), B = x.size(1);
  auto wx = torch::addmm(bias, x.reshape({T * B, options.in()}), weight.t()).view({T, B, -1});
  std::vector<torch::Tensor> ys;
  ys.reserve(T);
  for (int64_t t = 0; t < T; ++t) ys.push_back(cell(wx[t], state));
  if (T == 0) return torch::zeros({0, B, options.out()}, x.options());
  return torch::stack(ys);
}

torch::Tensor AsrUnitImpl::step(const torch::Tensor& x, AsrUnitState& state) {
  return cell(torch::addmm(bias, x, weight.t()), state);
}

}  // namespace nc::nn
