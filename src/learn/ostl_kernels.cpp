#include "ostl_kernels.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>

namespace nc::learn::kernels {
namespace {

// Trace elements of one row carried through all held-back steps at a time: small enough to
// stay in vector registers (four AVX-512 registers of floats), large enough to amortise the
// per-step scalars.
constexpr int64_t kBlock = 64;

template <class T>
struct Chunk {
  T* eps;
  T* g;
  const T* alpha;
  const T* gp;
  const T* x;
  const T* c;
  int64_t steps, B, n, m;
};

// One block of `len` elements of trace row (b, j) through every step of the chunk. W > 0: a
// full block (compile-time length, so the loops vectorise without a remainder); W = 0: the tail.
template <class T, int64_t W>
__attribute__((always_inline)) inline void block(const Chunk<T>& p, T* row, T* grow, const T* x, int64_t r, int64_t len) {
  constexpr int64_t cap = W > 0 ? W : kBlock;
  if constexpr (W > 0) len = W;
  const int64_t BN = p.B * p.n, Bm = p.B * p.m;
  T v[cap], acc[cap];
  for (int64_t i = 0; i < len; ++i) v[i] = row[i], acc[i] = T(0);
  bool signal = false;
  for (int64_t k = 0; k < p.steps; ++k) {
    const T a = p.alpha[k * BN + r], gk = p.gp[k * BN + r], ck = p.c[k * BN + r];
    const T* xk = x + k * Bm;
    if (ck == T(0)) {
      for (int64_t i = 0; i < len; ++i) v[i] = a * v[i] + gk * xk[i];
      continue;
    }
    signal = true;
    for (int64_t i = 0; i < len; ++i) {
      v[i] = a * v[i] + gk * xk[i];
      acc[i] += ck * v[i];
    }
  }
  for (int64_t i = 0; i < len; ++i) row[i] = v[i];
  if (signal) {
    for (int64_t i = 0; i < len; ++i) grow[i] += acc[i];
  }
}

// Trace rows j0 .. j1-1 of every batch element (threads own disjoint rows of g).
template <class T>
__attribute__((always_inline)) inline void rows(const Chunk<T>& p, int64_t j0, int64_t j1) {
  for (int64_t b = 0; b < p.B; ++b) {
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t r = b * p.n + j;
      T* row = p.eps + r * p.m;
      T* grow = p.g + j * p.m;
      const T* x = p.x + b * p.m;
      int64_t i = 0;
      for (; i + kBlock <= p.m; i += kBlock) block<T, kBlock>(p, row + i, grow + i, x + i, r, kBlock);
      if (i < p.m) block<T, 0>(p, row + i, grow + i, x + i, r, p.m - i);
    }
  }
}

// Compiled once per instruction set: the executable targets baseline x86-64, and this loop is
// compute-bound once the trace stays in registers across steps.
__attribute__((target_clones("avx512f", "avx2", "default")))
void rows_cloned(const Chunk<float>& p, int64_t j0, int64_t j1) { rows(p, j0, j1); }
__attribute__((target_clones("avx512f", "avx2", "default")))
void rows_cloned(const Chunk<double>& p, int64_t j0, int64_t j1) { rows(p, j0, j1); }

}  // namespace

bool fused_applicable(const torch::Tensor& eps, const torch::Tensor& g) {
  const auto t = eps.scalar_type();
  return eps.is_cpu() && g.is_cpu() && (t == torch::kFloat || t == torch::kDouble) &&
         g.scalar_type() == t && eps.is_contiguous() && g.is_contiguous();
}

void trace_update_contract(const torch::Tensor& eps, const torch::Tensor& alpha,
                           const torch::Tensor& gp, const torch::Tensor& x, const torch::Tensor& g,
                           const torch::Tensor& c, int64_t steps) {
  TORCH_CHECK(fused_applicable(eps, g) && alpha.is_contiguous() && gp.is_contiguous() &&
                  x.is_contiguous() && c.is_contiguous(),
              "trace_update_contract: CPU float/double contiguous tensors expected");
  const int64_t B = eps.size(0), n = eps.size(1), m = eps.size(2);
  TORCH_CHECK(alpha.dim() == 3 && alpha.size(0) >= steps && alpha.size(1) == B &&
                  alpha.size(2) == n && gp.sizes() == alpha.sizes() && c.sizes() == alpha.sizes() &&
                  x.dim() == 3 && x.size(0) == alpha.size(0) && x.size(1) == B && x.size(2) == m,
              "trace_update_contract: shapes do not match the trace");
  if (steps == 0) return;
  AT_DISPATCH_FLOATING_TYPES(eps.scalar_type(), "ostl_trace_update_contract", [&] {
    const Chunk<scalar_t> p{eps.data_ptr<scalar_t>(),  g.data_ptr<scalar_t>(),
                            alpha.data_ptr<scalar_t>(), gp.data_ptr<scalar_t>(),
                            x.data_ptr<scalar_t>(),     c.data_ptr<scalar_t>(),
                            steps, B, n, m};
    at::parallel_for(0, n, 4, [&](int64_t j0, int64_t j1) { rows_cloned(p, j0, j1); });
  });
}

}  // namespace nc::learn::kernels
