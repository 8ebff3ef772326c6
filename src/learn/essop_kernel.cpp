// ESSOP bit-parallel kernel: layout of a chunk of outer products, encoding, counting, and the
// runtime choice of instruction set (src/learn/essop_kernel.h, docs/essop.md "Kernel").
#include "essop_kernel.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "neurocore/core/error.h"

namespace nc::learn {

namespace essop_detail {
namespace {

inline uint64_t word_at(const uint16_t* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);  // four units; memcpy: no aliasing of the uint16 storage
  return w;
}

bool encode_portable(const BlockIn& in, int64_t BL, const int64_t* uoff, uint16_t* dst,
                     uint16_t* sdst) {
  thread_local std::vector<float> tile, rt;
  tile.resize(static_cast<std::size_t>(in.K * kLanes));
  rt.resize(static_cast<std::size_t>(BL * kLanes));
  gather_block(in, BL, tile.data(), rt.data());
  bool negative = false;
  for (int64_t k = 0; k < in.K; ++k) {
    const float* v = tile.data() + k * kLanes;
    unsigned sign = 0;
    for (int l = 0; l < kLanes; ++l) sign |= static_cast<unsigned>(v[l] < 0) << l;
    for (int64_t b = 0; b < BL; ++b) {
      const float* r = rt.data() + b * kLanes;
      unsigned m = 0;
      for (int l = 0; l < kLanes; ++l) m |= static_cast<unsigned>(std::fabs(v[l]) > r[l]) << l;
      dst[uoff[b] + 4 * k] = static_cast<uint16_t>(m);
      sdst[uoff[b] + 4 * k] = static_cast<uint16_t>(sign);
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
                    const Entry* entries, const Group* groups, int64_t n_groups, int64_t Np,
                    int64_t Mp, bool x_signed, int64_t i0, int64_t i1, double* acc) {
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j0 = 0; j0 < Np; j0 += kColBlock) {
      double* out = acc + i * Np + j0;
      for (int64_t g = 0; g < n_groups; ++g) {
        int64_t pos[kColBlock] = {}, neg[kColBlock] = {};
        for (int64_t en = groups[g].entry_begin; en < groups[g].entry_end; ++en) {
          const int64_t w = entries[en].word;
          const uint64_t b = word_at(B + 4 * (w * Mp + i)) & entries[en].mask;
          const uint64_t sb = word_at(SB + 4 * (w * Mp + i));
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

// The blocks of one chunk of products, with their count entries and groups.
struct Layout {
  std::vector<int64_t> product;  // lane position -> product index (blocks[b].first + lane)
  struct Block {
    int64_t first, count;  // positions in `product`
    int64_t unit;          // first unit of the block
  };
  std::vector<Block> blocks;
  std::vector<Entry> entries;
  std::vector<Group> groups;
  int64_t words = 0;
};

constexpr uint64_t kAllLanes = ~uint64_t{0};
constexpr uint64_t kUnitRepeat = 0x0001000100010001ULL;  // a 16-lane mask in all 4 units

// Layout `sorted`: products sorted by exponent (stably: a counting sort over the narrow
// exponent range), skipped ones left out; each group starts on a fresh word and is cut into
// blocks of 16; one entry per word. Used for rows (Linear: few products, many elements, where
// counting dominates and must not visit a word twice).
Layout make_layout_sorted(int64_t p0, int64_t p1, const std::vector<int>& e,
                          const std::vector<char>& skip, int64_t BL) {
  Layout l;
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
  int64_t unit = 0;
  const auto n = static_cast<int64_t>(l.product.size());
  for (int64_t first = 0; first < n;) {
    int64_t last = first;
    while (last < n && e[l.product[last]] == e[l.product[first]]) ++last;
    unit = (unit + 3) / 4 * 4;  // a group starts on a fresh word
    const int64_t word_begin = unit / 4;
    for (int64_t b = first; b < last; b += kLanes) {
      l.blocks.push_back({b, std::min(kLanes, last - b), unit});
      unit += BL;
    }
    const auto entry_begin = static_cast<int64_t>(l.entries.size());
    for (int64_t w = word_begin; w < (unit + 3) / 4; ++w) l.entries.push_back({w, kAllLanes});
    l.groups.push_back({entry_begin, static_cast<int64_t>(l.entries.size()),
                        std::ldexp(1.0, e[l.product[first]])});
    first = last;
  }
  l.words = (unit + 3) / 4;
  return l;
}

// Layout `positions`: products [p0, p1) of whole samples of L positions (columns), blocks of 16
// consecutive positions of one sample in memory order (vector loads, no sort, no gather);
// each block starts on a fresh word. A block whose lanes have several exponents gets one
// entry per word and exponent, masked to that exponent's lanes; skipped products are in no
// entry. Used for convolutions: many products of few elements, where encoding dominates.
void make_layout_positions(int64_t p0, int64_t p1, int64_t L, const std::vector<int>& e,
                           const std::vector<char>& skip, int64_t BL, Layout& l) {
  l.product.clear();
  l.blocks.clear();
  l.entries.clear();
  l.groups.clear();
  const int64_t words_per_block = (BL + 3) / 4;
  struct Raw {
    int exponent;
    int64_t word;
    uint64_t mask;
  };
  thread_local std::vector<Raw> raw;
  raw.clear();
  int lo = 0, hi = -1;
  for (int64_t s0 = p0; s0 < p1; s0 += L) {
    for (int64_t b0 = s0; b0 < s0 + L; b0 += kLanes) {
      const int64_t count = std::min(kLanes, s0 + L - b0);
      const auto first = static_cast<int64_t>(l.product.size());
      const int64_t unit = static_cast<int64_t>(l.blocks.size()) * words_per_block * 4;
      l.blocks.push_back({first, count, unit});
      l.product.resize(static_cast<std::size_t>(first + count));
      for (int64_t i = 0; i < count; ++i) l.product[static_cast<std::size_t>(first + i)] = b0 + i;
      // The distinct exponents of the block's lanes and their lane masks: a mask per
      // exponent above the block's smallest (a short range), else a search. Branch-free over
      // the lanes (a branch per lane mispredicted often enough to cost as much as encoding).
      int emin = std::numeric_limits<int>::max(), emax = std::numeric_limits<int>::min();
      for (int64_t i = 0; i < count; ++i) {
        const bool live = !skip[b0 + i];
        const int ei = e[b0 + i];
        emin = live && ei < emin ? ei : emin;
        emax = live && ei > emax ? ei : emax;
      }
      if (emax < emin) continue;  // all lanes skipped
      int ex[kLanes];
      uint32_t lanes[kLanes];
      int n = 0;
      if (emax - emin < 32) {
        uint32_t by[32] = {};
        for (int64_t i = 0; i < count; ++i) {
          const bool live = !skip[b0 + i];
          by[live ? e[b0 + i] - emin : 0] |= static_cast<uint32_t>(live) << i;
        }
        for (int k = 0; k <= emax - emin; ++k)
          if (by[k]) ex[n] = emin + k, lanes[n++] = by[k];
      } else {
        for (int64_t i = 0; i < count; ++i) {
          if (skip[b0 + i]) continue;
          const int ei = e[b0 + i];
          int k = 0;
          while (k < n && ex[k] != ei) ++k;
          if (k == n) ex[n] = ei, lanes[n++] = 0;
          lanes[k] |= 1u << i;
        }
      }
      if (hi < lo) lo = emin, hi = emax;
      lo = std::min(lo, emin);
      hi = std::max(hi, emax);
      for (int k = 0; k < n; ++k)
        for (int64_t w = 0; w < words_per_block; ++w)
          raw.push_back({ex[k], unit / 4 + w, lanes[k] * kUnitRepeat});
    }
  }
  l.words = static_cast<int64_t>(l.blocks.size()) * words_per_block;
  if (hi < lo) return;
  // Entries grouped by exponent (counting sort).
  thread_local std::vector<int64_t> start;
  start.assign(static_cast<std::size_t>(hi - lo + 2), 0);
  for (const auto& r : raw) ++start[static_cast<std::size_t>(r.exponent - lo + 1)];
  for (std::size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  l.entries.resize(raw.size());
  for (int x = lo; x <= hi; ++x) {
    const auto begin = start[static_cast<std::size_t>(x - lo)];
    const auto end = start[static_cast<std::size_t>(x - lo + 1)];
    if (end > begin) l.groups.push_back({begin, end, std::ldexp(1.0, x)});
  }
  for (const auto& r : raw) l.entries[static_cast<std::size_t>(start[static_cast<std::size_t>(r.exponent - lo)]++)] = {r.word, r.mask};
}

int64_t padded(int64_t k) { return (k + kColBlock - 1) / kColBlock * kColBlock; }

// The lanes of a block of consecutive products of one sample whose values are consecutive
// along an output row (columns, direct convolutions: the `positions` layout), filled per run
// of lanes instead of lane by lane (per block, the generic loop below cost as much as encoding
// a convolution's delta side). Returns false, touching nothing, for any other block.
bool consecutive_lanes(const Side& s, const Layout& l, const Layout::Block& blk, int64_t BL,
                       float* factor, int32_t* off, int32_t* toff, BlockIn& in) {
  const int64_t n = blk.count, p0 = l.product[blk.first];
  const int64_t pos = p0 % s.v.L;
  if (s.v.sl != 1 || l.product[blk.first + n - 1] != p0 + n - 1 || pos + n > s.v.L) return false;
  std::memcpy(factor, s.factor + p0, sizeof(float) * static_cast<std::size_t>(n));
  std::fill(factor + n, factor + kLanes, 0.0f);
  for (int64_t i = 0; i < kLanes; ++i)
    toff[i] = static_cast<int32_t>(s.shared ? 0 : (p0 + std::min(i, n - 1)) * BL);
  // Runs: up to the end of each output row (columns: one row of L positions).
  const int64_t row = s.v.W ? s.v.W : s.v.L;
  int64_t col = pos % row, o = s.v.offset(p0);
  for (int64_t i = 0; i < n;) {
    const int64_t len = std::min(n - i, row - col);
    if (in.nseg < kMaxSegments) {
      in.seg_base[in.nseg] = o - i;
      in.seg_mask[in.nseg] = ((1u << len) - 1u) << i;
    }
    ++in.nseg;
    for (int64_t j = 0; j < len; ++j) off[i + j] = static_cast<int32_t>(o + j);
    i += len;
    o += len + (s.v.W ? s.v.sw - s.v.W : 0);  // the next row's first position
    col = 0;
  }
  for (int64_t i = n; i < kLanes; ++i) off[i] = off[n - 1];
  if (in.nseg > kMaxSegments) in.nseg = 0;  // a gather
  return true;
}

// One side's words [W][Kp] (Kp >= K: the x side's padding to whole vectors of columns; its
// padding elements hold stale bits, whose counts land in columns of the sums never read).
void pack(const Side& s, const Layout& l, int64_t BL, int64_t Kp, EncodeFn encode,
          Packed& out) {
  const int64_t K = s.v.K, nb = static_cast<int64_t>(l.blocks.size());
  const auto n = static_cast<std::size_t>(l.words * Kp * 4);
  // Zero only what no block writes and counting reads: units between blocks (a group or
  // block starts on a fresh word). A full assign of ~1 MiB per side and chunk cost as much as
  // the encoding.
  out.bits.resize(n);
  out.sign.resize(n);
  {
    auto zero_units = [&](int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        for (int64_t k = 0; k < K; ++k) {
          const auto at = static_cast<std::size_t>((u / 4) * Kp * 4 + u % 4 + 4 * k);
          out.bits[at] = out.sign[at] = 0;
        }
      }
    };
    int64_t unit = 0;  // first unit not yet written or zeroed
    for (const auto& blk : l.blocks) {
      zero_units(unit, blk.unit);
      unit = blk.unit + BL;
    }
    zero_units(unit, l.words * 4);
  }
  // Encoding, block by block, reading each block's values and thresholds in place (vector
  // loads where the block's products are consecutive in memory, gathers otherwise).
  std::vector<int64_t> koff(static_cast<std::size_t>(K));
  for (int64_t k = 0; k < K; ++k) koff[k] = s.v.element(k);
  std::atomic<bool> negative{false};
  at::parallel_for(0, nb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<int64_t> uoff(static_cast<std::size_t>(BL));
    int32_t off[kLanes], toff[kLanes];
    float factor[kLanes];
    bool neg_here = false;
    for (int64_t bi = b0; bi < b1; ++bi) {
      const auto& blk = l.blocks[bi];
      for (int64_t b = 0; b < BL; ++b) {
        const int64_t u = blk.unit + b;
        uoff[b] = (u / 4) * Kp * 4 + u % 4;
      }
      BlockIn in{s.v.v, K, koff.data(), off, blk.count, 0, {}, {}, factor, s.thr, toff, !s.shared};
      if (consecutive_lanes(s, l, blk, BL, factor, off, toff, in)) {
        neg_here |= encode(in, BL, uoff.data(), out.bits.data(), out.sign.data());
        continue;
      }
      int64_t prev = -2, pos = 0, col = 0, o = 0;  // the last lane's product and where it is
      for (int64_t i = 0; i < kLanes; ++i) {
        const int64_t p = l.product[blk.first + std::min(i, blk.count - 1)];
        factor[i] = i < blk.count ? s.factor[p] : 0.0f;
        // The next product of the same sample is one step further (a row stride at the end
        // of an output row): no division per lane (two per lane cost as much as encoding).
        if (p == prev + 1 && pos + 1 < s.v.L) {
          ++pos;
          if (s.v.W && ++col == s.v.W) {
            col = 0;
            o += s.v.sw - (s.v.W - 1) * s.v.sl;
          } else {
            o += s.v.sl;
          }
        } else if (p != prev) {
          pos = p % s.v.L;
          col = s.v.W ? pos % s.v.W : 0;
          o = s.v.offset(p);
        }
        prev = p;
        off[i] = static_cast<int32_t>(o);
        toff[i] = static_cast<int32_t>(s.shared ? 0 : p * BL);
        if (i > 0 && i < blk.count) in.thr_rows = in.thr_rows && toff[i] == toff[i - 1] + BL;
        if (i >= blk.count || in.nseg > kMaxSegments) continue;
        if (i == 0 || off[i] != off[i - 1] + 1) {  // a new run of consecutive offsets
          if (in.nseg < kMaxSegments) in.seg_base[in.nseg] = off[i] - i, in.seg_mask[in.nseg] = 0;
          ++in.nseg;
        }
        if (in.nseg <= kMaxSegments) in.seg_mask[in.nseg - 1] |= 1u << i;
      }
      if (in.nseg > kMaxSegments) in.nseg = 0;  // scattered lanes: a gather
      neg_here |= encode(in, BL, uoff.data(), out.bits.data(), out.sign.data());
    }
    if (neg_here) negative = true;
  });
  out.any_negative = negative;
}

}  // namespace

Impl portable_impl() { return {encode_portable, count_portable}; }

void gather_block(const BlockIn& in, int64_t BL, float* tile, float* rt) {
  for (int64_t k = 0; k < in.K; ++k)
    for (int l = 0; l < kLanes; ++l) tile[k * kLanes + l] = in.v[in.off[l] + in.koff[k]] * in.factor[l];
  for (int64_t b = 0; b < BL; ++b)
    for (int l = 0; l < kLanes; ++l) rt[b * kLanes + l] = in.thr[in.toff[l] + b];
}

namespace {
// |x| as the bits of a float: for non-negative floats the unsigned order of the bits is the
// order of the values, and inf and NaN sort above every finite value (so a max keeps them).
inline uint32_t abs_bits(const float* p) {
  uint32_t u;
  std::memcpy(&u, p, sizeof u);
  return u & 0x7fffffffu;
}
}  // namespace

NC_ESSOP_VECTOR_CLONES bool max_abs_bits(const Operand& v, int64_t P, uint32_t* mb,
                                         uint32_t& all) {
  // An integer max (a float max with a NaN test did not vectorise: the test was a serial sum).
  all = 0;
  if (v.W && v.sl == 1) {
    // Direct convolution: the maxima over the "wide" grid of Wp positions per output row
    // (the last Wp - W of each row are not products and dropped), one long contiguous run
    // per element (runs of one output row, W positions, vectorised poorly: they cost more
    // than encoding for LeNet's conv2).
    const int64_t rows = v.L / v.W, span = (rows - 1) * v.sw + v.W;
    thread_local std::vector<uint32_t> wide;
    wide.resize(static_cast<std::size_t>(span));
    for (int64_t p0 = 0; p0 < P; p0 += v.L) {
      const float* base = v.v + (p0 / v.L) * v.sb;
      uint32_t* w = wide.data();
      std::fill_n(w, span, 0u);
      for (int64_t k = 0; k < v.K; ++k) {
        const float* row = base + v.element(k);
        for (int64_t q = 0; q < span; ++q) w[q] = std::max(w[q], abs_bits(row + q));
      }
      for (int64_t y = 0; y < rows; ++y) std::copy_n(w + y * v.sw, v.W, mb + p0 + y * v.W);
    }
  } else if (v.sl == 1) {  // columns: consecutive products are consecutive floats
    for (int64_t p0 = 0; p0 < P; p0 += v.L) {
      const int64_t n = std::min(v.L, P - p0);
      uint32_t* m = mb + p0;
      std::fill_n(m, n, 0u);
      const float* base = v.v + (p0 / v.L) * v.sb;
      for (int64_t k = 0; k < v.K; ++k) {
        const float* row = base + v.element(k);
        for (int64_t i = 0; i < n; ++i) m[i] = std::max(m[i], abs_bits(row + i));
      }
    }
  } else {  // rows: a max over each row of K consecutive floats, 8 partial maxima
    for (int64_t p = 0; p < P; ++p) {
      const float* row = v.v + v.offset(p);
      uint32_t part[8] = {};
      int64_t k = 0;
      for (; k + 8 <= v.K; k += 8)
        for (int i = 0; i < 8; ++i) part[i] = std::max(part[i], abs_bits(row + k + i));
      for (; k < v.K; ++k) part[0] = std::max(part[0], abs_bits(row + k));
      uint32_t m = 0;
      for (uint32_t q : part) m = std::max(m, q);
      mb[p] = m;
    }
  }
  uint32_t top = 0;  // a local: the compiler vectorises the reduction
  for (int64_t p = 0; p < P; ++p) top = std::max(top, mb[p]);
  all = top;
  return top < 0x7f800000u;  // below the bits of inf
}

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
  // Columns (x) padded to whole vectors; rows (delta) read one by one, unpadded.
  const int64_t N = x.v.K, M = d.v.K, Mp = M;
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
  // The encoders address values and thresholds with 32-bit offsets (vector gathers).
  for (const Side* s : {&x, &d}) {
    const int64_t last = s->v.offset(P - 1) + s->v.element(s->v.K - 1);
    if (last >= (int64_t{1} << 31) || P * BL >= (int64_t{1} << 31)) {
      throw InternalError(fmt::format("essop: an operand spans {} values, {} stream numbers; "
                                      "at most 2^31 each (split the call)", last + 1, P * BL));
    }
  }
  // Chunks of products small enough that both packed sides (bits + signs, about 1 MiB) and
  // the values and thresholds they read (about 256 KiB, at least 512 products) stay in
  // cache; whole blocks of 16.
  const int64_t budget_words = 65536, tile_bytes = 1 << 18;
  const int64_t by_bits = budget_words * 64 / (BL * (Np + Mp));
  const int64_t by_tiles = std::max<int64_t>(512, tile_bytes / (4 * (N + M + 2 * BL)));
  int64_t chunk = std::max<int64_t>(kLanes, std::min(by_bits, by_tiles) / kLanes * kLanes);
  // Columns with at least a block of positions per sample: blocks of consecutive positions
  // (chunks of whole samples); otherwise blocks of products sorted by exponent.
  const int64_t L = x.v.L;
  const bool positions = x.v.sl == 1 && d.v.sl == 1 && L >= kLanes;
  if (positions) chunk = std::max<int64_t>(1, chunk / L) * L;
  for (int64_t p0 = 0; p0 < P; p0 += chunk) {
    const int64_t p1 = std::min(P, p0 + chunk);
    thread_local Layout l;  // its vectors reused from chunk to chunk
    if (positions) {
      make_layout_positions(p0, p1, L, e, skip, BL, l);
    } else {
      l = make_layout_sorted(p0, p1, e, skip, BL);
    }
    if (l.entries.empty()) continue;
    pack(x, l, BL, Np, impl.encode, A);
    pack(d, l, BL, Mp, impl.encode, B);
    const auto entries = static_cast<int64_t>(l.entries.size());
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, Np * entries));
    at::parallel_for(0, M, grain, [&](int64_t i0, int64_t i1) {
      impl.count(A.bits.data(), A.sign.data(), B.bits.data(), B.sign.data(), l.entries.data(),
                 l.groups.data(), static_cast<int64_t>(l.groups.size()), Np, Mp,
                 A.any_negative, i0, i1, pacc);
    });
  }
  return pacc;
}

}  // namespace essop_detail
}  // namespace nc::learn
