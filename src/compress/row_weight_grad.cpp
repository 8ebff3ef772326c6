#include "neurocore/compress/row_weight_grad.h"

#include <algorithm>
#include <type_traits>

namespace nc::compress {

namespace {

// Sum of a[i] * b[i]: one clone of the loop per instruction set (the executable is built for the
// baseline x86-64, and this loop is where the direct forms spend their time).
__attribute__((target_clones("avx512f", "avx2", "default")))
float dot(const float* a, const float* b, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

double dot(const double* a, const double* b, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// The nine dot products of a 3x3 kernel's taps, g with x shifted by i * Wp + j, in one pass:
// g is loaded once for all nine, and nine independent sums keep the multiply-adds busy.
__attribute__((target_clones("avx512f", "avx2", "default")))
void dot3x3(const float* g, const float* x, int64_t Wp, int64_t n, float* out) {
  const float *x0 = x, *x1 = x + Wp, *x2 = x + 2 * Wp;
  float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0, a8 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, a4, a5, a6, a7, a8)
  for (int64_t k = 0; k < n; ++k) {
    const float v = g[k];
    a0 += v * x0[k], a1 += v * x0[k + 1], a2 += v * x0[k + 2];
    a3 += v * x1[k], a4 += v * x1[k + 1], a5 += v * x1[k + 2];
    a6 += v * x2[k], a7 += v * x2[k + 1], a8 += v * x2[k + 2];
  }
  out[0] += a0, out[1] += a1, out[2] += a2, out[3] += a3, out[4] += a4;
  out[5] += a5, out[6] += a6, out[7] += a7, out[8] += a8;
}

template <class T>
void taps(const T* g, const T* x, int64_t Wp, int64_t n, int64_t kh, int64_t kw, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    if (kh == 3 && kw == 3) return dot3x3(g, x, Wp, n, out);
  }
  for (int64_t i = 0; i < kh; ++i) {
    for (int64_t j = 0; j < kw; ++j) out[i * kw + j] += dot(g, x + i * Wp + j, n);
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
float sum(const float* a, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i];
  return acc;
}

double sum(const double* a, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += a[i];
  return acc;
}

// Planes are stored with the padded input's width Wp: x zero-padded to [Hp, Wp] (plus kw - 1
// zeros after it), gy to [OH, Wp] with zeros right of OW. Then output (oh, ow) at tap (i, j)
// reads padded x at (oh + i) Wp + ow + j: for fixed (i, j) one contiguous run, so each tap is
// one dot product of OH * Wp elements (the zero columns of gy cancel the wrapped-around reads).
template <class T>
void direct(const T* gy, const T* x, const int64_t* rows, T* dw, int64_t B, int64_t K, int64_t C,
            int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t R, int64_t kh, int64_t kw,
            int64_t ph, int64_t pw) {
  const int64_t Wp = OW + kw - 1, Hp = OH + kh - 1;
  std::vector<T> xp(static_cast<std::size_t>(Hp * Wp + kw - 1), T(0));
  std::vector<T> gp(static_cast<std::size_t>(R * OH * Wp), T(0));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t r = 0; r < R; ++r) {
      const T* g = gy + (b * K + rows[r]) * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) {
        std::copy(g + oh * OW, g + (oh + 1) * OW, gp.begin() + (r * OH + oh) * Wp);
      }
    }
    for (int64_t c = 0; c < C; ++c) {
      const T* xc = x + (b * C + c) * H * W;
      // Rows h of x land at padded row h + ph, columns [pw, pw + W) (the padding stays zero).
      const int64_t w0 = std::max<int64_t>(0, -pw), w1 = std::min<int64_t>(W, Wp - pw);
      for (int64_t h = std::max<int64_t>(0, -ph); h < std::min<int64_t>(H, Hp - ph); ++h) {
        std::copy(xc + h * W + w0, xc + h * W + w1, xp.begin() + (h + ph) * Wp + w0 + pw);
      }
      for (int64_t r = 0; r < R; ++r) {
        taps(gp.data() + r * OH * Wp, xp.data(), Wp, OH * Wp, kh, kw, dw + (r * C + c) * kh * kw);
      }
    }
  }
}

}  // namespace

torch::Tensor selected_rows_weight_grad(const torch::Tensor& gy, const torch::Tensor& x,
                                        const torch::Tensor& rows, int64_t kh, int64_t kw,
                                        const std::vector<int64_t>& padding) {
  TORCH_CHECK(gy.is_contiguous() && x.is_contiguous() && gy.dim() == 4 && x.dim() == 4 &&
                  gy.size(2) == x.size(2) + 2 * padding[0] - kh + 1 &&
                  gy.size(3) == x.size(3) + 2 * padding[1] - kw + 1,
              "selected_rows_weight_grad: contiguous [B, K, OH, OW] and [B, C, H, W] of a "
              "stride-1 convolution expected");
  const auto r = rows.to(torch::kLong).contiguous();
  const int64_t R = r.numel(), C = x.size(1);
  auto dw = torch::zeros({R, C, kh, kw}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "selected_rows_weight_grad", [&] {
    direct<scalar_t>(gy.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), r.data_ptr<int64_t>(),
                     dw.data_ptr<scalar_t>(), x.size(0), gy.size(1), C, x.size(2), x.size(3),
                     gy.size(2), gy.size(3), R, kh, kw, padding[0], padding[1]);
  });
  return dw;
}

bool prefer_direct_weight_grad(int64_t selected, int64_t out_channels, int64_t out_width,
                               const std::vector<int64_t>& stride,
                               const std::vector<int64_t>& dilation, int64_t groups) {
  if (groups != 1 || stride[0] != 1 || stride[1] != 1 || dilation[0] != 1 || dilation[1] != 1) {
    return false;
  }
  // Measured (nc_bench_efqat layers, ResNet-20's 3x3 layers at batch 64): the direct form
  // costs about 0.3 ms per selected channel of a 28x28 or 14x14 map, LibTorch 0.6-1.4 ms for
  // any number of them; at 7x7 LibTorch is faster from the first channel.
  (void)out_channels;
  return out_width >= 14 && selected <= 4;
}

torch::Tensor bias_grad(const torch::Tensor& gy) {
  const auto g = gy.contiguous();
  const int64_t B = g.size(0), K = g.size(1), plane = g[0][0].numel();
  auto db = torch::zeros({K}, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "bias_grad", [&] {
    const scalar_t* p = g.data_ptr<scalar_t>();
    scalar_t* d = db.data_ptr<scalar_t>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t k = 0; k < K; ++k) d[k] += sum(p + (b * K + k) * plane, plane);
    }
  });
  return db;
}

}  // namespace nc::compress
