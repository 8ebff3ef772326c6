#include "ostl_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

namespace nc::learn::kernels {
namespace {

// Elements of slack after a batch element's coefficients: the extra lanes of a row's last
// block read past them (the widest block is four 64-byte vectors).
constexpr int64_t kSlack = 64;
static_assert(kSlack * sizeof(float) >= 4 * 64, "the slack must cover a block");

template <class T>
struct Chunk {
  T* eps;  // [B, m, n]: input-major, so that a trace row (b, i) goes with one input x_i
  T* g;    // G transposed, [m, n]
  const T* alpha;
  const T* gp;
  const T* x;
  const T* c;
  int64_t steps, B, n, m;
  int64_t x_batch;  // x's stride between batch elements (its steps of one element are adjacent)
  bool fresh;
};

// One step k of `coefficients`, back from the chunk's last step, for every unit j. (Its own
// function so that the pointers are restrict: GCC then vectorises the loop.)
template <class T>
__attribute__((always_inline)) inline void coefficient_step(
    const T* __restrict__ a, const T* __restrict__ g, const T* __restrict__ c, T* __restrict__ d,
    T* __restrict__ f, T* __restrict__ P, T* __restrict__ r, T* __restrict__ a_next, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    r[j] = c[j] + a_next[j] * r[j];
    d[j] = g[j] * P[j];
    f[j] = g[j] * r[j];
    P[j] *= a[j];
    a_next[j] = a[j];
  }
}

// A batch element's held steps as coefficients of a linear map per unit j. With the trace row
// e (of any input) before the chunk and k = 0 .. K-1 its steps, e_k = alpha_k e_{k-1} + gp_k x_k
// unrolls to
//   e_{K-1}      = P e + sum_k d_k x_k,   P = prod_l alpha_l,  d_k = gp_k prod_{l>k} alpha_l
//   sum_k c_k e_k = w e + sum_k f_k x_k,   f_k = gp_k r_k,  r_k = c_k + alpha_{k+1} r_{k+1},
//                                          w = alpha_0 r_0
// The coefficients depend on (b, j) only, so they are computed once per batch element, as
// vectors over j: coef holds, per step k, d_k then f_k (2n), then P and w (n each). They are
// laid out step by step so that the rows a trace row reads are adjacent (the held alpha, gp,
// c are [K, B, n]: one element's steps are 32 KiB apart for the benchmark layer, which puts
// them in one cache set). Returns whether any step of b has a learning signal.
template <class T>
__attribute__((always_inline)) inline bool coefficients(const Chunk<T>& p, int64_t b, T* coef,
                                                        T* a_next) {
  const int64_t BN = p.B * p.n, n = p.n;
  T* P = coef + 2 * p.steps * n;
  T* w = P + n;  // r_k while the loop runs
  for (int64_t j = 0; j < n; ++j) P[j] = T(1), w[j] = T(0), a_next[j] = T(0);
  int signal = 0;
  for (int64_t k = p.steps - 1; k >= 0; --k) {
    const int64_t o = k * BN + b * n;
    const T* c = p.c + o;
    for (int64_t j = 0; j < n; ++j) signal |= c[j] != T(0);
    T* d = coef + 2 * k * n;
    coefficient_step(p.alpha + o, p.gp + o, c, d, d + n, P, w, a_next, n);
  }
  for (int64_t j = 0; j < n; ++j) w[j] *= a_next[j];
  return signal != 0;
}

// GCC's generic vectors of 64 bytes: one AVX-512 register, two AVX2 or four SSE registers, as
// the clone's instruction set allows. Written with them, a block's trace and contraction stay
// in registers across the held steps; as plain arrays GCC kept them on the stack.
template <class T>
struct Vec {
  typedef T type __attribute__((vector_size(64)));
  static constexpr int64_t lanes = 64 / sizeof(T);
};

// Inlined everywhere, so the 64-byte return of the non-AVX-512 clones never crosses a call
// (GCC warns of the ABI change such a call would have).
#pragma GCC diagnostic ignored "-Wpsabi"
template <class T>
__attribute__((always_inline)) inline typename Vec<T>::type load(const T* p) {
  typename Vec<T>::type v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
__attribute__((always_inline)) inline void store(T* p, const typename Vec<T>::type& v) {
  std::memcpy(p, &v, sizeof v);
}

// Asks for the trace row two rows ahead of `row` (rows i and i + 2 of one batch element are
// adjacent in memory), so that it arrives while this row is computed. The pass streams the
// whole trace; without this it stalls on the first loads of each row.
template <class T>
__attribute__((always_inline)) inline void prefetch_row(const T* row, int64_t n, int64_t i,
                                                        int64_t i1) {
  if (i + 2 >= i1) return;
  const T* ahead = row + 2 * n;
  for (int64_t j = 0; j < n; j += 64 / static_cast<int64_t>(sizeof(T))) {
    __builtin_prefetch(ahead + j, 0, 3);
  }
}

// The steps at which the inputs i0 .. i1-1 of one batch element were non-zero. A spike input
// is mostly zeros, and a zero input adds nothing to its trace row or to G, so the pass skips
// those steps. `bits` marks them, one bit per step (64 steps per word, [words, i1 - i0]:
// contiguous in i, so that marking is a vector loop); `take` lists input i's steps with their
// values, one iteration per non-zero step rather than one per step.
template <class T>
struct Active {
  Active(int64_t steps, int64_t i0, int64_t i1)
      : i0(i0), span(i1 - i0), words((steps + 63) / 64), bits(words * span) {}
  int64_t i0, span, words;
  std::vector<uint64_t> bits;

  void mark(const T* x_b, int64_t steps, int64_t m) {
    std::fill(bits.begin(), bits.end(), uint64_t{0});
    for (int64_t s = 0; s < steps; ++s) {
      const T* xs = x_b + s * m + i0;
      uint64_t* w = bits.data() + (s / 64) * span;
      const int sh = static_cast<int>(s % 64);
      for (int64_t i = 0; i < span; ++i) w[i] |= uint64_t{xs[i] != T(0)} << sh;
    }
  }
  // Writes input i's non-zero steps to k and their values to x; returns how many.
  int64_t take(const T* x_b, int64_t i, int64_t m, int64_t* k, T* x) const {
    int64_t count = 0;
    for (int64_t w = 0; w < words; ++w) {
      for (uint64_t u = bits[w * span + i - i0]; u != 0; u &= u - 1) {
        const int64_t s = w * 64 + __builtin_ctzll(u);
        k[count] = s;
        x[count++] = x_b[s * m + i];
      }
    }
    return count;
  }
};

// R trace rows (b, i) through every step of the chunk, one block of each: NV vectors
// (compile-time, so the loops unroll into registers) of units j0 .. j0 + len - 1. steps k[a]
// with the rows' inputs x[r][a], a < count. Two rows when both inputs are non-zero at every
// step (analog inputs): then each coefficient vector loaded serves two rows, as each input
// vector did in the unit-major layout. The tail of a row takes the fewest vectors that cover
// it: the extra lanes read coefficients past the row (the scratch has kSlack elements of slack
// at its end) and are never stored. (A 63-element row was once done element by element at
// every step.)
template <class T, int R, int NV>
__attribute__((always_inline)) inline void block(const Chunk<T>& p, T* const* row,
                                                 T* const* grow, const T* coef, const int64_t* k,
                                                 const T* const* x, int64_t count, bool signal,
                                                 int64_t len) {
  using V = typename Vec<T>::type;
  constexpr int64_t L = Vec<T>::lanes, W = NV * L;
  const int64_t n = p.n;
  const T* P = coef + 2 * p.steps * n;
  V v[R][NV], acc[R][NV];
  for (int r = 0; r < R; ++r) {
    if (p.fresh) {
      for (int q = 0; q < NV; ++q) v[r][q] = V{}, acc[r][q] = V{};
      continue;
    }
    T part[W] = {};
    const T* src = row[r];
    if (len != W) src = static_cast<const T*>(std::memcpy(part, row[r], len * sizeof(T)));
    for (int q = 0; q < NV; ++q) {
      const V e = load(src + q * L);
      v[r][q] = load(P + q * L) * e;
      acc[r][q] = load(P + n + q * L) * e;
    }
  }
  for (int64_t a = 0; a < count; ++a) {
    const T* d = coef + 2 * k[a] * n;
    for (int q = 0; q < NV; ++q) {
      const V dv = load(d + q * L);
      for (int r = 0; r < R; ++r) v[r][q] += x[r][a] * dv;
      if (signal) {
        const V fv = load(d + n + q * L);
        for (int r = 0; r < R; ++r) acc[r][q] += x[r][a] * fv;
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    if (len == W) {
      for (int q = 0; q < NV; ++q) store(row[r] + q * L, v[r][q]);
      if (signal) {
        for (int q = 0; q < NV; ++q) store(grow[r] + q * L, load(grow[r] + q * L) + acc[r][q]);
      }
      continue;
    }
    T out[W], add[W];
    for (int q = 0; q < NV; ++q) store(out + q * L, v[r][q]), store(add + q * L, acc[r][q]);
    std::memcpy(row[r], out, len * sizeof(T));
    if (signal) {
      for (int64_t j = 0; j < len; ++j) grow[r][j] += add[j];
    }
  }
}

// R whole trace rows (see block): blocks of NV vectors (four for one row, two for two: the
// same registers), then the rest of the row in the fewest vectors that cover it.
template <class T, int R>
__attribute__((always_inline)) inline void whole_rows(const Chunk<T>& p, T* const* row0,
                                                      T* const* grow0, const T* coef,
                                                      const int64_t* k, const T* const* x,
                                                      int64_t count, bool signal) {
  constexpr int64_t L = Vec<T>::lanes;
  constexpr int NV = R == 1 ? 4 : 2;
  T *row[R], *grow[R];
  auto at = [&](int64_t j) {
    for (int r = 0; r < R; ++r) row[r] = row0[r] + j, grow[r] = grow0[r] + j;
  };
  int64_t j = 0;
  for (; j + NV * L <= p.n; j += NV * L) {
    at(j);
    block<T, R, NV>(p, row, grow, coef + j, k, x, count, signal, NV * L);
  }
  const int64_t rest = p.n - j;
  at(j);
  if constexpr (NV == 4) {
    if (rest > 3 * L) return block<T, R, 4>(p, row, grow, coef + j, k, x, count, signal, rest);
    if (rest > 2 * L) return block<T, R, 3>(p, row, grow, coef + j, k, x, count, signal, rest);
  }
  if (rest > L) {
    block<T, R, 2>(p, row, grow, coef + j, k, x, count, signal, rest);
  } else if (rest > 0) {
    block<T, R, 1>(p, row, grow, coef + j, k, x, count, signal, rest);
  }
}

// Trace rows i0 .. i1-1 of every batch element (threads own disjoint rows of G), in memory
// order; coef is this thread's scratch for one batch element's coefficients.
template <class T>
__attribute__((always_inline)) inline void rows(const Chunk<T>& p, int64_t i0, int64_t i1,
                                                T* coef, T* a_next) {
  const int64_t n = p.n;
  Active<T> act(p.steps, i0, i1);
  std::vector<int64_t> k(p.steps), k2(p.steps);
  std::vector<T> x0(p.steps), x1(p.steps);
  const T* xs[2] = {x0.data(), x1.data()};
  for (int64_t b = 0; b < p.B; ++b) {
    const bool signal = coefficients(p, b, coef, a_next);
    const T* x = p.x + b * p.x_batch;
    act.mark(x, p.steps, p.m);
    for (int64_t i = i0; i < i1; ++i) {
      T* row[2] = {p.eps + (b * p.m + i) * n, nullptr};
      T* grow[2] = {p.g + i * n, nullptr};
      prefetch_row(row[0], n, i, i1);
      const int64_t count = act.take(x, i, p.m, k.data(), x0.data());
      if (count == p.steps && i + 1 < i1 &&
          act.take(x, i + 1, p.m, k2.data(), x1.data()) == p.steps) {
        row[1] = row[0] + n, grow[1] = grow[0] + n;
        prefetch_row(row[1], n, i + 1, i1);
        whole_rows<T, 2>(p, row, grow, coef, k.data(), xs, count, signal);
        ++i;
      } else {
        whole_rows<T, 1>(p, row, grow, coef, k.data(), xs, count, signal);
      }
    }
  }
}

// Compiled once per instruction set: the executable targets baseline x86-64, and this loop is
// compute-bound (its multiply-adds run near the machine's peak once the trace stays in
// registers across steps).
__attribute__((target_clones("avx512f", "avx2", "default"))) void rows_cloned(
    const Chunk<float>& p, int64_t i0, int64_t i1, float* coef, float* a_next) {
  rows(p, i0, i1, coef, a_next);
}
__attribute__((target_clones("avx512f", "avx2", "default"))) void rows_cloned(
    const Chunk<double>& p, int64_t i0, int64_t i1, double* coef, double* a_next) {
  rows(p, i0, i1, coef, a_next);
}

template <class T>
const T* ptr(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <class T>
T* mut(const torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace

// The loop of diag_step with the activation and the reset choice fixed, so that it has no
// branches left and vectorises.
template <class T, nn::Activation G, bool DetachReset>
void diag_step_loop(const T* __restrict__ s, const T* __restrict__ sp, const T* __restrict__ yp,
                    const T* __restrict__ hpp, const T* __restrict__ d, T* __restrict__ gp,
                    T* __restrict__ alpha, const T* eth, const T* ed, T* eth_out, T* ed_out,
                    int64_t B, int64_t n, T slope) {
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = b * n + j;
      // u > 0 iff s > 0 for relu and leaky relu (slope >= 0), as in their backward.
      T g = T(1);
      if constexpr (G == nn::Activation::relu) g = s[i] > 0 ? T(1) : T(0);
      if constexpr (G == nn::Activation::leaky_relu) g = s[i] > 0 ? T(1) : slope;
      const T reset = T(1) - yp[i];
      const T a = DetachReset ? d[j] * reset : d[j] * (reset - sp[i] * hpp[i]);
      const T al = g * a;
      gp[i] = g;
      alpha[i] = al;
      // eth_out may be eth (in place): element i is read before it is written.
      eth_out[i] = DetachReset ? al * eth[i] : al * eth[i] + g * d[j] * sp[i] * hpp[i];
      if (ed) ed_out[i] = al * ed[i] + g * sp[i] * reset;
    }
  }
}

void diag_step(const DiagStep& p) {
  const bool one = p.s.dim() == 2;
  const int64_t K = one ? 1 : p.s.size(0), B = p.s.size(-2), n = p.s.size(-1), BN = B * n;
  const torch::Tensor& eth_out = p.eps_th_out.defined() ? p.eps_th_out : p.eps_th;
  const torch::Tensor& ed_out = p.eps_d_out.defined() ? p.eps_d_out : p.eps_d;
  auto check = [&](const torch::Tensor& t, bool steps, const char* name) {
    TORCH_CHECK(t.is_contiguous() && t.scalar_type() == p.s.scalar_type() &&
                    t.numel() == (steps ? K : 1) * BN && t.size(-1) == n,
                "diag_step: ", name, " must be ", steps ? "[K, B, n]" : "[B, n]", ", got ",
                t.sizes());
  };
  for (const auto& [t, name] : {std::pair{&p.s, "s"}, {&p.gp, "gp"}, {&p.alpha, "alpha"},
                                {&eth_out, "eps_th_out"}}) {
    check(*t, true, name);
  }
  for (const auto& [t, name] : {std::pair{&p.s_prev, "s_prev"}, {&p.y_prev, "y_prev"},
                                {&p.hp_prev, "hp_prev"}, {&p.eps_th, "eps_th"}}) {
    check(*t, false, name);
  }
  TORCH_CHECK(p.eps_d.defined() == ed_out.defined(), "diag_step: eps_d and its output together");
  if (p.eps_d.defined()) check(p.eps_d, false, "eps_d"), check(ed_out, true, "eps_d_out");
  if (K > 1) {
    TORCH_CHECK(p.eps_th_out.defined(), "diag_step: K > 1 needs eps_th_out");
    check(p.y, true, "y"), check(p.hp, true, "hp");
  }
  const auto d = p.d.contiguous();
  AT_DISPATCH_FLOATING_TYPES(p.s.scalar_type(), "ostl_diag_step", [&] {
    using T = scalar_t;
    const T *s = ptr<T>(p.s), *y = ptr<T>(p.y), *hp = ptr<T>(p.hp), *eth = ptr<T>(p.eps_th),
            *ed = ptr<T>(p.eps_d);
    T *eo = mut<T>(eth_out), *dout = mut<T>(ed_out);
    auto run = [&](auto g, auto detach) {
      for (int64_t k = 0; k < K; ++k) {
        const int64_t o = k * BN, q = o - BN;  // step k's and step k-1's rows
        diag_step_loop<T, decltype(g)::value, decltype(detach)::value>(
            s + o, k ? s + q : ptr<T>(p.s_prev), k ? y + q : ptr<T>(p.y_prev),
            k ? hp + q : ptr<T>(p.hp_prev), ptr<T>(d), mut<T>(p.gp) + o, mut<T>(p.alpha) + o,
            k ? eo + q : eth, !ed ? nullptr : k ? dout + q : ed, eo + o, dout ? dout + o : nullptr,
            B, n, static_cast<T>(p.g_slope));
      }
    };
    auto with_g = [&](auto detach) {
      nn::dispatch_activation(p.g, [&](auto g) { run(g, detach); });
    };
    if (p.detach_reset) {
      with_g(std::true_type{});
    } else {
      with_g(std::false_type{});
    }
  });
}

void diag_accumulate(const torch::Tensor& L, const torch::Tensor& hp, const torch::Tensor& eps_th,
                     const torch::Tensor& eps_d, const torch::Tensor& d, const torch::Tensor& c,
                     const torch::Tensor& g_th, const torch::Tensor& g_rho) {
  const int64_t B = hp.size(0), n = hp.size(1);
  const auto Lc = L.contiguous().to(hp.scalar_type());
  const auto dc = d.contiguous();
  for (const auto* t : {&hp, &eps_th, &c}) {
    TORCH_CHECK(t->is_contiguous() && t->sizes() == hp.sizes(), "diag_accumulate: [B, n]");
  }
  TORCH_CHECK(g_th.is_contiguous() && g_th.numel() == n && Lc.sizes() == hp.sizes(),
              "diag_accumulate: bad shapes");
  TORCH_CHECK(eps_d.defined() == g_rho.defined(), "diag_accumulate: eps_d and g_rho together");
  AT_DISPATCH_FLOATING_TYPES(hp.scalar_type(), "ostl_diag_accumulate", [&] {
    using T = scalar_t;
    const T *l = ptr<T>(Lc), *h = ptr<T>(hp), *eth = ptr<T>(eps_th), *ed = ptr<T>(eps_d),
            *dd = ptr<T>(dc);
    T *cc = mut<T>(c), *gth = mut<T>(g_th), *grho = mut<T>(g_rho);
    // Sums over b in per-unit accumulators, j innermost (contiguous, vectorised).
    std::vector<T> sum_th(n, T(0)), sum_d(n, T(0));
    for (int64_t b = 0; b < B; ++b) {
      const int64_t o = b * n;
      for (int64_t j = 0; j < n; ++j) {
        const T ci = l[o + j] * h[o + j];
        cc[o + j] += ci;
        sum_th[j] += ci * (eth[o + j] - T(1));
      }
      if (ed) {
        for (int64_t j = 0; j < n; ++j) sum_d[j] += l[o + j] * h[o + j] * ed[o + j];
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      gth[j] += sum_th[j];
      if (grho) grho[j] += sum_d[j] * (dd[j] * (T(1) - dd[j]));
    }
  });
}

bool fused_applicable(const torch::TensorOptions& eps, const torch::Tensor& g) {
  const auto t = eps.dtype().toScalarType();
  return eps.device().is_cpu() && g.is_cpu() && (t == torch::kFloat || t == torch::kDouble) &&
         g.scalar_type() == t;
}

void trace_update_contract(const torch::Tensor& eps, const torch::Tensor& alpha,
                           const torch::Tensor& gp, const torch::Tensor& x, const torch::Tensor& g,
                           const torch::Tensor& c, int64_t steps, bool fresh) {
  TORCH_CHECK(fused_applicable(eps.options(), g) && eps.is_contiguous() && g.is_contiguous() &&
                  alpha.is_contiguous() && gp.is_contiguous() && x.is_contiguous() &&
                  c.is_contiguous() && alpha.scalar_type() == g.scalar_type() &&
                  gp.scalar_type() == g.scalar_type() && x.scalar_type() == g.scalar_type() &&
                  c.scalar_type() == g.scalar_type(),
              "trace_update_contract: CPU float/double contiguous tensors expected");
  const int64_t B = eps.size(0), m = eps.size(1), n = eps.size(2);
  TORCH_CHECK(alpha.dim() == 3 && alpha.size(0) >= steps && alpha.size(1) == B &&
                  alpha.size(2) == n && gp.sizes() == alpha.sizes() && c.sizes() == alpha.sizes() &&
                  x.dim() == 3 && x.size(0) == B && x.size(1) == alpha.size(0) && x.size(2) == m &&
                  g.dim() == 2 && g.size(0) == m && g.size(1) == n,
              "trace_update_contract: shapes do not match the trace");
  if (steps == 0) return;
  AT_DISPATCH_FLOATING_TYPES(eps.scalar_type(), "ostl_trace_update_contract", [&] {
    using T = scalar_t;
    const Chunk<T> p{eps.data_ptr<T>(), g.data_ptr<T>(), alpha.data_ptr<T>(), gp.data_ptr<T>(),
                     x.data_ptr<T>(),   c.data_ptr<T>(), steps,
                     B,                 n,               m,
                     x.size(1) * m,     fresh};
    at::parallel_for(0, m, 4, [&](int64_t i0, int64_t i1) {
      // One batch element's coefficients, (2 K + 2) n, with kSlack of slack that the last
      // block's extra lanes read, and n for the loop's alpha_{k+1}.
      const torch::Tensor scratch = torch::empty({(2 * steps + 3) * n + kSlack}, eps.options());
      scratch.narrow(0, (2 * steps + 2) * n, kSlack).zero_();  // read, never used: no NaNs
      T* coef = scratch.data_ptr<T>();
      rows_cloned(p, i0, i1, coef, coef + (2 * steps + 2) * n + kSlack);
    });
  });
}

}  // namespace nc::learn::kernels
