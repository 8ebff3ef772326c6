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
// (x side: Kp = K rounded up to a multiple of 32, the padding's bits never counted into a
// column that is read; delta side: Kp = K), so that the counting loop reads 8 or
// 4 consecutive elements' words with one vector load.
#include <cstdint>
#include <vector>

#include "neurocore/learn/essop.h"

// Loops over all products (max |v|, exponents, factors) compiled also for AVX2 and AVX-512
// and chosen at run time (the library is built for plain x86-64, whose SSE2 has no unsigned
// or 32-bit integer max).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NC_ESSOP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NC_ESSOP_VECTOR_CLONES
#endif

namespace nc::learn::essop_detail {

constexpr int64_t kLanes = 16;     // products per block (one 16-bit unit per stream bit)
constexpr int64_t kColBlock = 32;  // element padding (Kp), a multiple of every vector width

// Counting visits, per group of equal exponent, a list of entries: a word of both sides and
// the lanes of it that belong to the group (mask over the word's 4 units of 16 lanes).
// Layout `sorted` (products sorted by exponent): one entry per word, all lanes. Layout
// `positions` (16 consecutive positions of one sample per block, no sort): one entry per
// word and exponent present among the block's lanes.
struct Entry {
  int64_t word;
  uint64_t mask;
};
struct Group {
  int64_t entry_begin, entry_end;
  double scale;  // 2^e of the group
};

// One side of a chunk, encoded: bits and sign planes, [W][Kp] words as uint16 units.
struct Packed {
  std::vector<uint16_t> bits, sign;
  bool any_negative = false;
};

// Where one side's values are, read in place (no transposed copy): product p = b L + l
// (b = p / L, l = p % L) has element k at v[b sb + k sk + l sl]. Rows v [P, K] (Linear):
// L = P, sk = 1, sl = K. Columns v [B, K, L] (im2col output, conv output gradient): sb = K L,
// sk = L, sl = 1, so that 16 consecutive products of one sample are one vector load.
// Direct convolution (stride 1, the zero-padded input [B, C, Hp, Wp] read without im2col):
// position l = y W + x of an output row of W positions starts at v[b sb + y sw + x] (sw = Wp),
// and element k = (c, i, j) of the receptive field is koff[k] = c Hp Wp + i Wp + j further on,
// so that 16 positions of one output row are 16 consecutive input pixels for every element.
struct Operand {
  const float* v;
  int64_t K, L, sb, sk, sl;
  int64_t W = 0, sw = 0;            // positions per row and row stride; W = 0: one row of L
  const int64_t* koff = nullptr;    // element offsets; nullptr: k sk
  int64_t offset(int64_t p) const {
    const int64_t l = p % L;
    return (p / L) * sb + (W ? (l / W) * sw + (l % W) * sl : l * sl);
  }
  int64_t element(int64_t k) const { return koff ? koff[k] : k * sk; }
};

// Inputs of one side: the values, the per-product factor 2^-e applied before the compare (1
// for the unscaled counts), thresholds [S, BL] (S = P, or 1 when shared).
struct Side {
  Operand v;
  const float* factor;
  const float* thr;
  bool shared;
};

// One block of up to 16 products of a side, as the encoder reads it: lane l is the product
// whose element k is at v[off[l] + koff[k]], scaled by factor[l] (0 for padding lanes
// l >= count, which then set no bit; their off and toff repeat a valid lane's), with
// thresholds thr[toff[l] + b] (b < BL). Segments: the lanes l < count as runs of consecutive
// offsets, lanes seg_mask[s] reading v[seg_base[s] + l + koff[k]] (one masked vector load per
// run and element: one run for im2col columns, up to 3 for a direct convolution's rows);
// nseg = 0 when there are more than kMaxSegments runs (a gather).
constexpr int kMaxSegments = 4;
struct BlockIn {
  const float* v;
  int64_t K;
  const int64_t* koff;
  const int32_t* off;
  int64_t count;
  int nseg;
  int64_t seg_base[kMaxSegments];
  uint32_t seg_mask[kMaxSegments];
  const float* factor;
  const float* thr;
  const int32_t* toff;
  bool thr_rows;  // toff[l] = toff[0] + l BL for l < count: the block's thresholds are one
                  // row-major [count][BL] array (fresh streams of consecutive products)
};

// Encodes a block for every element: unit (k, b) goes to dst[uoff[b] + 4 k], its sign unit
// (all BL units of an element share it, written even when zero) to sdst likewise. Returns whether any value was
// negative. One implementation per instruction set; all equal bit for bit (a value's bit is
// |v f| > r, a float compare, as in the reference).
using EncodeFn = bool (*)(const BlockIn& in, int64_t BL, const int64_t* uoff, uint16_t* dst,
                          uint16_t* sdst);
// acc[i, j] (row stride Np) += sum over groups of scale_g * (signed count of group g), for
// rows i in [i0, i1); A, SA [W][Np], B, SB [W][Mp] as uint16 units (read as 64-bit words);
// an entry counts popcount(A_j & B_i & mask) over its word.
using CountFn = void (*)(const uint16_t* A, const uint16_t* SA, const uint16_t* B,
                         const uint16_t* SB, const Entry* entries, const Group* groups,
                         int64_t n_groups, int64_t Np, int64_t Mp, bool x_signed, int64_t i0,
                         int64_t i1, double* acc);

struct Impl {
  EncodeFn encode;
  CountFn count;
};

Impl portable_impl();

// The portable encoder's first step, shared by the AVX2 one: the block as a tile [K][16] of
// scaled values v f and thresholds rt [BL][16].
void gather_block(const BlockIn& in, int64_t BL, float* tile, float* rt);

// Per-product max |v| of a side into mb[0, P), as the bits of the float, and their max into
// `all`; returns false when a value is not finite.
bool max_abs_bits(const Operand& v, int64_t P, uint32_t* mb, uint32_t& all);

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
