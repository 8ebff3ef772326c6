#include "neurocore/learn/data_parallel.h"

#include <torch/types.h>

namespace nc::learn {

std::pair<int64_t, int64_t> shard_range(int64_t global, int rank, int world) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world && global >= 0, "shard_range: bad rank ", rank,
              " of ", world, " for ", global, " examples");
  const int64_t base = global / world, extra = global % world;
  const int64_t first = rank * base + std::min<int64_t>(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

}  // namespace nc::learn
