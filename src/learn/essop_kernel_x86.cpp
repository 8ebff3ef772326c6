// ESSOP kernel for x86-64 with AVX2 and with AVX-512 (VPOPCNTDQ), chosen at run time
// (essop_kernel_supported); each function carries its own target attribute, so the library
// is built for plain x86-64 and runs everywhere (src/learn/essop_kernel.h).
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "essop_kernel.h"

namespace nc::learn::essop_detail {
namespace {

inline uint64_t word_at(const uint16_t* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// ---------------------------------------------------------------------------------------
// AVX-512: one 16-lane compare per unit (a mask register is the unit); counting 8 elements'
// words at once with VPOPCNTQ, 32 columns per pass.

#define NC_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq")))

// A 16-lane gather of base[idx[l]]; the masked form with a zero source (GCC 12 warns that the
// unmasked intrinsic's pass-through register may be uninitialised).
NC_AVX512 inline __m512 gather16(const float* base, __m512i idx) {
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xffff, idx, base, 4);
}

// rt[b][l] = t[l BL + b] for BL 4 or 8, in registers (the scalar transpose, 16 BL loads and
// stores per block and side, cost as much as encoding a convolution's delta side). t holds
// count * BL valid floats (masked loads: a partial block at the end of the streams).
NC_AVX512 inline __m512 load_valid(const float* t, int64_t r, int64_t n) {
  const int64_t left = std::max<int64_t>(0, std::min<int64_t>(16, n - 16 * r));
  const auto mask = static_cast<__mmask16>(left >= 16 ? 0xffffu : (1u << left) - 1u);
  return _mm512_maskz_loadu_ps(mask, t + 16 * r);
}

// Lanes 0-7 of a, then lanes 0-7 of b (the masked form: GCC 12 warns that the unmasked
// intrinsic's pass-through register may be uninitialised).
NC_AVX512 inline __m512 join_halves(__m512 a, __m512 b) {
  return _mm512_maskz_shuffle_f32x4(0xffff, a, b, _MM_SHUFFLE(1, 0, 1, 0));
}

NC_AVX512 void transpose_thresholds(const float* t, int64_t count, int64_t BL, float* rt) {
  const int64_t n = count * BL;
  if (BL == 4) {
    // Lanes 0-7 from registers 0-1, lanes 8-15 from 2-3: index 4 l + b of a register pair.
    __m512 z[4];
    for (int r = 0; r < 4; ++r) z[r] = load_valid(t, r, n);
    for (int b = 0; b < 4; ++b) {
      const __m512i idx = _mm512_add_epi32(
          _mm512_mullo_epi32(_mm512_and_si512(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi32(7)), _mm512_set1_epi32(4)),
          _mm512_set1_epi32(b));
      const __m512 lo = _mm512_permutex2var_ps(z[0], idx, z[1]);
      const __m512 hi = _mm512_permutex2var_ps(z[2], idx, z[3]);
      _mm512_store_ps(rt + 16 * b, join_halves(lo, hi));
    }
    return;
  }
  // BL 8: register pair q (lanes 4q..4q+3) regrouped as y[q][h] = 4 rows b = 4h..4h+3 of
  // 4 lanes each (lane 4 b' + l' = t[32 q + 8 l' + 4 h + b']), then row b = lanes 4b'..4b'+3
  // of y[0..3][h] side by side.
  __m512 z[8];
  for (int r = 0; r < 8; ++r) z[r] = load_valid(t, r, n);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i l4 = _mm512_and_si512(lane, _mm512_set1_epi32(3));   // l'
  const __m512i b4 = _mm512_srli_epi32(lane, 2);                      // b'
  const __m512i base = _mm512_add_epi32(_mm512_slli_epi32(l4, 3), b4);  // 8 l' + b'
  __m512 y[4][2];
  for (int q = 0; q < 4; ++q) {
    for (int h = 0; h < 2; ++h) {
      y[q][h] = _mm512_permutex2var_ps(z[2 * q], _mm512_add_epi32(base, _mm512_set1_epi32(4 * h)),
                                       z[2 * q + 1]);
    }
  }
  // From a pair (y0, y1): lanes 0-3 = y0[4b'..], lanes 4-7 = y1[4b'..] (index 16 + ...).
  const __m512i hi_half = _mm512_srli_epi32(lane, 2);  // 0 for lanes 0-3, 1 for 4-7, ...
  for (int b = 0; b < 8; ++b) {
    const int h = b / 4, bb = b % 4;
    const __m512i idx = _mm512_add_epi32(_mm512_add_epi32(l4, _mm512_set1_epi32(4 * bb)),
                                         _mm512_slli_epi32(_mm512_and_si512(hi_half, _mm512_set1_epi32(1)), 4));
    const __m512 u01 = _mm512_permutex2var_ps(y[0][h], idx, y[1][h]);
    const __m512 u23 = _mm512_permutex2var_ps(y[2][h], idx, y[3][h]);
    _mm512_store_ps(rt + 16 * b, join_halves(u01, u23));
  }
}

// The element loop at BL 4 or 8 (NW = BL / 4 whole words per element), for blocks whose
// lanes are S = 1 or 2 runs of consecutive values (columns, direct convolutions): the
// thresholds stay in registers, the loads are known at compile time, and a word's four
// 16-lane masks are joined in mask registers (one move to memory).
template <int NW, int S>
NC_AVX512 __mmask16 encode_words(const BlockIn& in, const float* rt, const int64_t* uoff,
                                 uint16_t* dst, uint16_t* sdst) {
  __m512 r[4 * NW];
  for (int b = 0; b < 4 * NW; ++b) r[b] = _mm512_load_ps(rt + b * kLanes);
  const __m512 factor = _mm512_loadu_ps(in.factor);
  const auto m0 = static_cast<__mmask16>(in.seg_mask[0]);
  const auto m1 = static_cast<__mmask16>(S > 1 ? in.seg_mask[1] : 0);
  const int64_t base0 = in.seg_base[0], base1 = S > 1 ? in.seg_base[1] : 0;
  __mmask16 any = 0;
  for (int64_t k = 0; k < in.K; ++k) {
    const float* src = in.v + in.koff[k];
    _mm_prefetch(reinterpret_cast<const char*>(src + in.off[0] + 4 * kLanes), _MM_HINT_T0);
    __m512 raw = _mm512_maskz_loadu_ps(m0, src + base0);
    if (S > 1) raw = _mm512_mask_loadu_ps(raw, m1, src + base1);
    const __m512 v = _mm512_mul_ps(raw, factor);
    const __mmask16 sign = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 a = _mm512_abs_ps(v);
    const uint64_t sign4 = static_cast<uint64_t>(sign) * 0x0001000100010001ULL;
    for (int w = 0; w < NW; ++w) {
      const __mmask16 c0 = _mm512_cmp_ps_mask(a, r[4 * w], _CMP_GT_OQ);
      const __mmask16 c1 = _mm512_cmp_ps_mask(a, r[4 * w + 1], _CMP_GT_OQ);
      const __mmask16 c2 = _mm512_cmp_ps_mask(a, r[4 * w + 2], _CMP_GT_OQ);
      const __mmask16 c3 = _mm512_cmp_ps_mask(a, r[4 * w + 3], _CMP_GT_OQ);
      const uint64_t word = _cvtmask64_u64(
          _mm512_kunpackd(_mm512_kunpackw(c3, c2), _mm512_kunpackw(c1, c0)));
      std::memcpy(dst + uoff[4 * w] + 4 * k, &word, sizeof word);
      std::memcpy(sdst + uoff[4 * w] + 4 * k, &sign4, sizeof sign4);
    }
    any |= sign;
  }
  return any;
}

NC_AVX512 bool encode_avx512(const BlockIn& in, int64_t BL, const int64_t* uoff, uint16_t* dst,
                             uint16_t* sdst) {
  // Thresholds of the block, [BL][16], transposed from the products' [P, BL] stream rows by
  // scalar copies (vector gathers are slower on the CPUs measured).
  constexpr int64_t kMaxBits = 1024;
  alignas(64) float rt[kMaxBits * kLanes];
  if (in.thr_rows && (BL == 4 || BL == 8)) {
    // The streams of a layer are megabytes, read once, block after block: fetch the
    // thresholds of the block 4 blocks ahead (BL cache lines) now.
    const char* ahead = reinterpret_cast<const char*>(in.thr + in.toff[0] + 4 * kLanes * BL);
    for (int64_t c = 0; c < BL; ++c) _mm_prefetch(ahead + 64 * c, _MM_HINT_T0);
    transpose_thresholds(in.thr + in.toff[0], in.count, BL, rt);
  } else {
    for (int l = 0; l < kLanes; ++l) {
      const float* t = in.thr + in.toff[l];
      for (int64_t b = 0; b < BL; ++b) rt[b * kLanes + l] = t[b];
    }
  }
  const bool word_aligned = uoff[0] % 4 == 0;  // unit 0 of the block is unit 0 of a word
  if (word_aligned && (in.nseg == 1 || in.nseg == 2) && (BL == 4 || BL == 8)) {
    __mmask16 any;
    if (BL == 4) {
      any = in.nseg == 1 ? encode_words<1, 1>(in, rt, uoff, dst, sdst)
                         : encode_words<1, 2>(in, rt, uoff, dst, sdst);
    } else {
      any = in.nseg == 1 ? encode_words<2, 1>(in, rt, uoff, dst, sdst)
                         : encode_words<2, 2>(in, rt, uoff, dst, sdst);
    }
    return any != 0;
  }
  const __m512i off = _mm512_loadu_si512(in.off);
  const __m512 factor = _mm512_loadu_ps(in.factor);
  __mmask16 any = 0;
  for (int64_t k = 0; k < in.K; ++k) {
    const float* src = in.v + in.koff[k];
    // The block's K rows are K streams with a large stride, which the hardware prefetcher
    // does not follow: fetch the rows of the block 4 blocks ahead (the same sample) now.
    if (in.nseg) _mm_prefetch(reinterpret_cast<const char*>(src + in.off[0] + 4 * kLanes), _MM_HINT_T0);
    // One masked load per run of consecutive lanes (a masked-off lane reads nothing, so a
    // run's base may lie before the buffer); padding lanes read nothing or a valid lane's
    // value, and factor 0 clears them.
    __m512 raw;
    if (in.nseg) {
      raw = _mm512_maskz_loadu_ps(static_cast<__mmask16>(in.seg_mask[0]), src + in.seg_base[0]);
      for (int s = 1; s < in.nseg; ++s)
        raw = _mm512_mask_loadu_ps(raw, static_cast<__mmask16>(in.seg_mask[s]), src + in.seg_base[s]);
    } else {
      raw = gather16(src, off);
    }
    const __m512 v = _mm512_mul_ps(raw, factor);
    const __mmask16 sign = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 a = _mm512_abs_ps(v);
    int64_t b = 0;
    // Four units that fill one 64-bit word (the block starts on a word boundary): one store.
    const uint64_t sign4 = static_cast<uint64_t>(sign) * 0x0001000100010001ULL;
    for (; word_aligned && b + 4 <= BL; b += 4) {
      uint64_t w = 0;
      for (int u = 0; u < 4; ++u) {
        const __mmask16 m =
            _mm512_cmp_ps_mask(a, _mm512_load_ps(rt + (b + u) * kLanes), _CMP_GT_OQ);
        w |= static_cast<uint64_t>(m) << (16 * u);
      }
      std::memcpy(dst + uoff[b] + 4 * k, &w, sizeof w);
      std::memcpy(sdst + uoff[b] + 4 * k, &sign4, sizeof sign4);
    }
    for (; b < BL; ++b) {
      const __mmask16 m = _mm512_cmp_ps_mask(a, _mm512_load_ps(rt + b * kLanes), _CMP_GT_OQ);
      dst[uoff[b] + 4 * k] = static_cast<uint16_t>(m);
      sdst[uoff[b] + 4 * k] = static_cast<uint16_t>(sign);
    }
    any |= sign;
  }
  return any != 0;
}

template <bool XSigned>
NC_AVX512 void count_avx512_t(const uint16_t* A, const uint16_t* SA, const uint16_t* B,
                              const uint16_t* SB, const Entry* entries, const Group* groups,
                              int64_t n_groups, int64_t Np, int64_t Mp, int64_t i0, int64_t i1,
                              double* acc) {
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j0 = 0; j0 < Np; j0 += kColBlock) {
      double* out = acc + i * Np + j0;
      __m512d o[4];
      for (int v = 0; v < 4; ++v) o[v] = _mm512_loadu_pd(out + 8 * v);
      for (int64_t g = 0; g < n_groups; ++g) {
        __m512i pos[4], neg[4];
        for (int v = 0; v < 4; ++v) pos[v] = neg[v] = _mm512_setzero_si512();
        for (int64_t en = groups[g].entry_begin; en < groups[g].entry_end; ++en) {
          const int64_t w = entries[en].word;
          const __m512i b = _mm512_set1_epi64(
              static_cast<long long>(word_at(B + 4 * (w * Mp + i)) & entries[en].mask));
          const __m512i sb = _mm512_set1_epi64(static_cast<long long>(word_at(SB + 4 * (w * Mp + i))));
          const uint16_t* a = A + 4 * (w * Np + j0);
          const uint16_t* sa = SA + 4 * (w * Np + j0);
          for (int v = 0; v < 4; ++v) {
            const __m512i t = _mm512_and_si512(_mm512_loadu_si512(a + 32 * v), b);
            const __m512i s =
                XSigned ? _mm512_xor_si512(_mm512_loadu_si512(sa + 32 * v), sb) : sb;
            pos[v] = _mm512_add_epi64(pos[v], _mm512_popcnt_epi64(t));
            neg[v] = _mm512_add_epi64(neg[v], _mm512_popcnt_epi64(_mm512_and_si512(t, s)));
          }
        }
        const __m512d scale = _mm512_set1_pd(groups[g].scale);
        for (int v = 0; v < 4; ++v) {
          const __m512i c = _mm512_sub_epi64(pos[v], _mm512_add_epi64(neg[v], neg[v]));
          // Exact: an integer times 2^e (no rounding), then one add as in the reference.
          o[v] = _mm512_add_pd(o[v], _mm512_mul_pd(_mm512_cvtepi64_pd(c), scale));
        }
      }
      for (int v = 0; v < 4; ++v) _mm512_storeu_pd(out + 8 * v, o[v]);
    }
  }
}

void count_avx512(const uint16_t* A, const uint16_t* SA, const uint16_t* B, const uint16_t* SB,
                  const Entry* entries, const Group* groups, int64_t n_groups, int64_t Np,
                  int64_t Mp, bool x_signed, int64_t i0, int64_t i1, double* acc) {
  (x_signed ? count_avx512_t<true> : count_avx512_t<false>)(A, SA, B, SB, entries, groups,
                                                            n_groups, Np, Mp, i0, i1, acc);
}

// ---------------------------------------------------------------------------------------
// AVX2: two 8-lane compares per unit; counting 4 elements' words at once, popcount by nibble
// table lookup (vpshufb) into byte counters, summed to 64 bits (vpsadbw) every 31 words
// (a byte counter gains at most 8 per word: 31 * 8 < 256).

#define NC_AVX2 __attribute__((target("avx2,popcnt")))

NC_AVX2 bool encode_avx2(const BlockIn& in, int64_t BL, const int64_t* uoff, uint16_t* dst,
                         uint16_t* sdst) {
  thread_local std::vector<float> tiles, rts;
  tiles.resize(static_cast<std::size_t>(in.K * kLanes));
  rts.resize(static_cast<std::size_t>(BL * kLanes));
  gather_block(in, BL, tiles.data(), rts.data());
  const float* tile = tiles.data();
  const float* rt = rts.data();
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 zero = _mm256_setzero_ps();
  bool any = false;
  for (int64_t k = 0; k < in.K; ++k) {
    const __m256 lo = _mm256_loadu_ps(tile + k * kLanes);
    const __m256 hi = _mm256_loadu_ps(tile + k * kLanes + 8);
    const unsigned sign = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(lo, zero, _CMP_LT_OQ))) |
                          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(hi, zero, _CMP_LT_OQ))) << 8;
    const __m256 alo = _mm256_and_ps(lo, absmask), ahi = _mm256_and_ps(hi, absmask);
    for (int64_t b = 0; b < BL; ++b) {
      const float* r = rt + b * kLanes;
      const unsigned m =
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(alo, _mm256_loadu_ps(r), _CMP_GT_OQ))) |
          static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(ahi, _mm256_loadu_ps(r + 8), _CMP_GT_OQ))) << 8;
      dst[uoff[b] + 4 * k] = static_cast<uint16_t>(m);
      sdst[uoff[b] + 4 * k] = static_cast<uint16_t>(sign);
    }
    any |= sign != 0;
  }
  return any;
}

NC_AVX2 inline __m256i popcount8(__m256i v, __m256i lut, __m256i low) {
  const __m256i lo = _mm256_and_si256(v, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

// 0 <= v < 2^52 as double, exactly (the 2^52 exponent trick; AVX2 has no int64 -> double).
NC_AVX2 inline __m256d to_double(__m256i v) {
  const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
  return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic)),
                       _mm256_castsi256_pd(magic));
}

template <bool XSigned>
NC_AVX2 void count_avx2_t(const uint16_t* A, const uint16_t* SA, const uint16_t* B,
                          const uint16_t* SB, const Entry* entries, const Group* groups,
                          int64_t n_groups, int64_t Np, int64_t Mp, int64_t i0, int64_t i1,
                          double* acc) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                       2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();
  constexpr int V = 2;  // vectors of 4 columns per pass
  for (int64_t i = i0; i < i1; ++i) {
    for (int64_t j0 = 0; j0 < Np; j0 += 4 * V) {
      double* out = acc + i * Np + j0;
      __m256d o[V];
      for (int v = 0; v < V; ++v) o[v] = _mm256_loadu_pd(out + 4 * v);
      for (int64_t g = 0; g < n_groups; ++g) {
        __m256i pos[V], neg[V];
        for (int v = 0; v < V; ++v) pos[v] = neg[v] = zero;
        for (int64_t e0 = groups[g].entry_begin; e0 < groups[g].entry_end; e0 += 31) {
          const int64_t e1 = std::min<int64_t>(groups[g].entry_end, e0 + 31);
          __m256i p8[V], n8[V];
          for (int v = 0; v < V; ++v) p8[v] = n8[v] = zero;
          for (int64_t en = e0; en < e1; ++en) {
            const int64_t w = entries[en].word;
            const __m256i b = _mm256_set1_epi64x(
                static_cast<long long>(word_at(B + 4 * (w * Mp + i)) & entries[en].mask));
            const __m256i sb = _mm256_set1_epi64x(static_cast<long long>(word_at(SB + 4 * (w * Mp + i))));
            const uint16_t* a = A + 4 * (w * Np + j0);
            const uint16_t* sa = SA + 4 * (w * Np + j0);
            for (int v = 0; v < V; ++v) {
              const __m256i t = _mm256_and_si256(
                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 16 * v)), b);
              const __m256i s =
                  XSigned ? _mm256_xor_si256(
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sa + 16 * v)), sb)
                          : sb;
              p8[v] = _mm256_add_epi8(p8[v], popcount8(t, lut, low));
              n8[v] = _mm256_add_epi8(n8[v], popcount8(_mm256_and_si256(t, s), lut, low));
            }
          }
          for (int v = 0; v < V; ++v) {
            pos[v] = _mm256_add_epi64(pos[v], _mm256_sad_epu8(p8[v], zero));
            neg[v] = _mm256_add_epi64(neg[v], _mm256_sad_epu8(n8[v], zero));
          }
        }
        const __m256d scale = _mm256_set1_pd(groups[g].scale);
        for (int v = 0; v < V; ++v) {
          const __m256d c = _mm256_sub_pd(to_double(pos[v]),
                                          _mm256_add_pd(to_double(neg[v]), to_double(neg[v])));
          o[v] = _mm256_add_pd(o[v], _mm256_mul_pd(c, scale));
        }
      }
      for (int v = 0; v < V; ++v) _mm256_storeu_pd(out + 4 * v, o[v]);
    }
  }
}

void count_avx2(const uint16_t* A, const uint16_t* SA, const uint16_t* B, const uint16_t* SB,
                const Entry* entries, const Group* groups, int64_t n_groups, int64_t Np,
                int64_t Mp, bool x_signed, int64_t i0, int64_t i1, double* acc) {
  (x_signed ? count_avx2_t<true> : count_avx2_t<false>)(A, SA, B, SB, entries, groups, n_groups,
                                                        Np, Mp, i0, i1, acc);
}

}  // namespace

Impl avx512_impl() { return {encode_avx512, count_avx512}; }
Impl avx2_impl() { return {encode_avx2, count_avx2}; }

}  // namespace nc::learn::essop_detail
#endif
