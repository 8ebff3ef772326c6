#include "neurocore/compress/fake_quant.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "neurocore/core/error.h"

namespace nc::compress {

int64_t QuantSpec::qmin() const {
  if (!is_signed) return 0;
  return restricted ? -((int64_t{1} << (bits - 1)) - 1) : -(int64_t{1} << (bits - 1));
}

int64_t QuantSpec::qmax() const {
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

void check_bits(int bits, const std::string& what) {
  if (bits < 2 || bits > 8) {
    throw UserError(what + ": bit-width must be between 2 and 8, got " + std::to_string(bits));
  }
}

namespace {

// Shapes [C] to broadcast along dim 0 of x ([C, 1, 1, ...]); [1] stays a scalar-like tensor.
torch::Tensor along_dim0(const torch::Tensor& p, const torch::Tensor& x) {
  if (p.numel() == 1) return p.reshape({});
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = p.numel();
  return p.reshape(shape);
}

// Round half to even (as torch::round) for |v| < 2^22 (float) / 2^51 (double): adding and
// subtracting 1.5·2^mantissa leaves the rounded value. Unlike std::nearbyint, it vectorises;
// the clamped codes never exceed ±256.
template <typename T>
inline T round_even(T v) {
  constexpr T magic = std::is_same_v<T, float> ? T(12582912.0f) : T(6755399441055744.0);
  return (v + magic) - magic;
}

// v = x/s + z and v clamped to [lo, hi]: the grid position every pass computes, forward and
// backward, in the forward's exact order of operations (so the backward's "inside" test sees
// the same v as the forward's rounding).
template <typename T>
struct GridPoint {
  T v, c;
};
template <typename T>
inline GridPoint<T> grid_point(T x, T sc, T zc, T lo, T hi) {
  const T v = x / sc + zc;
  T c = v < lo ? lo : v;
  c = c > hi ? hi : c;
  return {v, c};
}

// The element range of block b: blocks never straddle channels, so each block's partial sum
// of the scale gradient belongs to one channel, and the sum over blocks (in block order) does
// not depend on the number of threads.
struct Blocks {
  int64_t inner, per_channel, total;
  static constexpr int64_t kSize = 16384;
  Blocks(int64_t channels, int64_t numel) {
    inner = channels > 0 ? numel / channels : 0;
    per_channel = std::max<int64_t>(1, (inner + kSize - 1) / kSize);
    total = channels * per_channel;
  }
  int64_t channel(int64_t b) const { return b / per_channel; }
  int64_t begin(int64_t b) const {
    return channel(b) * inner + (b % per_channel) * kSize;
  }
  int64_t end(int64_t b) const {
    return channel(b) * inner + std::min(inner, (b % per_channel + 1) * kSize);
  }
};

// The backward loops, written so that the compiler vectorises them: no data-dependent
// branches (the STE mask would mispredict half the time: clamp and select as plain ternaries
// on loaded values) and, for the scale's sum, kLanes independent partial sums (one float
// accumulator cannot be reordered; with -fno-trapping-math, set for this file, the selects in
// the unrolled lanes vectorise too). The order of the additions is fixed, whatever the
// thread count.
template <typename T>
void ste_grad(const T* x, const T* g, T* dx, int64_t n, T sc, T zc, T lo, T hi) {
  for (int64_t i = 0; i < n; ++i) {
    const auto p = grid_point(x[i], sc, zc, lo, hi);
    dx[i] = p.c == p.v ? g[i] : T(0);  // lo <= v <= hi
  }
}

template <typename T>
T scale_grad_sum(const T* x, const T* g, int64_t n, T sc, T zc, T lo, T hi) {
  constexpr int kLanes = 8;
  T lane[kLanes] = {};
  auto term = [&](int64_t i) {
    const auto p = grid_point(x[i], sc, zc, lo, hi);
    const T inside = round_even(p.c) - p.v, outside = p.c - zc;
    return g[i] * (p.c == p.v ? inside : outside);
  };
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int k = 0; k < kLanes; ++k) lane[k] += term(i + k);
  }
  for (; i < n; ++i) lane[0] += term(i);
  T acc = 0;
  for (int k = 0; k < kLanes; ++k) acc += lane[k];
  return acc;
}

// Float instances compiled once per instruction set (the executable targets baseline x86-64;
// these loops are memory- and divide-bound, and wider vectors halve their time). Every clone
// performs the same IEEE operations in the same order, so results do not depend on the CPU.
__attribute__((target_clones("avx512f", "avx2", "default")))
void ste_grad_f(const float* x, const float* g, float* dx, int64_t n, float sc, float zc, float lo,
                float hi) {
  ste_grad(x, g, dx, n, sc, zc, lo, hi);
}
__attribute__((target_clones("avx512f", "avx2", "default")))
float scale_grad_sum_f(const float* x, const float* g, int64_t n, float sc, float zc, float lo,
                       float hi) {
  return scale_grad_sum(x, g, n, sc, zc, lo, hi);
}
template <typename T>
void fake_quant_loop(const T* x, T* out, int64_t n, T sc, T zc, T lo, T hi) {
  for (int64_t i = 0; i < n; ++i) out[i] = (round_even(grid_point(x[i], sc, zc, lo, hi).c) - zc) * sc;
}
__attribute__((target_clones("avx512f", "avx2", "default")))
void fake_quant_f(const float* x, float* out, int64_t n, float sc, float zc, float lo, float hi) {
  fake_quant_loop(x, out, n, sc, zc, lo, hi);
}

template <typename T>
void ste_grad_any(const T* x, const T* g, T* dx, int64_t n, T sc, T zc, T lo, T hi) {
  if constexpr (std::is_same_v<T, float>) return ste_grad_f(x, g, dx, n, sc, zc, lo, hi);
  else return ste_grad(x, g, dx, n, sc, zc, lo, hi);
}
template <typename T>
T scale_grad_sum_any(const T* x, const T* g, int64_t n, T sc, T zc, T lo, T hi) {
  if constexpr (std::is_same_v<T, float>) return scale_grad_sum_f(x, g, n, sc, zc, lo, hi);
  else return scale_grad_sum(x, g, n, sc, zc, lo, hi);
}
template <typename T>
void fake_quant_any(const T* x, T* out, int64_t n, T sc, T zc, T lo, T hi) {
  if constexpr (std::is_same_v<T, float>) return fake_quant_f(x, out, n, sc, zc, lo, hi);
  else return fake_quant_loop(x, out, n, sc, zc, lo, hi);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One pass forward, one pass backward (the composed autograd version took about twelve
// element-wise kernels and kept their intermediates). The forward value is the same sequence
// of IEEE operations as (round(clamp(x/s + z, Qn, Qp)) − z)·s, so it is bit-identical to it.
class FakeQuantize : public torch::autograd::Function<FakeQuantize> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& scale, const torch::Tensor& zero_point,
                               int64_t qmin, int64_t qmax, double grad_factor) {
    const auto x = x_in.contiguous();
    const auto s = scale.detach().to(x.scalar_type()).contiguous();
    const auto z = zero_point.detach().to(x.scalar_type()).contiguous();
    TORCH_CHECK(s.numel() == 1 || (x.dim() > 0 && s.numel() == x.size(0)),
                "fake_quantize: ", s.numel(), " scales for a tensor of shape ", x.sizes());
    TORCH_CHECK(z.numel() == s.numel(), "fake_quantize: scale and zero point sizes differ");
    auto out = torch::empty_like(x);
    const Blocks blocks(s.numel(), x.numel());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fake_quantize", [&] {
      const scalar_t lo = qmin, hi = qmax;
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t *sp = s.data_ptr<scalar_t>(), *zp = z.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      at::parallel_for(0, blocks.total, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const scalar_t sc = sp[blocks.channel(b)], zc = zp[blocks.channel(b)];
          const int64_t i0 = blocks.begin(b);
          fake_quant_any(xp + i0, op + i0, blocks.end(b) - i0, sc, zc, lo, hi);
        }
      });
    });
    ctx->save_for_backward({x, s, z});
    ctx->saved_data["qmin"] = qmin;
    ctx->saved_data["qmax"] = qmax;
    ctx->saved_data["grad_factor"] = grad_factor;
    ctx->saved_data["scale_dtype"] = static_cast<int64_t>(scale.scalar_type());
    return out.view(x_in.sizes());
  }

  // ∂x̂/∂x = 1 inside [Qn, Qp], 0 outside; ∂x̂/∂s = round(v) − v inside, Qn − z / Qp − z
  // outside (v = x/s + z), summed per scale and times grad_factor (efqat.md §3).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &s = saved[1], &z = saved[2];
    const auto g = grads[0].contiguous();
    const bool need_x = ctx->needs_input_grad(0), need_s = ctx->needs_input_grad(1);
    const auto qmin = ctx->saved_data["qmin"].toInt(), qmax = ctx->saved_data["qmax"].toInt();
    const Blocks blocks(s.numel(), x.numel());
    torch::Tensor dx = need_x ? torch::empty_like(x) : torch::Tensor();
    std::vector<double> partial(need_s ? blocks.total : 0, 0.0);
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fake_quantize_backward", [&] {
      const scalar_t lo = qmin, hi = qmax;
      const scalar_t *xp = x.data_ptr<scalar_t>(), *gp = g.data_ptr<scalar_t>();
      const scalar_t *sp = s.data_ptr<scalar_t>(), *zp = z.data_ptr<scalar_t>();
      scalar_t* dxp = need_x ? dx.data_ptr<scalar_t>() : nullptr;
      at::parallel_for(0, blocks.total, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          const scalar_t sc = sp[blocks.channel(b)], zc = zp[blocks.channel(b)];
          const int64_t i0 = blocks.begin(b), i1 = blocks.end(b);
          if (need_x) ste_grad_any(xp + i0, gp + i0, dxp + i0, i1 - i0, sc, zc, lo, hi);
          if (need_s) partial[b] = scale_grad_sum_any(xp + i0, gp + i0, i1 - i0, sc, zc, lo, hi);
        }
      });
    });
    torch::Tensor ds;
    if (need_s) {
      ds = torch::zeros({s.numel()}, torch::kDouble);
      auto acc = ds.accessor<double, 1>();
      for (int64_t b = 0; b < blocks.total; ++b) acc[blocks.channel(b)] += partial[b];
      ds = (ds * ctx->saved_data["grad_factor"].toDouble())
               .to(static_cast<torch::ScalarType>(ctx->saved_data["scale_dtype"].toInt()))
               .view(s.sizes());
    }
    return {dx, ds, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fake_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                            const torch::Tensor& zero_point, int64_t qmin, int64_t qmax,
                            double grad_factor) {
  return FakeQuantize::apply(x, scale, zero_point, qmin, qmax, grad_factor);
}

torch::Tensor quantize_codes(const torch::Tensor& x, const torch::Tensor& scale,
                             const torch::Tensor& zero_point, int64_t qmin, int64_t qmax) {
  torch::NoGradGuard no_grad;
  const auto s = along_dim0(scale.to(x.scalar_type()), x);
  const auto z = along_dim0(zero_point.to(x.scalar_type()), x);
  return torch::clamp(torch::round(x / s + z), static_cast<double>(qmin),
                      static_cast<double>(qmax));
}

FakeQuantizerImpl::FakeQuantizerImpl(QuantSpec spec, int64_t channels) : spec_(spec) {
  check_bits(spec.bits, "quantizer");
  const auto ones = torch::ones({channels});
  if (spec.learnable) {
    scale = register_parameter("scale", ones);
  } else {
    scale = register_buffer("scale", ones);
  }
  zero_point = register_buffer("zero_point", torch::zeros({channels}));
}

void FakeQuantizerImpl::set_range(const torch::Tensor& s, const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(s.numel() == scale.numel() && z.numel() == zero_point.numel(),
              "quantizer: range of the wrong size");
  scale.copy_(s.reshape(scale.sizes()).clamp_min(1e-12));
  zero_point.copy_(z.reshape(zero_point.sizes()));
  calibrated = true;
}

double FakeQuantizerImpl::grad_factor(const torch::Tensor& x) const {
  if (!spec_.learnable) return 1.0;
  const double per_scale = static_cast<double>(x.numel()) * numel_scale / static_cast<double>(scale.numel());
  return 1.0 / std::sqrt(per_scale * static_cast<double>(spec_.qmax()));
}

torch::Tensor FakeQuantizerImpl::forward(const torch::Tensor& x) {
  if (!enabled || !calibrated) return x;
  return fake_quantize(x, scale, zero_point, spec_.qmin(), spec_.qmax(), grad_factor(x));
}

}  // namespace nc::compress
