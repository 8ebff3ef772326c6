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

// xoshiro256+ (Blackman and Vigna), 16 independent states side by side, seeded through
// splitmix64: one step of the 16 lanes is a handful of vector instructions (AVX-512 or AVX2,
// chosen at run time by target_clones; the plain x86-64 build has only SSE2). torch::rand's
// Mersenne Twister, then a 4-lane version of this generator, made drawing 2 BL numbers per
// outer product the largest cost of a convolution's ESSOP update (P = batch x positions).
constexpr int kRngLanes = 16;

struct Xoshiro16 {
  uint64_t s[4][kRngLanes];
  explicit Xoshiro16(uint64_t seed) {
    for (auto& word : s) {
      for (auto& w : word) {  // splitmix64: well mixed, never an all-zero state
        seed += 0x9e3779b97f4a7c15ULL;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        w = z ^ (z >> 31);
      }
    }
  }
};

// n uniforms in [0, 1) on the grid k 2^-24, as torch::rand draws float32 (the top 24 bits:
// xoshiro256+'s low bits are its weak ones). Number i comes from lane i % 16 at step i / 16;
// a last partial step is drawn whole and the rest discarded.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void xoshiro_fill(Xoshiro16& g, float* out, int64_t n) {
  // Local copies: the compiler keeps the state in vector registers (no aliasing with out).
  uint64_t s0[kRngLanes], s1[kRngLanes], s2[kRngLanes], s3[kRngLanes];
  std::memcpy(s0, g.s[0], sizeof s0);
  std::memcpy(s1, g.s[1], sizeof s1);
  std::memcpy(s2, g.s[2], sizeof s2);
  std::memcpy(s3, g.s[3], sizeof s3);
  float block[kRngLanes];
  for (int64_t i = 0; i < n; i += kRngLanes) {
    for (int l = 0; l < kRngLanes; ++l) {
      const uint64_t r = s0[l] + s3[l];
      const uint64_t t = s1[l] << 17;
      s2[l] ^= s0[l];
      s3[l] ^= s1[l];
      s1[l] ^= s2[l];
      s0[l] ^= s3[l];
      s2[l] ^= t;
      s3[l] = (s3[l] << 45) | (s3[l] >> 19);
      block[l] = static_cast<float>(static_cast<int32_t>(r >> 40)) * 0x1.0p-24f;
    }
    std::memcpy(out + i, block, sizeof(float) * static_cast<std::size_t>(std::min<int64_t>(kRngLanes, n - i)));
  }
  std::memcpy(g.s[0], s0, sizeof s0);
  std::memcpy(g.s[1], s1, sizeof s1);
  std::memcpy(g.s[2], s2, sizeof s2);
  std::memcpy(g.s[3], s3, sizeof s3);
}

}  // namespace

void essop_draw_streams_into(int64_t products, const EssopOptions& o, at::Generator& gen,
                             float* r, float* q) {
  validate_essop(o);
  const int64_t n = (o.streams() == EssopStreams::fresh ? products : 1) * o.bitstream();
  // Two 64-bit draws from `gen` seed this call's two generators, one for r and one for q:
  // reproducible from the run's seed and the same on every data-parallel rank. Never one
  // stream for both sides (then E[a AND b] = min(x^, d^), spec §3); and not r and q from one
  // 16-lane generator either: r_k and q_k then came from one lane's consecutive outputs, and
  // the unbiasedness test failed (mean |z| 1.6).
  uint64_t seed_r = 0, seed_q = 0;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    auto* g = at::check_generator<at::CPUGeneratorImpl>(gen);
    seed_r = g->random64();
    seed_q = g->random64();
  }
  Xoshiro16 rng_r(seed_r), rng_q(seed_q);
  xoshiro_fill(rng_r, r, n);
  xoshiro_fill(rng_q, q, n);
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
  torch::Tensor x, d, r, q;           // float32, contiguous
  essop_detail::Operand ox, od;       // where the kernel reads them
  int64_t P, N, M, BL;
  std::vector<int64_t> koff = {};     // direct convolution: x's element offsets (ox.koff)
};

void check_streams(const EssopStreamPair& s, int64_t P) {
  if (!s.r.defined() || s.r.dim() != 2 || !s.q.defined() || s.q.sizes() != s.r.sizes() ||
      (s.r.size(0) != P && s.r.size(0) != 1)) {
    throw InternalError("essop: streams must be [P, BL] or [1, BL], r and q of one shape");
  }
  EssopOptions o;
  o.bitstream(s.r.size(1));
  validate_essop(o);
}

torch::Tensor f32(const torch::Tensor& t) { return t.detach().to(torch::kFloat32).contiguous(); }

// x [P, N], delta [P, M]: one product per row.
Checked check(const torch::Tensor& x, const torch::Tensor& delta, const EssopStreamPair& s) {
  if (x.dim() != 2 || delta.dim() != 2 || x.size(0) != delta.size(0)) {
    throw InternalError(fmt::format("essop: need x [P, N] and delta [P, M], got {} and {}",
                                    fmt::join(x.sizes(), "x"), fmt::join(delta.sizes(), "x")));
  }
  check_streams(s, x.size(0));
  Checked c{f32(x), f32(delta), f32(s.r), f32(s.q), {}, {}, x.size(0), x.size(1), delta.size(1),
            s.r.size(1)};
  const int64_t L = std::max<int64_t>(1, c.P);
  c.ox = {c.x.data_ptr<float>(), c.N, L, 0, 1, c.N};
  c.od = {c.d.data_ptr<float>(), c.M, L, 0, 1, c.M};
  return c;
}

// x [B, N, L], delta [B, M, L]: one product per (b, l), read in place.
Checked check_columns(const torch::Tensor& x, const torch::Tensor& delta,
                      const EssopStreamPair& s) {
  if (x.dim() != 3 || delta.dim() != 3 || x.size(0) != delta.size(0) ||
      x.size(2) != delta.size(2)) {
    throw InternalError(fmt::format("essop: need x [B, N, L] and delta [B, M, L], got {} and {}",
                                    fmt::join(x.sizes(), "x"), fmt::join(delta.sizes(), "x")));
  }
  const int64_t B = x.size(0), N = x.size(1), M = delta.size(1), L = x.size(2);
  check_streams(s, B * L);
  Checked c{f32(x), f32(delta), f32(s.r), f32(s.q), {}, {}, B * L, N, M, s.r.size(1)};
  const int64_t Ls = std::max<int64_t>(1, L);
  c.ox = {c.x.data_ptr<float>(), N, Ls, N * L, L, 1};
  c.od = {c.d.data_ptr<float>(), M, Ls, M * L, L, 1};
  return c;
}

// x [B, C, H, W] (a stride-1 convolution's input), delta [B, M, Ho, Wo] (its output gradient),
// kernel kh x kw, zero padding (ph, pw): one product per (b, oy, ox), x_p the receptive field
// read from the zero-padded input in place of an im2col copy (Operand, direct convolution).
Checked check_conv(const torch::Tensor& x, const torch::Tensor& delta, int64_t kh, int64_t kw,
                   int64_t ph, int64_t pw, const EssopStreamPair& s) {
  if (x.dim() != 4 || delta.dim() != 4 || x.size(0) != delta.size(0) || kh < 1 || kw < 1 ||
      ph < 0 || pw < 0 || x.size(2) + 2 * ph - kh + 1 != delta.size(2) ||
      x.size(3) + 2 * pw - kw + 1 != delta.size(3)) {
    throw InternalError(fmt::format(
        "essop: need x [B, C, H, W] and delta [B, M, H + 2 {} - {} + 1, W + 2 {} - {} + 1] "
        "(stride 1), got {} and {}", ph, kh, pw, kw, fmt::join(x.sizes(), "x"),
        fmt::join(delta.sizes(), "x")));
  }
  const int64_t B = x.size(0), C = x.size(1), Ho = delta.size(2), Wo = delta.size(3);
  const int64_t Hp = x.size(2) + 2 * ph, Wp = x.size(3) + 2 * pw, L = Ho * Wo;
  check_streams(s, B * L);
  torch::Tensor xp = f32(x);
  if (ph || pw) {
    // The zero-padded input in a buffer this thread reuses (no fresh pages every step).
    thread_local torch::Tensor pad_buf;
    if (!pad_buf.defined()) pad_buf = torch::empty({0}, torch::kFloat32);
    pad_buf.resize_({B, C, Hp, Wp}).zero_();
    pad_buf.narrow(2, ph, x.size(2)).narrow(3, pw, x.size(3)).copy_(xp);
    xp = pad_buf;
  }
  const auto d = f32(delta);
  Checked c{xp, d, f32(s.r), f32(s.q), {}, {}, B * L, C * kh * kw, delta.size(1), s.r.size(1)};
  c.koff.resize(static_cast<std::size_t>(c.N));
  for (int64_t ch = 0, k = 0; ch < C; ++ch)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) c.koff[static_cast<std::size_t>(k++)] = (ch * Hp + i) * Wp + j;
  const int64_t Ls = std::max<int64_t>(1, L);
  c.ox = {c.x.data_ptr<float>(), c.N, Ls, C * Hp * Wp, 0, 1, Wo, Wp, c.koff.data()};
  c.od = {c.d.data_ptr<float>(), c.M, Ls, c.M * L, L, 1};
  return c;
}

// Per-product exponents of a side (per_tensor: one for all products); a product whose scale is
// irrelevant because its vector is all zero gets `zero` = true.
NC_ESSOP_VECTOR_CLONES bool exponents_of(const uint32_t* m, int64_t P, bool per_tensor,
                                         int shared, int* e, char* zero) {
  // The exponent of a normal float from its bits (as essop_exponent does for a double): 2^E
  // when the fraction is zero, else 2^(E+1). Branch-free, so that it vectorises; returns
  // whether some maxima are subnormal (biased exponent 0), which the caller fixes.
  uint32_t subnormal = 0;
  for (int64_t p = 0; p < P; ++p) {
    const uint32_t bits = m[p];
    const int ep = static_cast<int>(bits >> 23) - 127 + ((bits & 0x7fffffu) != 0 ? 1 : 0);
    zero[p] = bits == 0;
    e[p] = bits == 0 ? 0 : per_tensor ? shared : ep;
    subnormal |= (bits != 0) & (bits < 0x800000u);
  }
  return subnormal != 0;
}

void exponents(const essop_detail::Operand& v, int64_t P, EssopScaling scaling,
               std::vector<int>& e, std::vector<char>& zero) {
  e.resize(static_cast<std::size_t>(P));
  zero.resize(static_cast<std::size_t>(P));
  if (P == 0 || v.K == 0) {
    std::fill(e.begin(), e.end(), 0);
    std::fill(zero.begin(), zero.end(), 1);
    return;
  }
  // max |v| per product in one vectorised pass (a LibTorch reduction over short rows costs
  // more than the kernel), in a buffer reused from call to call (no fresh pages).
  thread_local std::vector<uint32_t> rmax;
  rmax.resize(static_cast<std::size_t>(P));
  uint32_t all = 0;
  if (!essop_detail::max_abs_bits(v, P, rmax.data(), all)) {
    throw UserError("essop: a non-finite value in the weight-update inputs");
  }
  const uint32_t* m = rmax.data();
  auto value = [](uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  const int shared = all > 0 ? essop_exponent(value(all)) : 0;
  const bool per_tensor = scaling == EssopScaling::per_tensor;
  if (exponents_of(m, P, per_tensor, shared, e.data(), zero.data()) && !per_tensor) {
    for (int64_t p = 0; p < P; ++p)
      if (m[p] != 0 && (m[p] >> 23) == 0) e[p] = essop_exponent(value(m[p]));
  }
}

// 2^-e_p as float, one per product: the bits of a normal power of two (no library call),
// ldexp where 2^-e is not a normal float.
NC_ESSOP_VECTOR_CLONES bool factors_of(const int* e, int64_t n, float* f) {
  uint32_t outside = 0;  // some 2^-e is not a normal float
  for (int64_t p = 0; p < n; ++p) {
    const uint32_t bits = static_cast<uint32_t>(127 - e[p]) << 23;
    std::memcpy(&f[p], &bits, sizeof bits);
    outside |= static_cast<uint32_t>(127 - e[p] - 1) > 253u;
  }
  return outside != 0;
}

void factors(const std::vector<int>& e, std::vector<float>& f) {
  f.resize(e.size());
  const auto n = static_cast<int64_t>(e.size());
  if (!factors_of(e.data(), n, f.data())) return;
  for (int64_t p = 0; p < n; ++p) {
    if (127 - e[p] < 1 || 127 - e[p] > 254) f[p] = std::ldexp(1.0f, -e[p]);
  }
}

// Combined exponents and skipped products of both sides (scale = false: the unscaled counts).
NC_ESSOP_VECTOR_CLONES void combine(const char* zx, const char* zd, bool scale, int64_t P, int* ex,
                                    int* ed, int* e, char* skip) {
  for (int64_t i = 0; i < P; ++i) {
    skip[i] = zx[i] | zd[i];
    ex[i] = !scale || zx[i] ? 0 : ex[i];
    ed[i] = !scale || zd[i] ? 0 : ed[i];
    e[i] = skip[i] ? 0 : ex[i] + ed[i];
  }
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

// Fills p from a checked call; the kernel's callers pass one per thread, reused from call to
// call (its vectors hold a few bytes per outer product: fresh ones cost page faults for
// convolutions).
void prepare(Checked c, EssopScaling scaling, bool scale, Prepared& p) {
  p.c = std::move(c);
  thread_local std::vector<char> zx, zd;
  exponents(p.c.ox, p.c.P, scaling, p.ex, zx);
  exponents(p.c.od, p.c.P, scaling, p.ed, zd);
  const auto P = static_cast<std::size_t>(p.c.P);
  p.e.resize(P);
  p.skip.resize(P);
  combine(zx.data(), zd.data(), scale, p.c.P, p.ex.data(), p.ed.data(), p.e.data(),
          p.skip.data());
  if (!scale && p.c.P &&
      (p.c.x.abs().max().item<float>() > 1 || p.c.d.abs().max().item<float>() > 1)) {
    throw InternalError("essop_signed_counts: values must lie in [-1, 1]");
  }
  factors(p.ex, p.fx);
  factors(p.ed, p.fd);
}

void prepare(const torch::Tensor& x, const torch::Tensor& delta, const EssopStreamPair& s,
             EssopScaling scaling, bool scale, Prepared& p) {
  prepare(check(x, delta, s), scaling, scale, p);
}

// The kernel (src/learn/essop_kernel.cpp): double sums [M][Np] in this thread's workspace.
const double* kernel(const Prepared& p, EssopKernel k, int64_t& Np) {
  const essop_detail::Side xs{p.c.ox, p.fx.data(), p.c.r.data_ptr<float>(), p.c.r.size(0) == 1};
  const essop_detail::Side ds{p.c.od, p.fd.data(), p.c.q.data_ptr<float>(), p.c.q.size(0) == 1};
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

namespace {

torch::Tensor outer_sum(Checked c, EssopScaling scaling, EssopStats* stats, EssopKernel k) {
  thread_local Prepared p;
  prepare(std::move(c), scaling, true, p);
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

}  // namespace

torch::Tensor essop_outer_sum(const torch::Tensor& x, const torch::Tensor& delta,
                              const EssopStreamPair& streams, EssopScaling scaling,
                              EssopStats* stats, EssopKernel k) {
  torch::NoGradGuard no_grad;
  return outer_sum(check(x, delta, streams), scaling, stats, k);
}

torch::Tensor essop_outer_sum_columns(const torch::Tensor& x, const torch::Tensor& delta,
                                      const EssopStreamPair& streams, EssopScaling scaling,
                                      EssopStats* stats, EssopKernel k) {
  torch::NoGradGuard no_grad;
  return outer_sum(check_columns(x, delta, streams), scaling, stats, k);
}

torch::Tensor essop_outer_sum_conv(const torch::Tensor& x, const torch::Tensor& delta,
                                   int64_t kh, int64_t kw, int64_t ph, int64_t pw,
                                   const EssopStreamPair& streams, EssopScaling scaling,
                                   EssopStats* stats, EssopKernel k) {
  torch::NoGradGuard no_grad;
  return outer_sum(check_conv(x, delta, kh, kw, ph, pw, streams), scaling, stats, k);
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
