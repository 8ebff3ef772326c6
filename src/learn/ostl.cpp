#include "neurocore/learn/ostl.h"

#include <torch/torch.h>

#include <algorithm>
#include <utility>

#include "neurocore/core/error.h"
#include "ostl_kernels.h"

namespace nc::learn {
namespace {

int64_t bytes_of(const torch::Tensor& t) { return t.defined() ? t.nbytes() : 0; }

// Adds g into p.grad() (defining it when undefined).
void add_grad(torch::Tensor& p, const torch::Tensor& g) {
  if (!p.requires_grad() || !g.defined()) return;
  auto& grad = p.mutable_grad();
  if (grad.defined()) {
    grad.add_(g);
  } else {
    grad = g.clone(at::MemoryFormat::Contiguous);  // G_W of a held layer is stored transposed
  }
}

// t as a buffer of these sizes and options: kept when it already is one; else new zeros.
void reuse(torch::Tensor& t, at::IntArrayRef sizes, const torch::TensorOptions& o) {
  if (!t.defined() || t.sizes() != sizes || t.options().dtype() != o.dtype() ||
      t.device() != o.device()) {
    t = torch::zeros(sizes, o);
  }
}

}  // namespace

torch::Tensor OstlLayer::steps(const torch::Tensor&) {
  throw InternalError("OstlLayer::steps on a layer that does not hold its steps");
}

SNUOstlLayer::SNUOstlLayer(nn::SNUCell cell, int64_t trace_chunk)
    : cell_(std::move(cell)), chunk_(trace_chunk) {
  if (cell_->options.lateral_inhibition()) {
    throw UserError("ostl: SNU layers with lateral_inhibition are not supported; supported: " +
                    ostl_supported());
  }
  if (chunk_ < 0) {
    throw UserError("ostl: trace_chunk must be >= 0, got " + std::to_string(chunk_));
  }
}

void SNUOstlLayer::apply_held() const {
  if (held_.steps == 0) return;
  kernels::trace_update_contract(eps_w_, held_.alpha, held_.gp, held_.x, g_w_.t(), held_.c,
                                 held_.steps, held_.fresh);
  held_.steps = 0;
  held_.fresh = false;
}

void SNUOstlLayer::begin(int64_t batch, const torch::TensorOptions& options) {
  apply_held();  // their contributions to G belong to the previous sequence
  // G follows the parameters' dtype and device (the model may be converted after creation).
  auto ensure = [](torch::Tensor& g, const torch::Tensor& p) {
    if (p.defined() && (!g.defined() || g.dtype() != p.dtype() || g.device() != p.device())) {
      g = torch::zeros(p.sizes(), p.options().requires_grad(false));
    }
  };
  ensure(g_w_, cell_->weight);
  ensure(g_h_, cell_->recurrent_weight);
  ensure(g_th_, cell_->threshold);
  ensure(g_rho_, cell_->rho);
  const int64_t n = cell_->options.out(), m = cell_->options.in();
  const bool rec = cell_->options.recurrent();
  auto o = options.requires_grad(false);
  state_ = cell_->initial_state(batch, o);
  hp_ = torch::zeros({batch, n}, o);
  const bool held = !rec && chunk_ > 0 && kernels::fused_applicable(o, g_w_) &&
                    cell_->fused_sequence(o.device());
  if (rec) {
    eps_w_ = torch::zeros({batch, n, n, m}, o);
  } else if (held) {
    // Input-major, with G_W stored transposed to match (kernels::trace_update_contract).
    reuse(eps_w_, {batch, m, n}, o);  // the previous sequence's buffer when it matches
    if (!g_w_.t().is_contiguous()) g_w_ = g_w_.t().contiguous().t();
  } else {
    reuse(eps_w_, {batch, n, m}, o);
  }
  eps_h_ = rec ? torch::zeros({batch, n, n, n}, o) : torch::Tensor();
  eps_th_ = rec ? torch::zeros({batch, n, n}, o) : torch::zeros({batch, n}, o);
  eps_d_ = !cell_->options.trainable_decay() ? torch::Tensor()
           : rec                             ? torch::zeros({batch, n, n}, o)
                                             : torch::zeros({batch, n}, o);
  if (held) {
    // Keeps a capacity that steps() widened beyond chunk_.
    hold(std::max(chunk_, held_.alpha.defined() ? held_.alpha.size(0) : 0), batch, o);
  } else {
    held_ = HeldSteps{};
    if (!rec) eps_w_.zero_();
  }
  held_.steps = 0;
  held_.last = 0;
  held_.fresh = held;  // the first chunk reads epsW as zeros: no pass to clear it
}

void SNUOstlLayer::hold(int64_t capacity, int64_t batch, const torch::TensorOptions& o,
                        bool steps_used) {
  const int64_t n = cell_->options.out(), m = cell_->options.in();
  for (auto* t : {&held_.alpha, &held_.gp, &held_.c}) reuse(*t, {capacity, batch, n}, o);
  reuse(held_.x, {batch, capacity, m}, o);
  // steps()' own buffers, once it has been used.
  if (steps_used || held_.eth.defined()) {
    reuse(held_.eth, {capacity, batch, n}, o);
    reuse(held_.hp, {capacity, batch, n}, o);
    if (cell_->options.trainable_decay()) reuse(held_.ed, {capacity, batch, n}, o);
  }
}

torch::Tensor SNUOstlLayer::step(const torch::Tensor& x) {
  TORCH_CHECK(state_.s.defined(), "SNUOstlLayer::step before begin");
  if (held_.alpha.defined()) return step_fused(x);
  const nn::SNUState prev = state_;
  auto [y, next] = cell_->forward(x, prev);

  torch::NoGradGuard no_grad;
  const auto& o = cell_->options;
  const torch::Tensor xd = x.detach(), s = next.s.detach(), yd = y.detach();
  const torch::Tensor& sp = prev.s;  // s^{t-1}
  const torch::Tensor& yp = prev.y;  // y^{t-1}
  const torch::Tensor hpp = hp_;     // h'^{t-1}
  const int64_t B = s.size(0), n = o.out(), m = o.in();

  // g'(u^t): u > 0 iff s > 0 for relu and leaky_relu (slope >= 0), as in their backward.
  torch::Tensor gp;
  switch (o.g()) {
    case nn::Activation::identity: gp = torch::ones_like(s); break;
    case nn::Activation::relu: gp = (s > 0).to(s.dtype()); break;
    case nn::Activation::leaky_relu:
      gp = torch::where(s > 0, torch::ones_like(s), torch::full_like(s, o.g_slope()));
      break;
  }
  // h'^t = h'(s^t - theta): the SNU's surrogate, or the sSNU's sigmoid derivative.
  const torch::Tensor hp = o.soft() ? yd * (1 - yd)
                                    : nn::surrogate_derivative(s - cell_->threshold.detach(),
                                                               o.surrogate());
  const torch::Tensor d = cell_->decay().detach();  // [n]
  const torch::Tensor reset = 1 - yp;
  // d s_j^t / d s_j^{t-1} through the decay term, including the path through y^{t-1}
  // (the reset factor) unless the cell detaches it.
  const torch::Tensor a = o.detach_reset() ? d * reset : d * (reset - sp * hpp);
  // Immediate effect of theta through the reset factor: -d s^{t-1} * dy^{t-1}/dtheta|direct.
  const torch::Tensor m_th = o.detach_reset() ? torch::zeros_like(s) : gp * d * sp * hpp;

  if (!o.recurrent()) {
    const torch::Tensor alpha = gp * a;  // ostl.md §4
    // In place: the [B, n, m] trace is the largest tensor of a step; no temporaries of its size.
    eps_w_.mul_(alpha.unsqueeze(2)).addcmul_(gp.unsqueeze(2), xd.unsqueeze(1));
    eps_th_ = alpha * eps_th_ + m_th;
    if (eps_d_.defined()) eps_d_ = alpha * eps_d_ + gp * sp * reset;
  } else {
    // ostl.md §5: J_jk = g'_j [delta_jk a_j + H_jk h'^{t-1}_k], RTRL within the layer.
    const torch::Tensor H = cell_->recurrent_weight.detach();
    const torch::Tensor J =
        gp.unsqueeze(2) * (torch::diag_embed(a) + H.unsqueeze(0) * hpp.unsqueeze(1));
    const torch::Tensor G = torch::diag_embed(gp);  // delta_jq g'_j, [B, n, n]
    eps_w_ = torch::bmm(J, eps_w_.view({B, n, n * m})).view({B, n, n, m}) +
             G.unsqueeze(3) * xd.view({B, 1, 1, m});
    eps_h_ = torch::bmm(J, eps_h_.view({B, n, n * n})).view({B, n, n, n}) +
             G.unsqueeze(3) * yp.view({B, 1, 1, n});
    // theta_q acts through y_q^{t-1} in H y^{t-1} (-g'_j H_jq h'_q) and in the reset.
    eps_th_ = torch::bmm(J, eps_th_) + torch::diag_embed(m_th) -
              gp.unsqueeze(2) * H.unsqueeze(0) * hpp.unsqueeze(1);
    if (eps_d_.defined()) eps_d_ = torch::bmm(J, eps_d_) + torch::diag_embed(gp * sp * reset);
  }
  hp_ = hp;
  state_ = {s, yd};
  return y;
}

// The same step as below with the cell's fused kernel, the per-unit updates in one pass
// (kernels::diag_step) and epsW's update held back (apply_held): a handful of passes instead of
// some thirty tensor operations, which dominated a step once the trace pass was cheap.
torch::Tensor SNUOstlLayer::step_fused(const torch::Tensor& x) {
  if (held_.steps == held_.alpha.size(0)) apply_held();
  const nn::SNUState prev = state_;
  auto [y, next] = cell_->forward_fused(x, prev);

  torch::NoGradGuard no_grad;
  const auto& o = cell_->options;
  const torch::Tensor s = next.s.detach(), yd = y.detach();
  const torch::Tensor hp = o.soft() ? yd * (1 - yd)
                                    : nn::surrogate_derivative(s - cell_->threshold.detach(),
                                                               o.surrogate());
  const int64_t k = held_.steps++;
  kernels::diag_step({s, {}, {}, prev.s, prev.y, hp_, cell_->decay().detach(), o.g(),
                      o.g_slope(), o.detach_reset(), held_.gp[k], held_.alpha[k], eps_th_,
                      eps_d_, {}, {}});  // one step, the traces in place
  held_.x.select(1, k).copy_(x.detach());
  held_.c[k].zero_();
  held_.last = 1;
  hp_ = hp;
  state_ = {s, yd};
  return y;
}

// K steps as step_fused() takes them one by one, with the per-step tensor operations done
// once for all K: the matmul, the time loop, h'. What stays per step is diag_step, whose
// epsTheta and epsD now go to the held slots, to be contracted when the signals arrive.
torch::Tensor SNUOstlLayer::steps(const torch::Tensor& x) {
  if (!holds_steps()) return OstlLayer::steps(x);
  const auto& o = cell_->options;
  const int64_t B = state_.s.size(0), n = o.out(), m = o.in();
  if (x.dim() != 3 || x.size(0) < 1 || x.size(1) != B || x.size(2) != m) {
    throw UserError("ostl: steps() input must be [K, " + std::to_string(B) + ", " +
                    std::to_string(m) + "] with K >= 1, got " + c10::str(x.sizes()));
  }
  const int64_t K = x.size(0);
  if (held_.steps + K > held_.alpha.size(0)) apply_held();
  if (K > held_.alpha.size(0) || !held_.eth.defined()) {
    hold(std::max(K, held_.alpha.size(0)), B, state_.s.options(), /*steps_used=*/true);
  }
  const int64_t k0 = held_.steps;
  // A graph (to x only: the traces give W's gradient) when a lower layer waits for its
  // learning signal through x.
  const torch::Tensor wx =
      torch::nn::functional::linear(x.reshape({K * B, m}), cell_->weight.detach())
          .view({K, B, n});

  torch::NoGradGuard no_grad;
  auto [yv, s] = cell_->dynamics_sequence(wx.detach(), state_);
  const torch::Tensor th = cell_->threshold.detach();
  torch::Tensor hp = held_.hp.narrow(0, k0, K);
  if (o.soft()) {
    torch::mul_out(hp, yv, 1 - yv);
  } else {
    hp.copy_(nn::surrogate_derivative(s - th, o.surrogate()));
  }
  auto slots = [&](const torch::Tensor& t) {
    return t.defined() ? t.narrow(0, k0, K) : torch::Tensor();
  };
  kernels::diag_step({s, yv, hp, state_.s, state_.y, hp_, cell_->decay().detach(), o.g(),
                      o.g_slope(), o.detach_reset(), slots(held_.gp), slots(held_.alpha),
                      eps_th_, eps_d_, slots(held_.eth), slots(held_.ed)});
  held_.x.narrow(1, k0, K).copy_(x.detach().transpose(0, 1));
  held_.c.narrow(0, k0, K).zero_();
  eps_th_.copy_(held_.eth[k0 + K - 1]);
  if (eps_d_.defined()) eps_d_.copy_(held_.ed[k0 + K - 1]);
  held_.steps += K;
  held_.last = K;
  hp_ = hp[K - 1].clone();  // the slot is overwritten by a later chunk
  state_ = {s[K - 1], yv[K - 1]};

  // y^t's graph to x^t alone (the previous state enters detached, as in step()):
  // dy/d(W x) = h' g' per element; the value is the time loop's.
  torch::Tensor y = yv;
  if (wx.requires_grad()) {
    torch::AutoGradMode grad(true);
    const torch::Tensor local = hp * held_.gp.narrow(0, k0, K);
    y = yv + local * (wx - wx.detach());
  } else if (cell_->weight.requires_grad() || cell_->threshold.requires_grad() ||
             (cell_->rho.defined() && cell_->rho.requires_grad())) {
    y = yv.detach().requires_grad_(true);  // where the driver takes the learning signal
  }
  return y;
}

void SNUOstlLayer::accumulate(const torch::Tensor& signal) {
  if (!signal.defined()) return;
  torch::NoGradGuard no_grad;
  if (signal.dim() == 3) {
    accumulate_steps(signal);
    return;
  }
  if (held_.alpha.defined()) {
    TORCH_CHECK(held_.steps > 0, "SNUOstlLayer::accumulate before step");
    // c joins the held-back step: its contraction with epsW is done by apply_held().
    kernels::diag_accumulate(signal.detach(), hp_, eps_th_, eps_d_, cell_->decay().detach(),
                             held_.c[held_.steps - 1], g_th_,
                             eps_d_.defined() ? g_rho_ : torch::Tensor());
    return;
  }
  const auto& o = cell_->options;
  const torch::Tensor L = signal.detach();
  const torch::Tensor Lh = L * hp_;  // L_j h'_j: e = h' eps (+ the direct theta term)
  const int64_t B = L.size(0), n = o.out(), m = o.in();
  if (!o.recurrent()) {
    // G_W[j,i] += sum_b Lh_bj epsW_bji, batched over j.
    g_w_ += torch::bmm(Lh.t().unsqueeze(1), eps_w_.transpose(0, 1)).view({n, m});
    g_th_ += (Lh * (eps_th_ - 1)).sum(0);
    if (eps_d_.defined()) {
      const torch::Tensor d = cell_->decay().detach();
      g_rho_ += (Lh * eps_d_).sum(0) * d * (1 - d);
    }
  } else {
    const torch::Tensor row = Lh.reshape({1, B * n});  // contracts b and j at once
    g_w_ += torch::mm(row, eps_w_.view({B * n, n * m})).view({n, m});
    g_h_ += torch::mm(row, eps_h_.view({B * n, n * n})).view({n, n});
    g_th_ += torch::mm(row, eps_th_.view({B * n, n})).view({n}) - Lh.sum(0);
    if (eps_d_.defined()) {
      const torch::Tensor d = cell_->decay().detach();
      g_rho_ += torch::mm(row, eps_d_.view({B * n, n})).view({n}) * d * (1 - d);
    }
  }
}

// The K learning signals of the last steps(): each step's epsTheta, epsD and h' were held,
// so their per-unit contractions are one pass over [K * B, n] rows.
void SNUOstlLayer::accumulate_steps(const torch::Tensor& signal) {
  const int64_t K = signal.size(0), B = signal.size(1), n = signal.size(2);
  TORCH_CHECK(holds_steps() && K == held_.last && K <= held_.steps,
              "SNUOstlLayer::accumulate: ", K, " signals for the last ", held_.last, " steps");
  const int64_t k0 = held_.steps - K;
  auto rows = [&](const torch::Tensor& t) {
    return t.defined() ? t.narrow(0, k0, K).view({K * B, n}) : torch::Tensor();
  };
  kernels::diag_accumulate(signal.detach().reshape({K * B, n}), rows(held_.hp), rows(held_.eth),
                           rows(held_.ed), cell_->decay().detach(), rows(held_.c), g_th_,
                           eps_d_.defined() ? g_rho_ : torch::Tensor());
}

std::vector<torch::Tensor> SNUOstlLayer::parameters() const {
  std::vector<torch::Tensor> p{cell_->weight};
  if (g_h_.defined()) p.push_back(cell_->recurrent_weight);
  p.push_back(cell_->threshold);
  if (g_rho_.defined()) p.push_back(cell_->rho);
  return p;
}

std::vector<torch::Tensor> SNUOstlLayer::gradients() const {
  apply_held();
  std::vector<torch::Tensor> g{g_w_};
  if (g_h_.defined()) g.push_back(g_h_);
  g.push_back(g_th_);
  if (g_rho_.defined()) g.push_back(g_rho_);
  return g;
}

void SNUOstlLayer::zero_gradients() {
  apply_held();  // the trace must advance; G then drops their contributions with the rest
  for (auto& g : {g_w_, g_h_, g_th_, g_rho_}) {
    if (g.defined()) g.detach().zero_();
  }
}

int64_t SNUOstlLayer::carried_bytes() const {
  int64_t b = 0;
  const HeldSteps& h = held_;
  for (const auto* t : {&state_.s, &state_.y, &hp_, &eps_w_, &eps_h_, &eps_th_, &eps_d_, &g_w_,
                        &g_h_, &g_th_, &g_rho_, &h.alpha, &h.gp, &h.x, &h.c, &h.eth, &h.ed,
                        &h.hp}) {
    b += bytes_of(*t);
  }
  return b;
}

Ostl::Ostl(std::vector<std::shared_ptr<OstlLayer>> layers, std::vector<torch::Tensor> stateless,
           Between between)
    : layers_(std::move(layers)), stateless_(std::move(stateless)), between_(std::move(between)) {
  TORCH_CHECK(!layers_.empty(), "Ostl needs at least one recurrent layer");
  for (const auto& p : stateless_) g_stateless_.push_back(torch::zeros_like(p).detach());
}

void Ostl::begin(int64_t batch, const torch::TensorOptions& options) {
  ys_.clear();
  for (auto& l : layers_) l->begin(batch, options);
}

torch::Tensor Ostl::step(const torch::Tensor& x) { return up(x, /*several=*/false); }

torch::Tensor Ostl::up(const torch::Tensor& x, bool several) {
  ys_.clear();
  torch::Tensor h = x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    h = several ? layers_[l]->steps(h) : layers_[l]->step(h);
    ys_.push_back(h);
    if (between_) h = between_(l, h);
  }
  return h;
}

bool Ostl::holds_steps() const {
  return std::all_of(layers_.begin(), layers_.end(),
                     [](const auto& l) { return l->holds_steps(); });
}

torch::Tensor Ostl::steps(const torch::Tensor& x) {
  if (!holds_steps()) {
    throw UserError("ostl: several steps at once need every layer to hold its steps (an SNU or "
                    "sSNU layer without recurrent weights, on the CPU, trace_chunk > 0); step "
                    "one at a time instead");
  }
  return up(x, /*several=*/true);
}

void Ostl::backward(const torch::Tensor& loss) {
  if (ys_.empty()) throw InternalError("Ostl::backward without a step (or called twice)");
  // Learning signals L_l = dE^t/dy_l^t through the layers above at step t only (the previous
  // states entered detached), plus the stateless parameters' gradients.
  std::vector<torch::Tensor> inputs;
  std::vector<int> slot;  // index into ys_ (>= 0) or into stateless_ (-1 - k)
  for (std::size_t l = 0; l < ys_.size(); ++l) {
    if (ys_[l].requires_grad()) inputs.push_back(ys_[l]), slot.push_back(static_cast<int>(l));
  }
  for (std::size_t k = 0; k < stateless_.size(); ++k) {
    if (stateless_[k].requires_grad()) {
      inputs.push_back(stateless_[k]), slot.push_back(-1 - static_cast<int>(k));
    }
  }
  std::vector<torch::Tensor> grads;
  if (!inputs.empty() && loss.requires_grad()) {
    grads = torch::autograd::grad({loss}, inputs, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                  /*create_graph=*/false, /*allow_unused=*/true);
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    if (slot[i] >= 0) {
      layers_[slot[i]]->accumulate(grads[i]);
    } else {
      g_stateless_[-1 - slot[i]] += grads[i];
    }
  }
  ys_.clear();
}

void Ostl::write_gradients() {
  torch::NoGradGuard no_grad;
  for (auto& l : layers_) {
    auto ps = l->parameters();
    const auto gs = l->gradients();
    for (std::size_t i = 0; i < ps.size(); ++i) add_grad(ps[i], gs[i]);
    l->zero_gradients();
  }
  for (std::size_t k = 0; k < stateless_.size(); ++k) {
    add_grad(stateless_[k], g_stateless_[k]);
    g_stateless_[k].zero_();
  }
}

int64_t Ostl::carried_bytes() const {
  int64_t b = 0;
  for (const auto& l : layers_) b += l->carried_bytes();
  for (const auto& g : g_stateless_) b += bytes_of(g);
  return b;
}

}  // namespace nc::learn
