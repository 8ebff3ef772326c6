#include "neurocore/core/seed.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdlib>

namespace nc {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

void seed_everything(uint64_t seed) {
  torch::manual_seed(seed);
  std::srand(static_cast<unsigned>(derive_seed(seed, "libc")));
}

uint64_t derive_seed(uint64_t seed, const std::string& stream, uint64_t index) {
  uint64_t h = splitmix64(seed);
  for (unsigned char c : stream) h = splitmix64(h ^ c);
  return splitmix64(h ^ splitmix64(index));
}

at::Generator make_generator(uint64_t seed, const std::string& stream, uint64_t index) {
  return at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, stream, index));
}

}  // namespace nc
