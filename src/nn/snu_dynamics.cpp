#include "snu_dynamics.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

namespace nc::nn::detail {
namespace {

// h'(z) of surrogate.cpp's surrogate_derivative, one element at a time.
template <class T>
T surrogate_scalar(T z, SurrogateKind kind, T p) {
  switch (kind) {
    case SurrogateKind::tanh: {
      const T t = std::tanh(z);
      return T(1) - t * t;
    }
    case SurrogateKind::fast_sigmoid: {
      const T d = T(1) + p * std::abs(z);
      return T(1) / (d * d);
    }
    case SurrogateKind::arctan: {
      const T a = T(M_PI / 2) * p * z;
      return (p / 2) / (T(1) + a * a);
    }
    case SurrogateKind::sigmoid: {
      const T sg = T(1) / (T(1) + std::exp(-p * z));
      return p * sg * (T(1) - sg);
    }
    case SurrogateKind::triangle:
      return std::max(T(0), T(1) - std::abs(z) / p) / p;
    case SurrogateKind::straight_through:
      return T(1);
  }
  return T(0);
}

// Elements per parallel chunk: the time loop runs inside each chunk.
constexpr int64_t kGrain = 4096;

struct SNUDynamicsFunction : torch::autograd::Function<SNUDynamicsFunction> {
  static torch::autograd::tensor_list forward(torch::autograd::AutogradContext* ctx,
                                              const torch::Tensor& wx_in,
                                              const torch::Tensor& d_in,
                                              const torch::Tensor& theta_in,
                                              const torch::Tensor& s0_in,
                                              const torch::Tensor& y0_in,
                                              const SNUDynamicsConfig& c) {
    const auto wx = wx_in.contiguous();
    const auto d = d_in.contiguous();
    const auto theta = theta_in.contiguous();
    const auto s0 = s0_in.contiguous();
    const auto y0 = y0_in.contiguous();
    const int64_t T = wx.size(0), N = wx.size(2), BN = wx.size(1) * N;
    auto s = torch::empty_like(wx);
    auto y = torch::empty_like(wx);
    AT_DISPATCH_FLOATING_TYPES(wx.scalar_type(), "snu_dynamics_forward", [&] {
      const scalar_t* a = wx.data_ptr<scalar_t>();
      const scalar_t* dp = d.data_ptr<scalar_t>();
      const scalar_t* th = theta.data_ptr<scalar_t>();
      scalar_t* sp = s.data_ptr<scalar_t>();
      scalar_t* yp = y.data_ptr<scalar_t>();
      const scalar_t slope = static_cast<scalar_t>(c.g_slope);
      at::parallel_for(0, BN, kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t t = 0; t < T; ++t) {
          const scalar_t* s_prev = t ? sp + (t - 1) * BN : s0.data_ptr<scalar_t>();
          const scalar_t* y_prev = t ? yp + (t - 1) * BN : y0.data_ptr<scalar_t>();
          const scalar_t* at = a + t * BN;
          scalar_t* st = sp + t * BN;
          scalar_t* yt = yp + t * BN;
          for (int64_t i = begin; i < end; ++i) {
            const int64_t j = i % N;
            // Same operations in the same order as SNUCellImpl::dynamics: equal numbers.
            scalar_t u = at[i] + (dp[j] * s_prev[i]) * (scalar_t(1) - y_prev[i]);
            if (c.g == Activation::relu) {
              u = u > 0 ? u : scalar_t(0);
            } else if (c.g == Activation::leaky_relu) {
              u = u > 0 ? u : u * slope;
            }
            st[i] = u;
            const scalar_t z = u - th[j];
            yt[i] = c.soft ? scalar_t(1) / (scalar_t(1) + std::exp(-z)) : scalar_t(z > 0);
          }
        }
      });
    });
    ctx->save_for_backward({d, theta, s0, y0, s, y});
    ctx->saved_data["g"] = static_cast<int64_t>(c.g);
    ctx->saved_data["g_slope"] = c.g_slope;
    ctx->saved_data["soft"] = c.soft;
    ctx->saved_data["kind"] = static_cast<int64_t>(c.surrogate.kind);
    ctx->saved_data["param"] = surrogate_param(c.surrogate);
    ctx->saved_data["detach_reset"] = c.detach_reset;
    return {y, s};
  }

  // Reverse time loop of the chain rule, per element (i = b * N + j), with carries
  // gs = dL/ds_{t-1} and gy = dL/dy_{t-1} flowing from step t to t-1:
  //   gz = (gy_t) h'(s_t - theta); gu = (gs_t + gz) g'(u_t)
  //   dL/dwx_t = gu; dL/dd += gu s_{t-1} (1 - y_{t-1}); dL/dtheta -= gz
  //   gs_{t-1} += gu d (1 - y_{t-1}); gy_{t-1} += -gu d s_{t-1} (unless detach_reset)
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &d = saved[0], &theta = saved[1], &s0 = saved[2], &y0 = saved[3], &s = saved[4],
               &y = saved[5];
    const auto g = static_cast<Activation>(ctx->saved_data["g"].toInt());
    const double slope_d = ctx->saved_data["g_slope"].toDouble();
    const bool soft = ctx->saved_data["soft"].toBool();
    const auto kind = static_cast<SurrogateKind>(ctx->saved_data["kind"].toInt());
    const double param = ctx->saved_data["param"].toDouble();
    const bool detach_reset = ctx->saved_data["detach_reset"].toBool();

    const int64_t T = s.size(0), N = s.size(2), BN = s.size(1) * N;
    const auto gy_ext = grads[0].defined() ? grads[0].contiguous() : torch::Tensor();
    const auto gs_ext = grads[1].defined() ? grads[1].contiguous() : torch::Tensor();
    auto gwx = torch::empty_like(s);
    auto gd = torch::zeros_like(s0);   // per element, summed over t; reduced over B below
    auto gth = torch::zeros_like(s0);
    auto gs_c = torch::zeros_like(s0);  // carries, end as the gradients of s0 and y0
    auto gy_c = torch::zeros_like(s0);
    AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "snu_dynamics_backward", [&] {
      const scalar_t* dp = d.data_ptr<scalar_t>();
      const scalar_t* th = theta.data_ptr<scalar_t>();
      const scalar_t* sp = s.data_ptr<scalar_t>();
      const scalar_t* yp = y.data_ptr<scalar_t>();
      const scalar_t* gye = gy_ext.defined() ? gy_ext.data_ptr<scalar_t>() : nullptr;
      const scalar_t* gse = gs_ext.defined() ? gs_ext.data_ptr<scalar_t>() : nullptr;
      scalar_t* ga = gwx.data_ptr<scalar_t>();
      scalar_t* gdp = gd.data_ptr<scalar_t>();
      scalar_t* gtp = gth.data_ptr<scalar_t>();
      scalar_t* gsc = gs_c.data_ptr<scalar_t>();
      scalar_t* gyc = gy_c.data_ptr<scalar_t>();
      const scalar_t slope = static_cast<scalar_t>(slope_d);
      const scalar_t p = static_cast<scalar_t>(param);
      at::parallel_for(0, BN, kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t t = T - 1; t >= 0; --t) {
          const scalar_t* s_prev = t ? sp + (t - 1) * BN : s0.data_ptr<scalar_t>();
          const scalar_t* y_prev = t ? yp + (t - 1) * BN : y0.data_ptr<scalar_t>();
          const scalar_t* st = sp + t * BN;
          const scalar_t* yt = yp + t * BN;
          for (int64_t i = begin; i < end; ++i) {
            const int64_t j = i % N;
            scalar_t gy = gyc[i];
            if (gye) gy += gye[t * BN + i];
            const scalar_t hp = soft ? (scalar_t(1) - yt[i]) * yt[i]
                                     : surrogate_scalar<scalar_t>(st[i] - th[j], kind, p);
            const scalar_t gz = gy * hp;
            scalar_t gs = gsc[i] + gz;
            if (gse) gs += gse[t * BN + i];
            scalar_t gu = gs;
            if (g != Activation::identity && !(st[i] > 0)) {
              gu = g == Activation::relu ? scalar_t(0) : gs * slope;
            }
            ga[t * BN + i] = gu;
            const scalar_t reset = scalar_t(1) - y_prev[i];
            gdp[i] += gu * s_prev[i] * reset;
            gtp[i] -= gz;
            gsc[i] = gu * dp[j] * reset;
            gyc[i] = detach_reset ? scalar_t(0) : -(gu * dp[j] * s_prev[i]);
          }
        }
      });
    });
    return {gwx, gd.sum(0), gth.sum(0), gs_c, gy_c, torch::Tensor()};
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
  TORCH_CHECK(s0.sizes() == wx.sizes().slice(1) && y0.sizes() == wx.sizes().slice(1),
              "snu_dynamics: bad state shape");
  TORCH_CHECK(wx.device().is_cpu(), "snu_dynamics: CPU only");
  const auto dtype = wx.scalar_type();
  auto out = SNUDynamicsFunction::apply(wx, d.to(dtype), theta.to(dtype), s0.to(dtype),
                                        y0.to(dtype), config);
  return {out[0], out[1]};
}

}  // namespace nc::nn::detail
