#pragma once
// Size of LibTorch's intra-op thread pool.

namespace nc {

/// Sets the intra-op pool to n threads; n = 0 means one per core.
/// Throws UserError when n < 0. Returns the number set.
int set_threads(int n);
/// The current size of the intra-op pool.
int threads();
/// Number of cores the machine reports.
int hardware_threads();

}  // namespace nc
