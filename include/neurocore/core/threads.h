#pragma once
// Process-wide runtime settings: the size of LibTorch's intra-op thread pool, malloc's policy.

namespace nc {

/// Sets the intra-op pool, and the BLAS library's threads when it is OpenBLAS, to n threads;
/// n = 0 means one per core.
/// Throws UserError when n < 0. Returns the number set.
int set_threads(int n);
/// The current size of the intra-op pool.
int threads();
/// Number of cores the machine reports.
int hardware_threads();

/// Makes glibc keep freed memory in the process. By default it returns large blocks to the
/// system after every training step and page-faults them back in on the next one, which made
/// an SNU step 1.5x instead of 1.08x a plain MLP step (docs/nn.md, "Benchmark") and a GRAPES
/// local step 2.8x a plain one (docs/results/grapes.md). Every executable that trains calls it.
void keep_freed_memory();

}  // namespace nc
