// The trace engine of the gated cells (ostl.md §6, RTRL within one layer); the cells' local
// derivatives are in ostl_lstm.cpp and ostl_gru.cpp.
#include <torch/torch.h>

#include "neurocore/learn/ostl_rnn.h"

namespace nc::learn {
namespace {

enum { kWih = 0, kWhh = 1, kBih = 2, kBhh = 3 };

// eps <- J eps + D v (outer product over the last axis when v is given): the trace update of
// every parameter; eps is [B, S, R] or [B, S, R, C].
torch::Tensor rtrl_update(const torch::Tensor& eps, const torch::Tensor& J, const torch::Tensor& D,
                          const torch::Tensor& v) {
  const int64_t B = eps.size(0), S = eps.size(1);
  const torch::Tensor carried = torch::bmm(J, eps.reshape({B, S, -1})).view(eps.sizes());
  if (!v.defined()) return carried + D;
  return carried + D.unsqueeze(3) * v.view({B, 1, 1, -1});
}

}  // namespace

GatedOstlLayer::GatedOstlLayer(std::vector<torch::Tensor> params, int64_t hidden,
                               int64_t state_size, int64_t h_offset)
    : params_(std::move(params)), hidden_(hidden), state_size_(state_size), h_offset_(h_offset) {
  TORCH_CHECK(params_.size() == 4, "GatedOstlLayer: weight_ih, weight_hh, bias_ih, bias_hh");
  eps_.resize(4);
  g_.resize(4);
}

torch::Tensor GatedOstlLayer::per_unit(const torch::Tensor& d) {
  const int64_t B = d.size(0), K = d.size(1), n = d.size(2);
  return torch::diag_embed(d).permute({0, 2, 1, 3}).reshape({B, n, K * n});
}

void GatedOstlLayer::begin(int64_t batch, const torch::TensorOptions& options) {
  auto o = options.requires_grad(false);
  state_ = torch::zeros({batch, state_size_}, o);
  for (int k = 0; k < 4; ++k) {
    const torch::Tensor& p = params_[k];
    if (!p.defined()) continue;
    // G follows the parameters' dtype and device (the model may be converted after creation).
    if (!g_[k].defined() || g_[k].dtype() != p.dtype() || g_[k].device() != p.device()) {
      g_[k] = torch::zeros(p.sizes(), p.options().requires_grad(false));
    }
    std::vector<int64_t> shape{batch, state_size_};
    for (int64_t s : p.sizes()) shape.push_back(s);
    eps_[k] = torch::zeros(shape, o);
  }
}

torch::Tensor GatedOstlLayer::step(const torch::Tensor& x) {
  TORCH_CHECK(state_.defined(), "GatedOstlLayer::step before begin");
  Local l = local_step(x, state_);

  torch::NoGradGuard no_grad;
  const torch::Tensor h_prev = state_.narrow(1, h_offset_, hidden_);
  // J = A + Dh W_hh on the columns of h^{t-1}.
  torch::Tensor J = l.a.clone();
  J.narrow(2, h_offset_, hidden_).add_(torch::matmul(l.dh, params_[kWhh].detach()));
  const torch::Tensor xd = x.detach();
  const torch::Tensor none;
  eps_[kWih] = rtrl_update(eps_[kWih], J, l.di, xd);
  eps_[kWhh] = rtrl_update(eps_[kWhh], J, l.dh, h_prev);
  if (eps_[kBih].defined()) eps_[kBih] = rtrl_update(eps_[kBih], J, l.di, none);
  if (eps_[kBhh].defined()) eps_[kBhh] = rtrl_update(eps_[kBhh], J, l.dh, none);
  state_ = l.state;
  return l.y;
}

void GatedOstlLayer::accumulate(const torch::Tensor& signal) {
  if (!signal.defined()) return;
  torch::NoGradGuard no_grad;
  const torch::Tensor L = signal.detach();  // dE^t/dh^t [B, n]
  for (int k = 0; k < 4; ++k) {
    if (!eps_[k].defined()) continue;
    // e = the h rows of eps; G += sum over batch and units of L e.
    const torch::Tensor e = eps_[k].narrow(1, h_offset_, hidden_);
    g_[k] += torch::tensordot(L, e, {0, 1}, {0, 1});
  }
}

std::vector<torch::Tensor> GatedOstlLayer::parameters() const {
  std::vector<torch::Tensor> p;
  for (const auto& t : params_) {
    if (t.defined()) p.push_back(t);
  }
  return p;
}

std::vector<torch::Tensor> GatedOstlLayer::gradients() const {
  std::vector<torch::Tensor> g;
  for (int k = 0; k < 4; ++k) {
    if (params_[k].defined()) g.push_back(g_[k]);
  }
  return g;
}

void GatedOstlLayer::zero_gradients() {
  for (auto& g : g_) {
    if (g.defined()) g.detach().zero_();
  }
}

int64_t GatedOstlLayer::carried_bytes() const {
  int64_t b = state_.defined() ? state_.nbytes() : 0;
  for (const auto& v : {&eps_, &g_}) {
    for (const auto& t : *v) b += t.defined() ? t.nbytes() : 0;
  }
  return b;
}

}  // namespace nc::learn
