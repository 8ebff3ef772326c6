#include "neurocore/compress/row_weight_grad.h"

#include <algorithm>
#include <cstdint>
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

// The nine dot products of a 3x3 kernel's taps in one pass over n (a multiple of kLanes)
// elements: g times x_j shifted by i rows (x_j: the plane pre-shifted by j columns, rows Wp
// apart, Wp a multiple of kLanes, so that every load is aligned; shifting by one or two floats
// instead made most loads straddle two cache lines). g is loaded once for all nine taps, and the
// sums stay kLanes partial sums per tap in `acc` ([9][kLanes], added to), reduced once at the end.
constexpr int64_t kLanes = 16;
__attribute__((target_clones("avx512f", "avx2", "default")))
void dot3x3(const float* __restrict__ g, const float* __restrict__ x0, const float* __restrict__ x1,
            const float* __restrict__ x2, int64_t Wp, int64_t n, float* __restrict__ acc) {
  float a[9][kLanes];
  for (int t = 0; t < 9; ++t)
    for (int l = 0; l < kLanes; ++l) a[t][l] = acc[t * kLanes + l];
  for (int64_t k = 0; k < n; k += kLanes) {
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) {
      const float v = g[k + l];
      a[0][l] += v * x0[k + l], a[1][l] += v * x1[k + l], a[2][l] += v * x2[k + l];
      a[3][l] += v * x0[k + Wp + l], a[4][l] += v * x1[k + Wp + l], a[5][l] += v * x2[k + Wp + l];
      a[6][l] += v * x0[k + 2 * Wp + l], a[7][l] += v * x1[k + 2 * Wp + l], a[8][l] += v * x2[k + 2 * Wp + l];
    }
  }
  for (int t = 0; t < 9; ++t)
    for (int l = 0; l < kLanes; ++l) acc[t * kLanes + l] = a[t][l];
}

// A float buffer of n elements whose data() is 64-byte aligned.
struct Aligned {
  std::vector<float> storage;
  float* p;
  explicit Aligned(int64_t n) : storage(static_cast<std::size_t>(n + 16), 0.0f) {
    auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
    p = storage.data() + ((64 - addr % 64) % 64) / sizeof(float);
  }
};

// The float 3x3 case with the aligned layout above.
void direct3x3(const float* gy, const float* x, const int64_t* rows, float* dw, int64_t B, int64_t K,
               int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t R, int64_t ph,
               int64_t pw) {
  const int64_t Wp = (OW + 2 + kLanes - 1) / kLanes * kLanes, n = OH * Wp;
  std::vector<float> acc(static_cast<std::size_t>(R * C * 9 * kLanes), 0.0f);
  Aligned gp(R * n);
  std::vector<Aligned> xs;  // the padded plane shifted by j = 0, 1, 2 columns
  xs.reserve(3);            // (a moved Aligned keeps its buffer, so p stays valid anyway)
  for (int j = 0; j < 3; ++j) xs.emplace_back((OH + 2) * Wp);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t r = 0; r < R; ++r) {
      const float* g = gy + (b * K + rows[r]) * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) std::copy(g + oh * OW, g + (oh + 1) * OW, gp.p + r * n + oh * Wp);
    }
    for (int64_t c = 0; c < C; ++c) {
      const float* xc = x + (b * C + c) * H * W;
      // x_j[hp][w] = x[hp - ph][w + j - pw] inside the image, 0 in the padding (every plane
      // writes the same cells, so the zeros written at allocation stay).
      for (int j = 0; j < 3; ++j) {
        float* d = xs[static_cast<std::size_t>(j)].p;
        for (int64_t hp = 0; hp < OH + 2; ++hp) {
          const int64_t h = hp - ph;
          float* row = d + hp * Wp;
          if (h < 0 || h >= H) continue;
          const int64_t w0 = std::max<int64_t>(0, pw - j), w1 = std::min<int64_t>(Wp, W + pw - j);
          if (w1 > w0) std::copy(xc + h * W + w0 + j - pw, xc + h * W + w1 + j - pw, row + w0);
        }
      }
      for (int64_t r = 0; r < R; ++r) {
        dot3x3(gp.p + r * n, xs[0].p, xs[1].p, xs[2].p, Wp, n, acc.data() + (r * C + c) * 9 * kLanes);
      }
    }
  }
  for (int64_t e = 0; e < R * C * 9; ++e) {
    float sum = 0;
    for (int64_t l = 0; l < kLanes; ++l) sum += acc[static_cast<std::size_t>(e * kLanes + l)];
    dw[e] = sum;
  }
}

template <class T>
void taps(const T* g, const T* x, int64_t Wp, int64_t n, int64_t kh, int64_t kw, T* out) {
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
  if constexpr (std::is_same_v<T, float>) {
    if (kh == 3 && kw == 3) return direct3x3(gy, x, rows, dw, B, K, C, H, W, OH, OW, R, ph, pw);
  }
  const int64_t Wp = OW + kw - 1, Hp = OH + kh - 1, n = OH * Wp;
  std::vector<T> xp(static_cast<std::size_t>(Hp * Wp + kw), T(0));
  std::vector<T> gp(static_cast<std::size_t>(R * n), T(0));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t r = 0; r < R; ++r) {
      const T* g = gy + (b * K + rows[r]) * OH * OW;
      for (int64_t oh = 0; oh < OH; ++oh) std::copy(g + oh * OW, g + (oh + 1) * OW, gp.begin() + r * n + oh * Wp);
    }
    for (int64_t c = 0; c < C; ++c) {
      const T* xc = x + (b * C + c) * H * W;
      // Rows h of x land at padded row h + ph, columns [pw, pw + W) (the padding stays zero).
      const int64_t w0 = std::max<int64_t>(0, -pw), w1 = std::min<int64_t>(W, Wp - pw);
      for (int64_t h = std::max<int64_t>(0, -ph); h < std::min<int64_t>(H, Hp - ph); ++h) {
        std::copy(xc + h * W + w0, xc + h * W + w1, xp.begin() + (h + ph) * Wp + w0 + pw);
      }
      for (int64_t r = 0; r < R; ++r) taps(gp.data() + r * n, xp.data(), Wp, n, kh, kw, dw + (r * C + c) * kh * kw);
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

bool prefer_direct_weight_grad(int64_t selected, int64_t out_width, int64_t kh, int64_t kw,
                               const std::vector<int64_t>& stride,
                               const std::vector<int64_t>& dilation, int64_t groups) {
  // Only the 3x3 form is tuned (other kernels take the plain loop, not measured against LibTorch).
  if (kh != 3 || kw != 3 || groups != 1 || stride[0] != 1 || stride[1] != 1 || dilation[0] != 1 ||
      dilation[1] != 1) {
    return false;
  }
  // Measured (nc_bench_efqat layers, ResNet-20's 3x3 layers at batch 64, AVX-512): LibTorch
  // takes about the same time for any number of channels (1.5 ms at 28x28, 0.7 ms at 14x14,
  // 0.35 ms at 7x7); the direct form about 0.14 + 0.165 S ms at 28x28 and 0.2 + 0.08 S ms at
  // 14x14, and more than LibTorch at 7x7 from the first channel.
  if (out_width >= 28) return selected <= 7;
  return out_width >= 14 && selected <= 5;
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
