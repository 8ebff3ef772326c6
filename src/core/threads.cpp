#include "neurocore/core/threads.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <string>
#include <thread>

#include "neurocore/core/error.h"

namespace nc {

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

int set_threads(int n) {
  if (n < 0) throw UserError("threads must be >= 0 (0 = one per core), got " + std::to_string(n));
  const int k = n == 0 ? hardware_threads() : n;
  at::set_num_threads(k);
  return k;
}

int threads() { return at::get_num_threads(); }

void keep_freed_memory() {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

}  // namespace nc
