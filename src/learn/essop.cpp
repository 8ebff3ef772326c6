// ESSOP estimator: power-of-two scaling, stream drawing, the bit-parallel kernel and the
// scalar reference (include/neurocore/learn/essop.h, docs/essop.md).
#include "neurocore/learn/essop.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <vector>

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
  int f = 0;
  const double m = std::frexp(max_abs, &f);  // max_abs = m 2^f, m in [0.5, 1)
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

EssopStreamPair essop_draw_streams(int64_t products, const EssopOptions& o, at::Generator& gen) {
  validate_essop(o);
  const int64_t s = o.streams() == EssopStreams::fresh ? products : 1;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  // Two draws from one generator are independent streams; never one stream for both sides
  // (then E[a AND b] = min(x^, d^), spec §3).
  auto r = torch::rand({s, o.bitstream()}, gen, opts);
  auto q = torch::rand({s, o.bitstream()}, gen, opts);
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
  const auto rmax = v.abs().amax(1).to(torch::kFloat64).contiguous();
  const double* m = rmax.data_ptr<double>();
  const double all = *std::max_element(m, m + P);
  if (!std::isfinite(all)) throw UserError("essop: a non-finite value in the weight-update inputs");
  const int shared = all > 0 ? essop_exponent(all) : 0;
  for (int64_t p = 0; p < P; ++p) {
    zero[p] = m[p] == 0;
    if (!zero[p]) e[p] = scaling == EssopScaling::per_tensor ? shared : essop_exponent(m[p]);
  }
}

// v [P, K] scaled row by row to [-1, 1]: v * 2^-e_p (exact: a power-of-two factor).
torch::Tensor normalise(const torch::Tensor& v, const std::vector<int>& e) {
  std::vector<float> f(e.size());
  for (std::size_t p = 0; p < e.size(); ++p) f[p] = std::ldexp(1.0f, -e[p]);
  auto s = torch::from_blob(f.data(), {static_cast<int64_t>(f.size()), 1}, torch::kFloat32).clone();
  return (v * s).contiguous();
}

// ---------------------------------------------------------------------------------------
// Bit-parallel kernel.
//
// A chunk of outer products is laid out as one bit string per vector element: the stream of
// product p occupies BL consecutive bits (bit k of the stream at offset + k; word = bit / 64,
// bit % 64), products sorted by their combined exponent e_p = e_x,p + e_d,p, each group of
// equal exponents starting on a fresh word. For element pair (i, j) the signed count of a
// group is popcount(A_j & B_i) - 2 popcount(A_j & B_i & (SA_j ^ SB_i)), with SA, SB the sign
// planes (all BL bits of a product set when its value is negative), and dW_ij gains
// 2^e_g times that count: one shift per group instead of one multiply per product.

struct Group {
  int exponent;
  int64_t word_begin, word_end;
};

struct Layout {
  std::vector<int64_t> product;  // products of the chunk in layout order
  std::vector<int64_t> offset;   // bit offset of each
  std::vector<Group> groups;
  int64_t words = 0;
};

Layout make_layout(int64_t p0, int64_t p1, const std::vector<int>& e, const std::vector<char>& skip,
                   int64_t BL) {
  Layout l;
  for (int64_t p = p0; p < p1; ++p)
    if (!skip[p]) l.product.push_back(p);
  std::stable_sort(l.product.begin(), l.product.end(),
                   [&](int64_t a, int64_t b) { return e[a] < e[b]; });
  int64_t bit = 0;
  for (std::size_t n = 0; n < l.product.size(); ++n) {
    const int ex = e[l.product[n]];
    if (l.groups.empty() || l.groups.back().exponent != ex) {
      bit = (bit + 63) / 64 * 64;  // a new group starts on a fresh word
      if (!l.groups.empty()) l.groups.back().word_end = bit / 64;
      l.groups.push_back({ex, bit / 64, 0});
    }
    l.offset.push_back(bit);
    bit += BL;
  }
  l.words = (bit + 63) / 64;
  if (!l.groups.empty()) l.groups.back().word_end = l.words;
  return l;
}

inline void put_bits(uint64_t* row, int64_t off, uint64_t word, int64_t len) {
  const int64_t w = off >> 6, s = off & 63;
  row[w] |= word << s;
  if (s + len > 64) row[w + 1] |= word >> (64 - s);
}

// Packs one side: v [P, K] (normalised, signed) -> bits and sign planes [K, words].
// Returns whether any value was negative.
bool pack(const torch::Tensor& v, const torch::Tensor& thr, const Layout& l, int64_t BL,
          std::vector<uint64_t>& bits, std::vector<uint64_t>& sign) {
  const int64_t K = v.size(1), W = l.words, n = static_cast<int64_t>(l.product.size());
  bits.assign(static_cast<std::size_t>(K * W), 0);
  sign.assign(static_cast<std::size_t>(K * W), 0);
  const auto vt = v.t().contiguous();  // [K, P]: each row packed from contiguous values
  const float* pv = vt.data_ptr<float>();
  const float* pt = thr.data_ptr<float>();
  const int64_t P = v.size(0);
  const bool shared = thr.size(0) == 1;
  std::atomic<bool> negative{false};
  at::parallel_for(0, K, 16, [&](int64_t k0, int64_t k1) {
    bool neg_here = false;
    for (int64_t k = k0; k < k1; ++k) {
      uint64_t* row = bits.data() + k * W;
      uint64_t* srow = sign.data() + k * W;
      const float* vk = pv + k * P;
      for (int64_t idx = 0; idx < n; ++idx) {
        const int64_t p = l.product[idx];
        const float value = vk[p];
        if (value == 0) continue;
        const float a = std::fabs(value);
        const float* t = pt + (shared ? 0 : p) * BL;
        const int64_t off = l.offset[idx];
        for (int64_t c = 0; c < BL; c += 64) {
          const int64_t len = std::min<int64_t>(64, BL - c);
          uint64_t word = 0;
          for (int64_t b = 0; b < len; ++b) word |= static_cast<uint64_t>(a > t[c + b]) << b;
          put_bits(row, off + c, word, len);
          if (value < 0) put_bits(srow, off + c, len == 64 ? ~uint64_t{0} : (uint64_t{1} << len) - 1, len);
        }
        neg_here |= value < 0;
      }
    }
    if (neg_here) negative = true;
  });
  return negative;
}

// acc[i, j] += sum_g 2^e_g (signed count of group g), rows i in [i0, i1).
// target_clones: the hardware popcount instruction where the CPU has it, a portable one
// otherwise (one binary for every x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NC_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define NC_POPCNT_CLONES
#endif

NC_POPCNT_CLONES
void count_rows(const uint64_t* A, const uint64_t* SA, const uint64_t* B, const uint64_t* SB,
                const Group* groups, int64_t n_groups, const double* scale, int64_t N, int64_t W,
                bool x_signed, int64_t i0, int64_t i1, double* acc) {
  for (int64_t i = i0; i < i1; ++i) {
    const uint64_t* b = B + i * W;
    const uint64_t* sb = SB + i * W;
    double* out = acc + i * N;
    for (int64_t j = 0; j < N; ++j) {
      const uint64_t* a = A + j * W;
      const uint64_t* sa = SA + j * W;
      double sum = 0;
      for (int64_t g = 0; g < n_groups; ++g) {
        int64_t pos = 0, neg = 0;
        const int64_t w1 = groups[g].word_end;
        if (x_signed) {
          for (int64_t w = groups[g].word_begin; w < w1; ++w) {
            const uint64_t t = a[w] & b[w];
            pos += __builtin_popcountll(t);
            neg += __builtin_popcountll(t & (sa[w] ^ sb[w]));
          }
        } else {
          for (int64_t w = groups[g].word_begin; w < w1; ++w) {
            const uint64_t t = a[w] & b[w];
            pos += __builtin_popcountll(t);
            neg += __builtin_popcountll(t & sb[w]);
          }
        }
        sum += static_cast<double>(pos - 2 * neg) * scale[g];  // exact: integer times 2^e
      }
      out[j] += sum;
    }
  }
}

// The kernel on normalised signed values: returns acc [M, N] (double) = sum over products of
// 2^e_p sign * count.
torch::Tensor kernel_counts(const Checked& c, const torch::Tensor& xn, const torch::Tensor& dn,
                            const std::vector<int>& e, const std::vector<char>& skip) {
  const int64_t P = c.P, N = c.N, M = c.M, BL = c.BL;
  auto acc = torch::zeros({M, N}, torch::kFloat64);
  if (P == 0 || M == 0 || N == 0) return acc;
  // Chunks of products small enough that both packed sides (bits + signs) stay in cache
  // (about 1 MiB).
  const int64_t words_budget = std::max<int64_t>(8, 65536 / (N + M));
  const int64_t chunk = std::max<int64_t>(1, words_budget * 64 / BL);
  std::vector<uint64_t> A, SA, B, SB;
  double* pacc = acc.data_ptr<double>();
  for (int64_t p0 = 0; p0 < P; p0 += chunk) {
    const Layout l = make_layout(p0, std::min(P, p0 + chunk), e, skip, BL);
    if (l.product.empty()) continue;
    const bool x_signed = pack(xn, c.r, l, BL, A, SA);
    pack(dn, c.q, l, BL, B, SB);
    std::vector<double> scale;
    for (const auto& g : l.groups) scale.push_back(std::ldexp(1.0, g.exponent));
    const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * l.words / 64 + 1));
    at::parallel_for(0, M, grain, [&](int64_t i0, int64_t i1) {
      count_rows(A.data(), SA.data(), B.data(), SB.data(), l.groups.data(),
                 static_cast<int64_t>(l.groups.size()), scale.data(), N, l.words, x_signed, i0,
                 i1, pacc);
    });
  }
  return acc;
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
  torch::Tensor xn, dn;
  std::vector<int> e;
  std::vector<char> skip;
};

Prepared prepare(const torch::Tensor& x, const torch::Tensor& delta, const EssopStreamPair& s,
                 EssopScaling scaling, bool scale) {
  Prepared p{check(x, delta, s), {}, {}, {}, {}};
  std::vector<int> ex, ed;
  std::vector<char> zx, zd;
  exponents(p.c.x, scaling, ex, zx);
  exponents(p.c.d, scaling, ed, zd);
  const auto P = static_cast<std::size_t>(p.c.P);
  p.e.assign(P, 0);
  p.skip.assign(P, 0);
  for (std::size_t i = 0; i < P; ++i) {
    p.skip[i] = zx[i] || zd[i];  // an all-zero vector: the product is exactly 0
    if (scale && !p.skip[i]) p.e[i] = ex[i] + ed[i];
  }
  if (scale) {
    for (std::size_t i = 0; i < P; ++i) {
      if (zx[i]) ex[i] = 0;
      if (zd[i]) ed[i] = 0;
    }
    p.xn = normalise(p.c.x, ex);
    p.dn = normalise(p.c.d, ed);
  } else {
    p.xn = p.c.x;
    p.dn = p.c.d;
    if (p.c.P && (p.xn.abs().max().item<float>() > 1 || p.dn.abs().max().item<float>() > 1)) {
      throw InternalError("essop_signed_counts: values must lie in [-1, 1]");
    }
  }
  return p;
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
                              EssopStats* stats) {
  torch::NoGradGuard no_grad;
  const auto p = prepare(x, delta, streams, scaling, true);
  count(stats, p.c);
  return kernel_counts(p.c, p.xn, p.dn, p.e, p.skip).div_(static_cast<double>(p.c.BL))
      .to(torch::kFloat32);
}

torch::Tensor essop_outer_sum_reference(const torch::Tensor& x, const torch::Tensor& delta,
                                        const EssopStreamPair& streams, EssopScaling scaling) {
  torch::NoGradGuard no_grad;
  const auto p = prepare(x, delta, streams, scaling, true);
  return reference_counts(p.c, p.xn, p.dn, p.e, p.skip).div_(static_cast<double>(p.c.BL))
      .to(torch::kFloat32);
}

torch::Tensor essop_signed_counts(const torch::Tensor& xs, const torch::Tensor& ds,
                                  const EssopStreamPair& streams) {
  torch::NoGradGuard no_grad;
  const auto p = prepare(xs, ds, streams, EssopScaling::per_product, false);
  return kernel_counts(p.c, p.xn, p.dn, p.e, p.skip).to(torch::kInt64);
}

torch::Tensor essop_signed_counts_reference(const torch::Tensor& xs, const torch::Tensor& ds,
                                            const EssopStreamPair& streams) {
  torch::NoGradGuard no_grad;
  const auto p = prepare(xs, ds, streams, EssopScaling::per_product, false);
  return reference_counts(p.c, p.xn, p.dn, p.e, p.skip).to(torch::kInt64);
}

}  // namespace nc::learn
