#pragma once
// Internal interface of the ESSOP bit-parallel kernel (src/learn/essop_kernel*.cpp), shared by
// the portable implementation and the x86 SIMD ones (runtime dispatch, never -march).
//
// Layout of one chunk of outer products (docs/essop.md, "Kernel"). Products are sorted by
// their combined exponent e_p; each group of equal exponents starts on a fresh 64-bit word and
// is cut into blocks of 16 products. A block contributes BL 16-bit units, unit b holding bit k
// of the 16 products' streams (lane l = the l-th product of the block): the contraction
// dimension (product, stream bit) is laid out bit-plane by bit-plane, 16 products at a time,
// so that encoding is one 16-lane compare of 16 values against 16 thresholds per unit.
// Four units make a word; a side with K elements is stored word-major, words[w * Kp + k]
// (Kp = K rounded up to a multiple of 32, padding zero), so that the counting loop reads 8 or
// 4 consecutive elements' words with one vector load.
#include <cstdint>
#include <vector>

#include "neurocore/learn/essop.h"

namespace nc::learn::essop_detail {

constexpr int64_t kLanes = 16;     // products per block (one 16-bit unit per stream bit)
constexpr int64_t kColBlock = 32;  // element padding (Kp), a multiple of every vector width

struct Group {
  int64_t word_begin, word_end;
  double scale;  // 2^e of the group
};

// One side of a chunk, encoded: bits and sign planes, [W][Kp] words as uint16 units.
struct Packed {
  std::vector<uint16_t> bits, sign;
  bool any_negative = false;
};

// Inputs of one side: values v [P, K] row-major, the per-product factor 2^-e applied before
// the compare (1 for the unscaled counts), thresholds [S, BL] (S = P, or 1 when shared).
struct Side {
  const float* v;
  int64_t K;
  const float* factor;
  const float* thr;
  bool shared;
};

// Encodes a block for every element: tile [K][16] signed values (padding lanes 0), rt [BL][16]
// thresholds; unit (k, b) goes to dst[off[b] + 4 k], its sign unit (all BL units of an element
// share it) to sdst likewise. Returns whether any value was negative. One implementation per
// instruction set; all equal bit for bit (a value's bit is |v| > r, a float compare).
using EncodeFn = bool (*)(const float* tile, const float* rt, int64_t K, int64_t BL,
                          const int64_t* off, uint16_t* dst, uint16_t* sdst);
// acc[i, j] (row stride Np) += sum over groups of scale_g * (signed count of group g), for
// rows i in [i0, i1); A, SA [W][Np], B, SB [W][Mp] as uint16 units (read as 64-bit words).
using CountFn = void (*)(const uint16_t* A, const uint16_t* SA, const uint16_t* B,
                         const uint16_t* SB, const Group* groups, int64_t n_groups, int64_t Np,
                         int64_t Mp, bool x_signed, int64_t i0, int64_t i1, double* acc);

struct Impl {
  EncodeFn encode;
  CountFn count;
};

Impl portable_impl();

/// The kernel on one call: x side [P, N], delta side [P, M], combined exponents e (groups) and
/// skipped (all-zero) products -> sums [M][Np] (row stride Np, returned) of
/// 2^e_p sign * count_p, in a workspace of the calling thread that the next call reuses
/// (reused buffers: no page faults from fresh large allocations on every layer and step).
const double* kernel_counts(const Side& x, const Side& d, int64_t P, int64_t BL,
                            const std::vector<int>& e, const std::vector<char>& skip,
                            EssopKernel kernel, int64_t& Np);
#if defined(__x86_64__) && defined(__GNUC__)
Impl avx2_impl();
Impl avx512_impl();
#endif

}  // namespace nc::learn::essop_detail
