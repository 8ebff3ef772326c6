#include "neurocore/core/threads.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "neurocore/core/error.h"

namespace {

// OpenBLAS's own thread count, or -1 when the loaded BLAS is not OpenBLAS.
int openblas_threads() {
  using GetThreads = int (*)();
  auto* f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  return f ? f() : -1;
}

TEST(Threads, SetsLibTorchAndBlasPools) {
  const int before = nc::threads();
  const bool openblas = openblas_threads() != -1;
  for (const int n : {1, nc::hardware_threads()}) {
    EXPECT_EQ(nc::set_threads(n), n);
    EXPECT_EQ(at::get_num_threads(), n);
    if (openblas) {
      EXPECT_EQ(openblas_threads(), n);
    }
  }
  EXPECT_EQ(nc::set_threads(0), nc::hardware_threads());
  nc::set_threads(before);
}

TEST(Threads, RefusesNegativeCounts) { EXPECT_THROW(nc::set_threads(-1), nc::UserError); }

}  // namespace
