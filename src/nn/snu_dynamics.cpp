#include "snu_dynamics.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace nc::nn::detail {
namespace {

// Elements per parallel chunk (whole rows of the batch): the time loop runs inside each.
constexpr int64_t kGrain = 4096;

// Rows (steps x batch) of dL/d(W x) that SNULayerFunction's backward holds at once: enough
// for efficient matrix products (512 was no faster), small against T x B for long sequences.
constexpr int64_t kBackwardBlockRows = 128;

int64_t row_grain(int64_t n) { return std::max<int64_t>(1, kGrain / n); }

// The two step kernels are compiled without trapping math, as LibTorch's own kernels are
// (no floating-point trap handlers are ever installed). With it, GCC may not if-convert the
// selects of relu, leaky relu and the step, and the loops stay scalar, about 20x slower.
// Results are unchanged: the same IEEE operations in the same order.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

// One step of the forward recursion over `rows` rows of n units. The operations and their
// order are those of SNUCellImpl::dynamics, so the numbers are equal; the loop has no
// branches left after the template arguments are fixed, so the compiler vectorises it.
// `a` and `s` may be the same buffer (the recursion in place), so neither is restrict.
template <class T, Activation G, bool Soft, bool HasPrev>
void forward_step(const T* a, const T* __restrict__ d, const T* __restrict__ th,
                  const T* __restrict__ s_prev, const T* __restrict__ y_prev, T* s,
                  T* __restrict__ y, int64_t rows, int64_t n, T slope) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = r * n + j;
      // From the zero state the cell adds d * 0 * (1 - 0), an exact zero.
      T u = a[i];
      if constexpr (HasPrev) u = a[i] + (d[j] * s_prev[i]) * (T(1) - y_prev[i]);
      if constexpr (G == Activation::relu) u = u > 0 ? u : T(0);
      if constexpr (G == Activation::leaky_relu) u = u > 0 ? u : u * slope;
      s[i] = u;
      const T z = u - th[j];
      if constexpr (Soft) {
        y[i] = T(1) / (T(1) + std::exp(-z));
      } else {
        y[i] = z > 0 ? T(1) : T(0);
      }
    }
  }
}

// One step of the reverse recursion (see SNUDynamicsFunction::backward).
template <class T, Activation G>
void backward_step(const T* __restrict__ hp, const T* __restrict__ s, const T* __restrict__ s_prev,
                   const T* __restrict__ y_prev, const T* __restrict__ d,
                   const T* __restrict__ gy_ext, const T* __restrict__ gs_ext, T* __restrict__ gy,
                   T* __restrict__ gs, T* __restrict__ ga, T* __restrict__ gd, T* __restrict__ gth,
                   int64_t rows, int64_t n, T slope, T keep_reset) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = r * n + j;
      const T gz = (gy_ext[i] + gy[i]) * hp[i];
      T gu = gs_ext[i] + gs[i] + gz;
      if constexpr (G == Activation::relu) gu = s[i] > 0 ? gu : T(0);
      if constexpr (G == Activation::leaky_relu) gu = s[i] > 0 ? gu : gu * slope;
      ga[i] = gu;
      const T reset = T(1) - y_prev[i];
      gd[j] += gu * s_prev[i] * reset;
      gth[j] -= gz;
      gs[i] = gu * d[j] * reset;
      gy[i] = -(gu * d[j] * s_prev[i]) * keep_reset;
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// The forward recursion over all T steps, rows of the batch in parallel. `a` (the input W x,
// [T, B, N]) may be `s` itself: each element of a is read before the same element of s is
// written.
template <class scalar_t>
void run_forward(const scalar_t* a, const torch::Tensor& d, const torch::Tensor& theta,
                 const torch::Tensor& s0, const torch::Tensor& y0, torch::Tensor& s,
                 torch::Tensor& y, const SNUDynamicsConfig& c) {
  const int64_t T = s.size(0), B = s.size(1), N = s.size(2), BN = B * N;
  const scalar_t* dp = d.data_ptr<scalar_t>();
  const scalar_t* th = theta.data_ptr<scalar_t>();
  scalar_t* sp = s.data_ptr<scalar_t>();
  scalar_t* yp = y.data_ptr<scalar_t>();
  const scalar_t* s0p = s0.defined() ? s0.data_ptr<scalar_t>() : nullptr;
  const scalar_t* y0p = y0.defined() ? y0.data_ptr<scalar_t>() : nullptr;
  const auto slope = static_cast<scalar_t>(c.g_slope);
  dispatch_activation(c.g, [&](auto g) {
    constexpr Activation G = decltype(g)::value;
    auto step =
        c.soft ? forward_step<scalar_t, G, true, true> : forward_step<scalar_t, G, false, true>;
    auto first =
        c.soft ? forward_step<scalar_t, G, true, false> : forward_step<scalar_t, G, false, false>;
    at::parallel_for(0, B, row_grain(N), [&](int64_t b0, int64_t b1) {
      const int64_t off = b0 * N, rows = b1 - b0;
      for (int64_t t = 0; t < T; ++t) {
        const scalar_t* s_prev = t ? sp + (t - 1) * BN + off : s0p ? s0p + off : nullptr;
        const scalar_t* y_prev = t ? yp + (t - 1) * BN + off : y0p ? y0p + off : nullptr;
        (s_prev ? step : first)(a + t * BN + off, dp, th, s_prev, y_prev, sp + t * BN + off,
                                yp + t * BN + off, rows, N, slope);
      }
    });
  });
}

void save_config(torch::autograd::AutogradContext* ctx, const SNUDynamicsConfig& c) {
  // An output without gradient (usually s) arrives undefined instead of as zeros.
  ctx->set_materialize_grads(false);
  ctx->saved_data["g"] = static_cast<int64_t>(c.g);
  ctx->saved_data["g_slope"] = c.g_slope;
  ctx->saved_data["soft"] = c.soft;
  ctx->saved_data["kind"] = static_cast<int64_t>(c.surrogate.kind);
  ctx->saved_data["param"] = c.surrogate.param;
  ctx->saved_data["detach_reset"] = c.detach_reset;
}

SNUDynamicsConfig load_config(torch::autograd::AutogradContext* ctx) {
  return {static_cast<Activation>(ctx->saved_data["g"].toInt()),
          ctx->saved_data["g_slope"].toDouble(), ctx->saved_data["soft"].toBool(),
          Surrogate{static_cast<SurrogateKind>(ctx->saved_data["kind"].toInt()),
                    ctx->saved_data["param"].toDouble()},
          ctx->saved_data["detach_reset"].toBool()};
}

// Reverse time loop of the chain rule, per element, with carries gs = dL/ds_{t-1} and
// gy = dL/dy_{t-1} flowing from step t to t-1:
//   gz = gy_t h'(s_t - theta); gu = (gs_t + gz) g'(u_t)
//   dL/dwx_t = gu; dL/dd += gu s_{t-1} (1 - y_{t-1}); dL/dtheta -= gz
//   gs_{t-1} = gu d (1 - y_{t-1}); gy_{t-1} = -gu d s_{t-1} (0 with detach_reset)
// g'(u) is read from s = g(u): for relu and leaky relu (slope >= 0), u > 0 iff s > 0.
// run() takes the steps in blocks, latest first, so that a caller can consume dL/dwx of a
// block (the weight gradient) before the next one is computed into the same buffer.
class Reverse {
 public:
  // Few, same-sized allocations (each new large buffer can cost page faults): scratch holds
  // the two carries (which end as the gradients of s0 and y0) and a block of zeros standing
  // in for an absent state or incoming gradient; per-thread partial sums give the per-unit
  // gradients of d and theta.
  Reverse(torch::autograd::AutogradContext* ctx, const torch::autograd::tensor_list& saved,
          const torch::autograd::tensor_list& grads)
      : d_(saved[0]),
        theta_(saved[1].detach()),
        s0_(saved[2]),
        y0_(saved[3]),
        s_(saved[4].detach()),
        y_(saved[5].detach()),
        c_(load_config(ctx)),
        gy_ext_(grads[0].defined() ? grads[0].contiguous() : torch::Tensor()),
        gs_ext_(grads[1].defined() ? grads[1].contiguous() : torch::Tensor()),
        scratch_(torch::zeros({3, s_.size(1), s_.size(2)}, s_.options())),
        partial_(torch::zeros({at::get_num_threads(), 2, s_.size(2)}, s_.options())) {}

  int64_t steps() const { return s_.size(0); }

  // Steps t1-1 down to t0; dL/dwx_t goes to ga[t - t0] (ga: [t1 - t0, B, N], contiguous).
  void run(int64_t t0, int64_t t1, torch::Tensor& ga_block) {
    AT_DISPATCH_FLOATING_TYPES(s_.scalar_type(), "snu_dynamics_backward",
                               [&] { run_typed<scalar_t>(t0, t1, ga_block.data_ptr<scalar_t>()); });
  }

  // The gradients of d, theta, s0 and y0 once every step has run.
  std::array<torch::Tensor, 4> finish() const {
    const auto sums = partial_.sum(0);
    return {sums[0], sums[1], s0_.defined() ? scratch_[0] : torch::Tensor(),
            y0_.defined() ? scratch_[1] : torch::Tensor()};
  }

 private:
  template <class scalar_t>
  void run_typed(int64_t t0, int64_t t1, scalar_t* ga) {
    const int64_t B = s_.size(1), N = s_.size(2), BN = B * N;
    const scalar_t* dp = d_.data_ptr<scalar_t>();
    const scalar_t* sp = s_.data_ptr<scalar_t>();
    const scalar_t* yp = y_.data_ptr<scalar_t>();
    const scalar_t* s0p = s0_.defined() ? s0_.data_ptr<scalar_t>() : nullptr;
    const scalar_t* y0p = y0_.defined() ? y0_.data_ptr<scalar_t>() : nullptr;
    const scalar_t* gye = gy_ext_.defined() ? gy_ext_.data_ptr<scalar_t>() : nullptr;
    const scalar_t* gse = gs_ext_.defined() ? gs_ext_.data_ptr<scalar_t>() : nullptr;
    scalar_t* gsc = scratch_.data_ptr<scalar_t>();
    scalar_t* gyc = gsc + BN;
    const scalar_t* zeros = gsc + 2 * BN;
    const auto slope = static_cast<scalar_t>(c_.g_slope);
    const auto keep_reset = scalar_t(c_.detach_reset ? 0 : 1);
    dispatch_activation(c_.g, [&](auto g_const) {
      auto step = backward_step<scalar_t, decltype(g_const)::value>;
      at::parallel_for(0, B, row_grain(N), [&](int64_t b0, int64_t b1) {
        const int64_t off = b0 * N;
        scalar_t* gd = partial_.data_ptr<scalar_t>() + at::get_thread_num() * 2 * N;
        scalar_t* gth = gd + N;
        for (int64_t t = t1 - 1; t >= t0; --t) {
          // h'(s_t - theta) of these rows, by LibTorch's vectorised kernels (run serially
          // inside the parallel region), one step at a time to keep the temporaries small.
          const auto hp = c_.soft
                              ? ((1 - y_[t].slice(0, b0, b1)) * y_[t].slice(0, b0, b1))
                              : surrogate_derivative(s_[t].slice(0, b0, b1) - theta_, c_.surrogate);
          const scalar_t* s_prev = t ? sp + (t - 1) * BN + off : s0p ? s0p + off : zeros + off;
          const scalar_t* y_prev = t ? yp + (t - 1) * BN + off : y0p ? y0p + off : zeros + off;
          step(hp.contiguous().data_ptr<scalar_t>(), sp + t * BN + off, s_prev, y_prev, dp,
               gye ? gye + t * BN + off : zeros + off, gse ? gse + t * BN + off : zeros + off,
               gyc + off, gsc + off, ga + (t - t0) * BN + off, gd, gth, b1 - b0, N, slope,
               keep_reset);
        }
      });
    });
  }

  torch::Tensor d_, theta_, s0_, y0_, s_, y_;
  SNUDynamicsConfig c_;
  torch::Tensor gy_ext_, gs_ext_, scratch_, partial_;
};

// Without a state, s_0 = y_0 = 0 (no tensors to allocate and fill).
torch::Tensor contiguous_or_none(const c10::optional<torch::Tensor>& t) {
  return t ? t->contiguous() : torch::Tensor();
}

struct SNUDynamicsFunction : torch::autograd::Function<SNUDynamicsFunction> {
  static torch::autograd::tensor_list forward(torch::autograd::AutogradContext* ctx,
                                              const torch::Tensor& wx_in, const torch::Tensor& d_in,
                                              const torch::Tensor& theta_in,
                                              const c10::optional<torch::Tensor>& s0_in,
                                              const c10::optional<torch::Tensor>& y0_in,
                                              const SNUDynamicsConfig& c) {
    const auto wx = wx_in.contiguous();
    const auto d = d_in.contiguous();
    const auto theta = theta_in.contiguous();
    const auto s0 = contiguous_or_none(s0_in), y0 = contiguous_or_none(y0_in);
    auto s = torch::empty_like(wx);
    auto y = torch::empty_like(wx);
    AT_DISPATCH_FLOATING_TYPES(wx.scalar_type(), "snu_dynamics_forward", [&] {
      run_forward<scalar_t>(wx.data_ptr<scalar_t>(), d, theta, s0, y0, s, y, c);
    });
    ctx->save_for_backward({d, theta, s0, y0, s, y});
    save_config(ctx, c);
    return {y, s};
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    Reverse reverse(ctx, saved, grads);
    auto gwx = torch::empty_like(saved[4]);
    reverse.run(0, reverse.steps(), gwx);
    const auto [gd, gth, gs0, gy0] = reverse.finish();
    return {gwx, gd, gth, gs0, gy0, torch::Tensor()};
  }
};

// The whole layer, W x included. Memory is what sets this apart from linear + snu_dynamics:
// W x is computed into s's buffer and the recursion runs in place (no [T, B, N] temporary in
// the forward pass), and the backward pass takes dL/d(W x) in blocks of steps, each consumed by
// the weight and input gradients before the next, instead of materialising all T steps. BPTT
// then keeps s, y and the incoming gradient of y: 3 [T, B, N] tensors at its peak, not 4.
struct SNULayerFunction : torch::autograd::Function<SNULayerFunction> {
  static torch::autograd::tensor_list forward(torch::autograd::AutogradContext* ctx,
                                              const torch::Tensor& x_in, const torch::Tensor& w_in,
                                              const torch::Tensor& d_in,
                                              const torch::Tensor& theta_in,
                                              const c10::optional<torch::Tensor>& s0_in,
                                              const c10::optional<torch::Tensor>& y0_in,
                                              const SNUDynamicsConfig& c, int64_t block) {
    const auto x = x_in.contiguous();
    const auto w = w_in.contiguous();
    const auto d = d_in.contiguous();
    const auto theta = theta_in.contiguous();
    const auto s0 = contiguous_or_none(s0_in), y0 = contiguous_or_none(y0_in);
    const int64_t T = x.size(0), B = x.size(1), M = x.size(2), N = w.size(0);
    auto s = torch::empty({T, B, N}, x.options());
    auto y = torch::empty({T, B, N}, x.options());
    auto s2 = s.view({T * B, N});
    at::mm_out(s2, x.view({T * B, M}), w.t());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "snu_layer_forward", [&] {
      run_forward<scalar_t>(s.data_ptr<scalar_t>(), d, theta, s0, y0, s, y, c);
    });
    ctx->save_for_backward({d, theta, s0, y0, s, y, x, w});
    save_config(ctx, c);
    ctx->saved_data["block"] = block;
    return {y, s};
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[6], &w = saved[7];
    Reverse reverse(ctx, saved, grads);
    const int64_t T = x.size(0), B = x.size(1), M = x.size(2), N = w.size(0);
    const int64_t block = std::min(T, ctx->saved_data["block"].toInt());
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    auto gx = need_x ? torch::empty_like(x) : torch::Tensor();
    auto gw = need_w ? torch::zeros_like(w) : torch::Tensor();
    auto buffer = torch::empty({block, B, N}, x.options());
    for (int64_t t1 = T; t1 > 0; t1 -= block) {
      const int64_t t0 = std::max<int64_t>(0, t1 - block);
      auto ga = buffer.narrow(0, 0, t1 - t0);
      reverse.run(t0, t1, ga);
      const auto ga2 = ga.view({(t1 - t0) * B, N});
      if (need_w) gw.addmm_(ga2.t(), x.narrow(0, t0, t1 - t0).view({(t1 - t0) * B, M}));
      if (need_x) {
        auto gx2 = gx.narrow(0, t0, t1 - t0).view({(t1 - t0) * B, M});
        at::mm_out(gx2, ga2, w);
      }
    }
    const auto [gd, gth, gs0, gy0] = reverse.finish();
    return {gx, gw, gd, gth, gs0, gy0, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

namespace {

// The checks both entry points share. Returns the state in the input's dtype (none for the
// zero state).
std::pair<c10::optional<torch::Tensor>, c10::optional<torch::Tensor>> checked_state(
    const torch::Tensor& in, int64_t n, const torch::Tensor& d, const torch::Tensor& theta,
    const torch::Tensor& s0, const torch::Tensor& y0) {
  TORCH_CHECK(in.dim() == 3 && d.dim() == 1 && theta.dim() == 1, "snu_dynamics: bad ranks");
  TORCH_CHECK(d.size(0) == n && theta.size(0) == n, "snu_dynamics: bad N");
  TORCH_CHECK(s0.defined() == y0.defined(), "snu_dynamics: s0 and y0 both or neither");
  const std::vector<int64_t> state_shape{in.size(1), n};
  TORCH_CHECK(!s0.defined() || (s0.sizes() == state_shape && y0.sizes() == state_shape),
              "snu_dynamics: bad state shape");
  TORCH_CHECK(in.device().is_cpu(), "snu_dynamics: CPU only");
  if (!s0.defined()) return {};
  return {s0.to(in.scalar_type()), y0.to(in.scalar_type())};
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> snu_dynamics(
    const torch::Tensor& wx, const torch::Tensor& d, const torch::Tensor& theta,
    const torch::Tensor& s0, const torch::Tensor& y0, const SNUDynamicsConfig& config) {
  const auto [s0_, y0_] = checked_state(wx, wx.size(-1), d, theta, s0, y0);
  const auto dtype = wx.scalar_type();
  auto out = SNUDynamicsFunction::apply(wx, d.to(dtype), theta.to(dtype), s0_, y0_, config);
  return {out[0], out[1]};
}

std::pair<torch::Tensor, torch::Tensor> snu_layer(const torch::Tensor& x, const torch::Tensor& w,
                                                  const torch::Tensor& d,
                                                  const torch::Tensor& theta,
                                                  const torch::Tensor& s0, const torch::Tensor& y0,
                                                  const SNUDynamicsConfig& config,
                                                  int64_t block_steps) {
  TORCH_CHECK(w.dim() == 2 && x.dim() == 3 && x.size(2) == w.size(1), "snu_layer: bad W shape");
  TORCH_CHECK(x.scalar_type() == w.scalar_type(), "snu_layer: x and W differ in dtype");
  const auto [s0_, y0_] = checked_state(x, w.size(0), d, theta, s0, y0);
  const auto dtype = x.scalar_type();
  if (block_steps < 1) block_steps = std::max<int64_t>(1, kBackwardBlockRows / x.size(1));
  auto out =
      SNULayerFunction::apply(x, w, d.to(dtype), theta.to(dtype), s0_, y0_, config, block_steps);
  return {out[0], out[1]};
}

}  // namespace nc::nn::detail
