#include "snu_dynamics.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>

namespace nc::nn::detail {
namespace {

// Elements per parallel chunk (whole rows of the batch): the time loop runs inside each.
constexpr int64_t kGrain = 4096;

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
template <class T, Activation G, bool Soft, bool HasPrev>
void forward_step(const T* __restrict__ a, const T* __restrict__ d, const T* __restrict__ th,
                  const T* __restrict__ s_prev, const T* __restrict__ y_prev,
                  T* __restrict__ s, T* __restrict__ y, int64_t rows, int64_t n, T slope) {
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

// One step of the reverse recursion (see SNUDynamicsFunction::backward). ga may be gy_ext:
// each element of gy_ext is read before the same element of ga is written.
template <class T, Activation G>
void backward_step(const T* __restrict__ hp, const T* __restrict__ s, const T* __restrict__ s_prev,
                   const T* __restrict__ y_prev, const T* __restrict__ d,
                   const T* gy_ext, const T* __restrict__ gs_ext,
                   T* __restrict__ gy, T* __restrict__ gs, T* ga,
                   T* __restrict__ gd, T* __restrict__ gth, int64_t rows, int64_t n, T slope,
                   T keep_reset) {
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

// Whether the backward pass may overwrite the incoming gradient `g` (as `gc`, its contiguous
// form): no one but this call holds it. The same idea as AccumulateGrad's taking over of an
// unshared gradient in LibTorch itself. A contiguous copy made here is ours; otherwise the
// tensor must own its whole storage alone and be referenced only by the autograd engine's
// call: in LibTorch 1.13, CppNode::apply's input list and its copy for backward(), the
// `grads` list and `gc` (4). A tensor hook keeping it, or a caller holding it or another view
// of its memory, adds a reference, and then it is left alone (retain_grad() keeps a copy).
// Other LibTorch versions never reuse it.
bool reusable(const torch::Tensor& g, const torch::Tensor& gc) {
  if (!g.defined() || g.requires_grad() || torch::GradMode::is_enabled()) return false;
  if (!gc.is_same(g)) return true;  // contiguous() made a copy
#if TORCH_VERSION_MAJOR == 1 && TORCH_VERSION_MINOR == 13
  constexpr int64_t kEngineRefs = 4;
  // A view (a readout's matmul hands back its [T B, N] product reshaped) is alone with its
  // base when the base is held only by the view.
  const bool alone = g.is_view()
                         ? g._base().use_count() == 1 && g.storage().use_count() == 2
                         : g.storage().use_count() == 1;
  return alone && g.use_count() == kEngineRefs && g.storage_offset() == 0 &&
         g.storage().nbytes() == static_cast<size_t>(g.numel()) * g.itemsize();
#else
  return false;
#endif
}

struct SNUDynamicsFunction : torch::autograd::Function<SNUDynamicsFunction> {
  static torch::autograd::tensor_list forward(torch::autograd::AutogradContext* ctx,
                                              const torch::Tensor& wx_in,
                                              const torch::Tensor& d_in,
                                              const torch::Tensor& theta_in,
                                              const c10::optional<torch::Tensor>& s0_in,
                                              const c10::optional<torch::Tensor>& y0_in,
                                              const SNUDynamicsConfig& c) {
    const auto wx = wx_in.contiguous();
    const auto d = d_in.contiguous();
    const auto theta = theta_in.contiguous();
    // Without a state, s_0 = y_0 = 0 (no tensors to allocate and fill).
    const auto s0 = s0_in ? s0_in->contiguous() : torch::Tensor();
    const auto y0 = y0_in ? y0_in->contiguous() : torch::Tensor();
    const int64_t T = wx.size(0), B = wx.size(1), N = wx.size(2), BN = B * N;
    auto s = torch::empty_like(wx);
    auto y = torch::empty_like(wx);
    AT_DISPATCH_FLOATING_TYPES(wx.scalar_type(), "snu_dynamics_forward", [&] {
      const scalar_t* a = wx.data_ptr<scalar_t>();
      const scalar_t* dp = d.data_ptr<scalar_t>();
      const scalar_t* th = theta.data_ptr<scalar_t>();
      scalar_t* sp = s.data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      const scalar_t* s0p = s0.defined() ? s0.data_ptr<scalar_t>() : nullptr;
      const scalar_t* y0p = y0.defined() ? y0.data_ptr<scalar_t>() : nullptr;
      const auto slope = static_cast<scalar_t>(c.g_slope);
      dispatch_activation(c.g, [&](auto g) {
        constexpr Activation G = decltype(g)::value;
        auto step = c.soft ? forward_step<scalar_t, G, true, true>
                           : forward_step<scalar_t, G, false, true>;
        auto first = c.soft ? forward_step<scalar_t, G, true, false>
                            : forward_step<scalar_t, G, false, false>;
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
    });
    ctx->save_for_backward({d, theta, s0, y0, s, y});
    // An output without gradient (usually s) arrives undefined instead of as zeros.
    ctx->set_materialize_grads(false);
    ctx->saved_data["g"] = static_cast<int64_t>(c.g);
    ctx->saved_data["g_slope"] = c.g_slope;
    ctx->saved_data["soft"] = c.soft;
    ctx->saved_data["kind"] = static_cast<int64_t>(c.surrogate.kind);
    ctx->saved_data["param"] = c.surrogate.param;
    ctx->saved_data["detach_reset"] = c.detach_reset;
    return {y, s};
  }

  // Reverse time loop of the chain rule, per element, with carries gs = dL/ds_{t-1} and
  // gy = dL/dy_{t-1} flowing from step t to t-1:
  //   gz = gy_t h'(s_t - theta); gu = (gs_t + gz) g'(u_t)
  //   dL/dwx_t = gu; dL/dd += gu s_{t-1} (1 - y_{t-1}); dL/dtheta -= gz
  //   gs_{t-1} = gu d (1 - y_{t-1}); gy_{t-1} = -gu d s_{t-1} (0 with detach_reset)
  // g'(u) is read from s = g(u): for relu and leaky relu (slope >= 0), u > 0 iff s > 0.
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &d = saved[0], &theta = saved[1], &s0 = saved[2], &y0 = saved[3], &s = saved[4],
               &y = saved[5];
    const auto g = static_cast<Activation>(ctx->saved_data["g"].toInt());
    const double slope_d = ctx->saved_data["g_slope"].toDouble();
    const bool soft = ctx->saved_data["soft"].toBool();
    const Surrogate surrogate{static_cast<SurrogateKind>(ctx->saved_data["kind"].toInt()),
                              ctx->saved_data["param"].toDouble()};
    const bool detach_reset = ctx->saved_data["detach_reset"].toBool();

    const int64_t T = s.size(0), B = s.size(1), N = s.size(2), BN = B * N;
    const auto gy_ext = grads[0].defined() ? grads[0].contiguous() : torch::Tensor();
    const auto gs_ext = grads[1].defined() ? grads[1].contiguous() : torch::Tensor();
    // Few, same-sized allocations and one parallel region (each region costs a
    // synchronisation, slow on a loaded machine; each new large buffer can cost page faults):
    // scratch holds the two carries (which end as the gradients of s0 and y0) and a block of
    // zeros standing in for an absent state or incoming gradient; per-thread partial sums
    // give the per-unit gradients of d and theta.
    auto scratch = torch::empty({3, B, N}, s.options());
    auto partial = torch::zeros({at::get_num_threads(), 2, N}, s.options());
    // dL/dwx_t is written over dL/dy_t where nothing else can see it: BPTT then keeps s, y
    // and one gradient per step ([T, B, N] each), not two.
    auto gwx = reusable(grads[0], gy_ext) ? gy_ext : torch::empty_like(s);
    const auto s_ = s.detach(), y_ = y.detach(), theta_ = theta.detach();
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "snu_dynamics_backward", [&] {
      const scalar_t* dp = d.data_ptr<scalar_t>();
      const scalar_t* sp = s.data_ptr<scalar_t>();
      const scalar_t* yp = y.data_ptr<scalar_t>();
      const scalar_t* s0p = s0.defined() ? s0.data_ptr<scalar_t>() : nullptr;
      const scalar_t* y0p = y0.defined() ? y0.data_ptr<scalar_t>() : nullptr;
      const scalar_t* gye = gy_ext.defined() ? gy_ext.data_ptr<scalar_t>() : nullptr;
      const scalar_t* gse = gs_ext.defined() ? gs_ext.data_ptr<scalar_t>() : nullptr;
      scalar_t* ga = gwx.data_ptr<scalar_t>();
      scalar_t* gsc = scratch.data_ptr<scalar_t>();
      scalar_t* gyc = gsc + BN;
      scalar_t* zeros = gsc + 2 * BN;
      const auto slope = static_cast<scalar_t>(slope_d);
      const auto keep_reset = scalar_t(detach_reset ? 0 : 1);
      dispatch_activation(g, [&](auto g_const) {
        auto step = backward_step<scalar_t, decltype(g_const)::value>;
        at::parallel_for(0, B, row_grain(N), [&](int64_t b0, int64_t b1) {
          const int64_t off = b0 * N, rows_n = (b1 - b0) * N;
          std::fill(gsc + off, gsc + off + rows_n, scalar_t(0));
          std::fill(gyc + off, gyc + off + rows_n, scalar_t(0));
          std::fill(zeros + off, zeros + off + rows_n, scalar_t(0));
          scalar_t* gd = partial.data_ptr<scalar_t>() + at::get_thread_num() * 2 * N;
          scalar_t* gth = gd + N;
          for (int64_t t = T - 1; t >= 0; --t) {
            // h'(s_t - theta) of these rows, by LibTorch's vectorised kernels (run serially
            // inside the parallel region), one step at a time to keep the temporaries small.
            const auto hp = soft ? ((1 - y_[t].slice(0, b0, b1)) * y_[t].slice(0, b0, b1))
                                 : surrogate_derivative(s_[t].slice(0, b0, b1) - theta_,
                                                        surrogate);
            const scalar_t* s_prev = t ? sp + (t - 1) * BN + off : s0p ? s0p + off : zeros + off;
            const scalar_t* y_prev = t ? yp + (t - 1) * BN + off : y0p ? y0p + off : zeros + off;
            step(hp.contiguous().data_ptr<scalar_t>(), sp + t * BN + off, s_prev, y_prev, dp,
                 gye ? gye + t * BN + off : zeros + off, gse ? gse + t * BN + off : zeros + off,
                 gyc + off, gsc + off, ga + t * BN + off, gd, gth, b1 - b0, N, slope,
                 keep_reset);
          }
        });
      });
    });
    const auto sums = partial.sum(0);
    return {gwx, sums[0], sums[1], s0.defined() ? scratch[0] : torch::Tensor(),
            y0.defined() ? scratch[1] : torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> snu_dynamics(const torch::Tensor& wx,
                                                     const torch::Tensor& d,
                                                     const torch::Tensor& theta,
                                                     const torch::Tensor& s0,
                                                     const torch::Tensor& y0,
                                                     const SNUDynamicsConfig& config) {
  TORCH_CHECK(wx.dim() == 3 && d.dim() == 1 && theta.dim() == 1, "snu_dynamics: bad ranks");
  TORCH_CHECK(d.size(0) == wx.size(2) && theta.size(0) == wx.size(2), "snu_dynamics: bad N");
  TORCH_CHECK(s0.defined() == y0.defined(), "snu_dynamics: s0 and y0 both or neither");
  TORCH_CHECK(!s0.defined() ||
                  (s0.sizes() == wx.sizes().slice(1) && y0.sizes() == wx.sizes().slice(1)),
              "snu_dynamics: bad state shape");
  TORCH_CHECK(wx.device().is_cpu(), "snu_dynamics: CPU only");
  const auto dtype = wx.scalar_type();
  c10::optional<torch::Tensor> s0_, y0_;
  if (s0.defined()) {
    s0_ = s0.to(dtype);
    y0_ = y0.to(dtype);
  }
  auto out = SNUDynamicsFunction::apply(wx, d.to(dtype), theta.to(dtype), s0_, y0_, config);
  return {out[0], out[1]};
}

}  // namespace nc::nn::detail
