// ESSOP estimator: power-of-two scaling, stream drawing, the bit-parallel kernel and the
// scalar reference (include/neurocore/learn/essop.h, docs/essop.md).
#include "neurocore/learn/essop.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "essop_kernel.h"
#include "neurocore/core/error.h"

namespace nc::learn {

void validate_essop(const EssopOptions& o, const std::string& field) {
  if (o.bitstream() < 1 || o.bitstream() > kEssopMaxBitstream) {
    throw UserError(fmt::format("{}: bit-stream length {} is not supported; expected an integer "
                                "in [1, {}] (for example 4, 8, 16, 32)",
                                field, o.bitstream(), kEssopMaxBitstream));
  }
}

int essop_exponent(double max_abs) {
  if (!std::isfinite(max_abs) || max_abs <= 0) {
    throw InternalError(fmt::format("essop_exponent: need a finite max > 0, got {}", max_abs));
  }
  // A normal double is 1.fraction 2^E: the scale is 2^E when the fraction is zero (a power of
  // two), else 2^(E+1). The same as frexp (max_abs = m 2^f, m in [0.5, 1): f - 1 when m = 0.5,
  // else f), without a library call per outer product.
  uint64_t bits = 0;
  std::memcpy(&bits, &max_abs, sizeof bits);
  const auto biased = static_cast<int>((bits >> 52) & 0x7ff);
  if (biased != 0) return biased - 1023 + ((bits & ((uint64_t{1} << 52) - 1)) != 0 ? 1 : 0);
  int f = 0;  // subnormal
  const double m = std::frexp(max_abs, &f);
  return m == 0.5 ? f - 1 : f;
}

void EssopStats::add(const EssopStats& o) {
  calls += o.calls;
  outer_products += o.outer_products;
  products += o.products;
  elements += o.elements;
  random_numbers += o.random_numbers;
  bit_products += o.bit_products;
  stream_bits += o.stream_bits;
}

namespace {

// xoshiro256+ (Blackman and Vigna), four independent states side by side (the loop over the
// four lanes vectorises and overlaps their dependency chains), seeded through splitmix64.
// torch::rand's Mersenne Twister made drawing 2 BL numbers per outer product the largest cost
// of a convolution's ESSOP update (P = batch x positions products per layer).
class Xoshiro4 {
 public:
  explicit Xoshiro4(uint64_t seed) {
    for (auto& word : s_) {
      for (auto& w : word) {  // splitmix64: well mixed, never an all-zero state
        seed += 0x9e3779b97f4a7c15ULL;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        w = z ^ (z >> 31);
      }
    }
  }
  // n uniforms in [0, 1) on the grid k 2^-24, as torch::rand draws float32 (the top 24 bits:
  // xoshiro256+'s low bits are its weak ones). Number i comes from lane i % 4; a last partial
  // group of four is drawn whole and the rest discarded.
  void fill(float* out, int64_t n) {
    float block[kLanes4];
    for (int64_t i = 0; i < n; i += kLanes4) {
      step(block);
      for (int64_t l = 0; l < kLanes4 && i + l < n; ++l) out[i + l] = block[l];
    }
  }

 private:
  static constexpr int kLanes4 = 4;
  void step(float* out) {
    for (int l = 0; l < kLanes4; ++l) {
      const uint64_t r = s_[0][l] + s_[3][l];
      const uint64_t t = s_[1][l] << 17;
      s_[2][l] ^= s_[0][l];
      s_[3][l] ^= s_[1][l];
      s_[1][l] ^= s_[2][l];
      s_[0][l] ^= s_[3][l];
      s_[2][l] ^= t;
      s_[3][l] = (s_[3][l] << 45) | (s_[3][l] >> 19);
      out[l] = static_cast<float>(static_cast<int32_t>(r >> 40)) * 0x1.0p-24f;
    }
  }
  uint64_t s_[4][kLanes4];
};

}  // namespace

void essop_draw_streams_into(int64_t products, const EssopOptions& o, at::Generator& gen,
                             float* r, float* q) {
  validate_essop(o);
  const int64_t n = (o.streams() == EssopStreams::fresh ? products : 1) * o.bitstream();
  // One 64-bit draw from `gen` seeds this call's streams: reproducible from the run's seed and
  // the same on every data-parallel rank.
  uint64_t seed = 0;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    seed = at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
  }
  Xoshiro4 rng(seed);
  // Two successive blocks of one stream are independent streams; never one stream for both
  // sides (then E[a AND b] = min(x^, d^), spec §3). r is drawn before q.
  rng.fill(r, n);
  rng.fill(q, n);
}

EssopStreamPair essop_draw_streams(int64_t products, const EssopOptions& o, at::Generator& gen) {
  validate_essop(o);
  const int64_t s = o.streams() == EssopStreams::fresh ? products : 1;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto r = torch::empty({s, o.bitstream()}, opts), q = torch::empty({s, o.bitstream()}, opts);
  essop_draw_streams_into(products, o, gen, r.data_ptr<float>(), q.data_ptr<float>());
  return {r, q};
}

namespace {

struct Checked {
  torch::Tensor x, d, r, q;  // float32, contiguous
  int64_t P, N, M, BL;
};

Checked check(const torch::Tensor& x, const torch::Tensor& delta, const EssopStreamPair& s) {
  if (x.dim() != 2 || delta.dim() != 2 || x.size(0) != delta.size(0)) {
    throw InternalError(fmt::format("essop: need x [P, N] and delta [P, M], got {} and {}",
                                    fmt::join(x.sizes(), "x"), fmt::join(delta.sizes(), "x")));
  }
  if (!s.r.defined() || s.r.dim() != 2 || !s.q.defined() || s.q.sizes() != s.r.sizes() ||
      (s.r.size(0) != x.size(0) && s.r.size(0) != 1)) {
    throw InternalError("essop: streams must be [P, BL] or [1, BL], r and q of one shape");
  }
  EssopOptions o;
  o.bitstream(s.r.size(1));
  validate_essop(o);
  auto f = [](const torch::Tensor& t) { return t.detach().to(torch::kFloat32).contiguous(); };
  return {f(x), f(delta), f(s.r), f(s.q), x.size(0), x.size(1), delta.size(1), s.r.size(1)};
}

// Per-product exponents of the rows of v [P, K] (per_tensor: one for all rows); a row whose
// scale is irrelevant because it is all zero gets `zero` = true.
void exponents(const torch::Tensor& v, EssopScaling scaling, std::vector<int>& e,
               std::vector<char>& zero) {
  const int64_t P = v.size(0);
  e.assign(static_cast<std::size_t>(P), 0);
  zero.assign(static_cast<std::size_t>(P), 1);
  if (P == 0 || v.size(1) == 0) return;
  // max |v| per row, one pass (a LibTorch reduction over short rows costs more than the
  // kernel); `bad` catches NaN and infinity.
  const int64_t K = v.size(1);
  const float* pv = v.data_ptr<float>();
  thread_local std::vector<double> rmax;  // reused: no fresh pages per call
  rmax.resize(static_cast<std::size_t>(P));
  bool bad = false;
  for (int64_t p = 0; p < P; ++p) {
    float mx = 0;
    for (int64_t k = 0; k < K; ++k) {
      const float a = std::fabs(pv[p * K + k]);
      bad |= !(a <= std::numeric_limits<float>::max());
      mx = a > mx ? a : mx;
    }
    rmax[p] = mx;
  }
  if (bad) throw UserError("essop: a non-finite value in the weight-update inputs");
  const double* m = rmax.data();
  const double all = *std::max_element(m, m + P);
  const int shared = all > 0 ? essop_exponent(all) : 0;
  for (int64_t p = 0; p < P; ++p) {
    zero[p] = m[p] == 0;
    if (!zero[p]) e[p] = scaling == EssopScaling::per_tensor ? shared : essop_exponent(m[p]);
  }
}

// 2^-e_p as float, one per product.
void factors(const std::vector<int>& e, std::vector<float>& f) {
  f.resize(e.size());
  for (std::size_t p = 0; p < e.size(); ++p) f[p] = std::ldexp(1.0f, -e[p]);
}

// v [P, K] scaled row by row to [-1, 1]: v * 2^-e_p (exact: a power-of-two factor).
torch::Tensor normalise(const torch::Tensor& v, const std::vector<float>& f) {
  auto s = torch::from_blob(const_cast<float*>(f.data()), {static_cast<int64_t>(f.size()), 1},
                            torch::kFloat32);
  return (v * s).contiguous();
}

// The scalar reference on normalised signed values, literally: bool streams, AND, count.
torch::Tensor reference_counts(const Checked& c, const torch::Tensor& xn, const torch::Tensor& dn,
                               const std::vector<int>& e, const std::vector<char>& skip) {
  const int64_t P = c.P, N = c.N, M = c.M, BL = c.BL;
  auto acc = torch::zeros({M, N}, torch::kFloat64);
  auto a = acc.accessor<double, 2>();
  auto X = xn.accessor<float, 2>();
  auto D = dn.accessor<float, 2>();
  auto R = c.r.accessor<float, 2>();
  auto Q = c.q.accessor<float, 2>();
  const bool shared = c.r.size(0) == 1;
  std::vector<char> xa(static_cast<std::size_t>(N * BL)), db(static_cast<std::size_t>(M * BL));
  for (int64_t p = 0; p < P; ++p) {
    if (skip[p]) continue;
    const int64_t s = shared ? 0 : p;
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < BL; ++k) xa[j * BL + k] = std::fabs(X[p][j]) > R[s][k];
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < BL; ++k) db[i * BL + k] = std::fabs(D[p][i]) > Q[s][k];
    const double scale = std::ldexp(1.0, e[p]);
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        int64_t count = 0;
        for (int64_t k = 0; k < BL; ++k) count += xa[j * BL + k] & db[i * BL + k];
        const bool negative = (X[p][j] < 0) != (D[p][i] < 0);
        a[i][j] += static_cast<double>(negative ? -count : count) * scale;
      }
    }
  }
  return acc;
}

struct Prepared {
  Checked c;
  std::vector<int> ex, ed;      // per-product exponents of x and delta (0 for an all-zero row)
  std::vector<float> fx, fd;    // 2^-e as float: v * f is the normalised value, exactly
  std::vector<int> e;           // combined exponent e_x + e_d of each product
  std::vector<char> skip;       // an all-zero vector: the product is exactly 0
};

// Fills p; the kernel's callers pass one per thread, reused from call to call (its vectors
// hold a few bytes per outer product: fresh ones cost page faults for convolutions).
void prepare(const torch::Tensor& x, const torch::Tensor& delta, const EssopStreamPair& s,
             EssopScaling scaling, bool scale, Prepared& p) {
  p.c = check(x, delta, s);
  thread_local std::vector<char> zx, zd;
  exponents(p.c.x, scaling, p.ex, zx);
  exponents(p.c.d, scaling, p.ed, zd);
  const auto P = static_cast<std::size_t>(p.c.P);
  p.e.assign(P, 0);
  p.skip.assign(P, 0);
  for (std::size_t i = 0; i < P; ++i) {
    p.skip[i] = zx[i] || zd[i];
    if (!scale || zx[i]) p.ex[i] = 0;
    if (!scale || zd[i]) p.ed[i] = 0;
    if (!p.skip[i]) p.e[i] = p.ex[i] + p.ed[i];
  }
  if (!scale && p.c.P &&
      (p.c.x.abs().max().item<float>() > 1 || p.c.d.abs().max().item<float>() > 1)) {
    throw InternalError("essop_signed_counts: values must lie in [-1, 1]");
  }
  factors(p.ex, p.fx);
  factors(p.ed, p.fd);
}

// The kernel (src/learn/essop_kernel.cpp): double sums [M][Np] in this thread's workspace.
const double* kernel(const Prepared& p, EssopKernel k, int64_t& Np) {
  const essop_detail::Side xs{p.c.x.data_ptr<float>(), p.c.N, p.fx.data(),
                              p.c.r.data_ptr<float>(), p.c.r.size(0) == 1};
  const essop_detail::Side ds{p.c.d.data_ptr<float>(), p.c.M, p.fd.data(),
                              p.c.q.data_ptr<float>(), p.c.q.size(0) == 1};
  return essop_detail::kernel_counts(xs, ds, p.c.P, p.c.BL, p.e, p.skip, k, Np);
}

// out [M, N] of type T from the kernel's sums: f(sum) element by element.
template <typename T, typename F>
torch::Tensor from_sums(const double* acc, int64_t M, int64_t N, int64_t Np, torch::Dtype dt,
                        F f) {
  auto out = torch::empty({M, N}, dt);
  T* o = out.data_ptr<T>();
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) o[i * N + j] = f(acc[i * Np + j]);
  return out;
}

// The reference on the normalised tensors.
torch::Tensor reference(const Prepared& p) {
  return reference_counts(p.c, normalise(p.c.x, p.fx), normalise(p.c.d, p.fd), p.e, p.skip);
}

void count(EssopStats* stats, const Checked& c) {
  if (!stats) return;
  EssopStats s;
  s.calls = 1;
  s.outer_products = c.P;
  s.products = c.P * c.M * c.N;
  s.elements = c.P * (c.M + c.N);
  s.random_numbers = c.r.numel() + c.q.numel();
  s.bit_products = s.products * c.BL;
  s.stream_bits = s.elements * c.BL;
  stats->add(s);
}

}  // namespace

torch::Tensor essop_outer_sum(const torch::Tensor& x, const torch::Tensor& delta,
                              const EssopOptions& o, at::Generator& gen, EssopStats* stats) {
  return essop_outer_sum(x, delta, essop_draw_streams(x.size(0), o, gen), o.scaling(), stats);
}

torch::Tensor essop_outer_sum(const torch::Tensor& x, const torch::Tensor& delta,
                              const EssopStreamPair& streams, EssopScaling scaling,
                              EssopStats* stats, EssopKernel k) {
  torch::NoGradGuard no_grad;
  thread_local Prepared p;
  prepare(x, delta, streams, scaling, true, p);
  count(stats, p.c);
  int64_t Np = 0;
  const double* acc = kernel(p, k, Np);
  const double bl = static_cast<double>(p.c.BL);
  // The double sum divided by BL, rounded once to float (as the reference).
  auto out = from_sums<float>(acc, p.c.M, p.c.N, Np, torch::kFloat32,
                              [bl](double v) { return static_cast<float>(v / bl); });
  p.c = Checked{};  // keep the buffers, not the caller's tensors
  return out;
}

torch::Tensor essop_outer_sum_reference(const torch::Tensor& x, const torch::Tensor& delta,
                                        const EssopStreamPair& streams, EssopScaling scaling) {
  torch::NoGradGuard no_grad;
  thread_local Prepared p;
  prepare(x, delta, streams, scaling, true, p);
  auto out = reference(p).div_(static_cast<double>(p.c.BL)).to(torch::kFloat32);
  p.c = Checked{};
  return out;
}

torch::Tensor essop_signed_counts(const torch::Tensor& xs, const torch::Tensor& ds,
                                  const EssopStreamPair& streams, EssopKernel k) {
  torch::NoGradGuard no_grad;
  thread_local Prepared p;
  prepare(xs, ds, streams, EssopScaling::per_product, false, p);
  int64_t Np = 0;
  const double* acc = kernel(p, k, Np);
  auto out = from_sums<int64_t>(acc, p.c.M, p.c.N, Np, torch::kInt64,
                                [](double v) { return static_cast<int64_t>(v); });
  p.c = Checked{};
  return out;
}

torch::Tensor essop_signed_counts_reference(const torch::Tensor& xs, const torch::Tensor& ds,
                                            const EssopStreamPair& streams) {
  torch::NoGradGuard no_grad;
  thread_local Prepared p;
  prepare(xs, ds, streams, EssopScaling::per_product, false, p);
  auto out = reference(p).to(torch::kInt64);
  p.c = Checked{};
  return out;
}

}  // namespace nc::learn
