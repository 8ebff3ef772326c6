// ESSOP bit-parallel kernel: layout of a chunk of outer products, encoding, counting, and the
// runtime choice of instruction set (src/learn/essop_kernel.h, docs/essop.md "Kernel").
#include "essop_kernel.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "neurocore/core/error.h"

namespace nc::learn {

namespace essop_detail {
namespace {

inline uint64_t word_at(const uint16_t* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);  // four units; memcpy: no aliasing of the uint16 storage
  return w;
}

bool encode_portable(const float* tile, const float* rt, int64_t K, int64_t BL,
                     const int64_t* off, uint16_t* dst, uint16_t* sdst) {
  bool negative = false;
  for (int64_t k = 0; k < K; ++k) {
    const float* v = tile + k * kLanes;
    unsigned sign = 0;
    for (int l = 0; l < kLanes; ++l) sign |= static_cast<unsigned>(v[l] < 0) << l;
    for (int64_t b = 0; b < BL; ++b) {
      const float* r = rt + b * kLanes;
      unsigned m = 0;
      for (int l = 0; l < kLanes; ++l) m |= static_cast<unsigned>(std::fabs(v[l]) > r[l]) << l;
      dst[off[b] + 4 * k] = static_cast<uint16_t>(m);
      if (sign) sdst[off[b] + 4 * k] = static_cast<uint16_t>(sign);
    }
    negative |= sign != 0;
  }
  return negative;
}

// The hardware popcount instruction where the CPU has it, a portable one otherwise.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
void count_portable(const uint16_t* A, const uint16_t* SA, const uint16_t* B, const uint16_t* SB,
                    const Group* groups, int64_t n_groups, int64_t Np, int64_t Mp, bool x_signed,
                    int64_t i0, int64_t i1, double* acc) {
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j0 = 0; j0 < Np; j0 += kColBlock) {
      double* out = acc + i * Np + j0;
      for (int64_t g = 0; g < n_groups; ++g) {
        int64_t pos[kColBlock] = {}, neg[kColBlock] = {};
        for (int64_t w = groups[g].word_begin; w < groups[g].word_end; ++w) {
          const uint64_t b = word_at(B + 4 * (w * Mp + i)), sb = word_at(SB + 4 * (w * Mp + i));
          const uint16_t* a = A + 4 * (w * Np + j0);
          const uint16_t* sa = SA + 4 * (w * Np + j0);
          for (int64_t j = 0; j < kColBlock; ++j) {
            const uint64_t t = word_at(a + 4 * j) & b;
            const uint64_t s = x_signed ? word_at(sa + 4 * j) ^ sb : sb;
            pos[j] += __builtin_popcountll(t);
            neg[j] += __builtin_popcountll(t & s);
          }
        }
        // Exact: an integer times 2^e, summed exactly while the spread of exponents is small.
        for (int64_t j = 0; j < kColBlock; ++j)
          out[j] += static_cast<double>(pos[j] - 2 * neg[j]) * groups[g].scale;
      }
    }
  }
}

// Products of one chunk in layout order, with their groups.
struct Layout {
  int64_t p0 = 0;
  std::vector<int64_t> product;  // layout position -> product index
  std::vector<int64_t> slot;     // product p0 + i -> block * 16 + lane, or -1 (skipped)
  struct Block {
    int64_t first, count;  // positions in `product`
    int64_t unit;          // first unit of the block
  };
  std::vector<Block> blocks;
  std::vector<Group> groups;
  int64_t words = 0;
};

Layout make_layout(int64_t p0, int64_t p1, const std::vector<int>& e,
                   const std::vector<char>& skip, int64_t BL) {
  Layout l;
  l.p0 = p0;
  // Products sorted by exponent, stably: a counting sort over the (narrow) exponent range.
  int lo = 0, hi = -1;
  for (int64_t p = p0; p < p1; ++p) {
    if (skip[p]) continue;
    if (hi < lo) lo = hi = e[p];
    lo = std::min(lo, e[p]);
    hi = std::max(hi, e[p]);
  }
  std::vector<int64_t> start(static_cast<std::size_t>(hi - lo + 2), 0);
  for (int64_t p = p0; p < p1; ++p)
    if (!skip[p]) ++start[static_cast<std::size_t>(e[p] - lo + 1)];
  for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  l.product.resize(static_cast<std::size_t>(start.back()));
  for (int64_t p = p0; p < p1; ++p)
    if (!skip[p]) l.product[static_cast<std::size_t>(start[static_cast<std::size_t>(e[p] - lo)]++)] = p;
  l.slot.assign(static_cast<std::size_t>(p1 - p0), -1);
  int64_t unit = 0;
  const auto n = static_cast<int64_t>(l.product.size());
  for (int64_t first = 0; first < n;) {
    int64_t last = first;
    while (last < n && e[l.product[last]] == e[l.product[first]]) ++last;
    unit = (unit + 3) / 4 * 4;  // a group starts on a fresh word
    const int64_t word_begin = unit / 4;
    for (int64_t b = first; b < last; b += kLanes) {
      const auto blk = static_cast<int64_t>(l.blocks.size());
      l.blocks.push_back({b, std::min(kLanes, last - b), unit});
      for (int64_t i = b; i < b + l.blocks.back().count; ++i)
        l.slot[l.product[i] - p0] = blk * kLanes + (i - b);
      unit += BL;
    }
    l.groups.push_back({word_begin, (unit + 3) / 4, std::ldexp(1.0, e[l.product[first]])});
    first = last;
  }
  l.words = (unit + 3) / 4;
  return l;
}

int64_t padded(int64_t k) { return (k + kColBlock - 1) / kColBlock * kColBlock; }

void pack(const Side& s, const Layout& l, int64_t BL, EncodeFn encode, Packed& out) {
  const int64_t Kp = padded(s.K), nb = static_cast<int64_t>(l.blocks.size());
  const auto n = static_cast<std::size_t>(l.words * Kp * 4);
  out.bits.assign(n, 0);
  out.sign.assign(n, 0);
  // 1. Tiles: block b's values [K][16] (v * 2^-e, the reference's normalisation, exactly)
  // and thresholds [BL][16], written while reading the products in their memory order (the
  // layout order, sorted by exponent, would read the rows of v and of the streams at random;
  // that was most of a convolution's cost). Padding lanes stay 0 and set no bit.
  thread_local std::vector<float> tiles, rts;
  tiles.resize(static_cast<std::size_t>(nb * s.K * kLanes));
  rts.resize(static_cast<std::size_t>(nb * BL * kLanes));
  for (int64_t bi = 0; bi < nb; ++bi) {  // zero only the padding lanes of partial blocks
    const int64_t c = l.blocks[bi].count;
    if (c == kLanes) continue;
    for (int64_t k = 0; k < s.K; ++k)
      std::fill_n(tiles.data() + (bi * s.K + k) * kLanes + c, kLanes - c, 0.0f);
    for (int64_t b = 0; b < BL; ++b)
      std::fill_n(rts.data() + (bi * BL + b) * kLanes + c, kLanes - c, 0.0f);
  }
  const auto np = static_cast<int64_t>(l.slot.size());
  at::parallel_for(0, np, 256, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t slot = l.slot[i];
      if (slot < 0) continue;
      const int64_t p = l.p0 + i, blk = slot / kLanes, lane = slot % kLanes;
      float* T = tiles.data() + blk * s.K * kLanes + lane;
      const float* row = s.v + p * s.K;
      const float f = s.factor[p];
      for (int64_t k = 0; k < s.K; ++k) T[k * kLanes] = row[k] * f;
      float* R = rts.data() + blk * BL * kLanes + lane;
      const float* t = s.thr + (s.shared ? 0 : p) * BL;
      for (int64_t b = 0; b < BL; ++b) R[b * kLanes] = t[b];
    }
  });
  // 2. Encoding, block by block.
  std::atomic<bool> negative{false};
  at::parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> off(static_cast<std::size_t>(BL));
    bool neg_here = false;
    for (int64_t bi = b0; bi < b1; ++bi) {
      for (int64_t b = 0; b < BL; ++b) {
        const int64_t u = l.blocks[bi].unit + b;
        off[b] = (u / 4) * Kp * 4 + u % 4;
      }
      neg_here |= encode(tiles.data() + bi * s.K * kLanes, rts.data() + bi * BL * kLanes, s.K,
                         BL, off.data(), out.bits.data(), out.sign.data());
    }
    if (neg_here) negative = true;
  });
  out.any_negative = negative;
}

}  // namespace

Impl portable_impl() { return {encode_portable, count_portable}; }

}  // namespace essop_detail

bool essop_kernel_supported(EssopKernel k) {
  switch (k) {
    case EssopKernel::automatic:
    case EssopKernel::portable:
      return true;
#if defined(__x86_64__) && defined(__GNUC__)
    case EssopKernel::avx2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case EssopKernel::avx512:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vpopcntdq");
#endif
    default:
      return false;
  }
}

const char* essop_kernel_name(EssopKernel k) {
  switch (k) {
    case EssopKernel::automatic: return "automatic";
    case EssopKernel::portable: return "portable";
    case EssopKernel::avx2: return "avx2";
    case EssopKernel::avx512: return "avx512";
  }
  return "?";
}

EssopKernel essop_kernel_resolved(EssopKernel k) {
  if (k != EssopKernel::automatic) {
    if (!essop_kernel_supported(k)) {
      throw InternalError(fmt::format("essop: kernel {} is not supported by this CPU",
                                      essop_kernel_name(k)));
    }
    return k;
  }
  static const EssopKernel best = [] {
    for (auto c : {EssopKernel::avx512, EssopKernel::avx2})
      if (essop_kernel_supported(c)) return c;
    return EssopKernel::portable;
  }();
  return best;
}

namespace essop_detail {

const double* kernel_counts(const Side& x, const Side& d, int64_t P, int64_t BL,
                            const std::vector<int>& e, const std::vector<char>& skip,
                            EssopKernel kernel, int64_t& Np) {
  const int64_t N = x.K, M = d.K, Mp = padded(M);
  Np = padded(N);
  thread_local std::vector<double> acc_buffer;
  thread_local Packed A, B;
  acc_buffer.assign(static_cast<std::size_t>(M * Np), 0.0);
  double* pacc = acc_buffer.data();
  if (P == 0 || M == 0 || N == 0) return pacc;
  Impl impl = portable_impl();
#if defined(__x86_64__) && defined(__GNUC__)
  switch (essop_kernel_resolved(kernel)) {
    case EssopKernel::avx512: impl = avx512_impl(); break;
    case EssopKernel::avx2: impl = avx2_impl(); break;
    default: break;
  }
#else
  essop_kernel_resolved(kernel);
#endif
  // Chunks of products small enough that both packed sides (bits + signs, about 1 MiB) and
  // the tiles (values and thresholds, about 256 KiB, at least 512 products) stay in cache;
  // whole blocks of 16.
  const int64_t budget_words = 65536, tile_bytes = 1 << 18;
  const int64_t by_bits = budget_words * 64 / (BL * (Np + Mp));
  const int64_t by_tiles = std::max<int64_t>(512, tile_bytes / (4 * (N + M + 2 * BL)));
  const int64_t chunk = std::max<int64_t>(kLanes, std::min(by_bits, by_tiles) / kLanes * kLanes);
  for (int64_t p0 = 0; p0 < P; p0 += chunk) {
    const Layout l = make_layout(p0, std::min(P, p0 + chunk), e, skip, BL);
    if (l.product.empty()) continue;
    pack(x, l, BL, impl.encode, A);
    pack(d, l, BL, impl.encode, B);
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, Np * l.words));
    at::parallel_for(0, M, grain, [&](int64_t i0, int64_t i1) {
      impl.count(A.bits.data(), A.sign.data(), B.bits.data(), B.sign.data(), l.groups.data(),
                 static_cast<int64_t>(l.groups.size()), Np, Mp, A.any_negative, i0, i1, pacc);
    });
  }
  return pacc;
}

}  // namespace essop_detail
}  // namespace nc::learn
