#include "neurocore/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <string>
#include <thread>

#include "neurocore/core/error.h"

namespace nc {
namespace {

// LibTorch sizes only its own pool. The BLAS behind its matrix products (OpenBLAS on Debian)
// keeps one worker per core of its own, and idle workers spin in sched_yield: with
// `threads: 1` a matmul still ran on both cores and a worker spun on the second, so two
// one-thread runs side by side fought over two cores. Looked up at run time because which BLAS
// is loaded is chosen by Debian's alternatives, not at link time.
void set_blas_threads(int k) {
  using SetThreads = void (*)(int);
  if (auto* f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    f(k);
  }
}

}  // namespace

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int set_threads(int n) {
  if (n < 0) throw UserError("threads must be >= 0 (0 = one per core), got " + std::to_string(n));
  const int k = n == 0 ? hardware_threads() : n;
  at::set_num_threads(k);
  set_blas_threads(k);
  return k;
}

int threads() { return at::get_num_threads(); }

void keep_freed_memory() {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

}  // namespace nc
