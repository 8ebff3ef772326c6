#pragma once
// One seed for every random source. Each consumer draws from its own named stream, so
// that adding a consumer does not shift the numbers of the others, and a run resumed at
// epoch k draws exactly what an uninterrupted run would.
#include <ATen/core/Generator.h>

#include <cstdint>
#include <string>

namespace nc {

/// Seeds LibTorch's global generator and the C library's rand() from `seed`.
void seed_everything(uint64_t seed);

/// A seed derived from (seed, stream name, index) by SplitMix64 mixing.
uint64_t derive_seed(uint64_t seed, const std::string& stream, uint64_t index = 0);

/// A CPU generator seeded with derive_seed(seed, stream, index).
at::Generator make_generator(uint64_t seed, const std::string& stream, uint64_t index = 0);

}  // namespace nc
