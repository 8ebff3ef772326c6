#include "neurocore/dist/world.h"

#include <fmt/format.h>

#include <cstdlib>
#include <limits>

#include "neurocore/core/error.h"

namespace nc::dist {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback, bool required) {
  const char* v = env(name);
  if (!v) {
    if (required) {
      throw UserError(fmt::format("environment variable {} is not set; a worker of a "
                                  "data-parallel job needs it (docs/distributed.md)", name));
    }
    return fallback;
  }
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max()) {
    throw UserError(fmt::format("environment variable {} must be an integer, got '{}'", name, v));
  }
  return static_cast<int>(x);
}

}  // namespace

bool launched_as_worker() { return env("WORLD_SIZE") != nullptr; }

void validate(const World& w) {
  if (w.world_size < 1) {
    throw UserError(fmt::format("WORLD_SIZE must be >= 1, got {}", w.world_size));
  }
  if (w.rank < 0 || w.rank >= w.world_size) {
    throw UserError(fmt::format("RANK must be in 0..{} (WORLD_SIZE {}), got {}", w.world_size - 1,
                                w.world_size, w.rank));
  }
  if (w.local_world_size < 1 || w.local_world_size > w.world_size) {
    throw UserError(fmt::format("LOCAL_WORLD_SIZE must be in 1..{} (WORLD_SIZE), got {}",
                                w.world_size, w.local_world_size));
  }
  if (w.local_rank < 0 || w.local_rank >= w.local_world_size) {
    throw UserError(fmt::format("LOCAL_RANK must be in 0..{} (LOCAL_WORLD_SIZE {}), got {}",
                                w.local_world_size - 1, w.local_world_size, w.local_rank));
  }
  if (w.master_port < 1 || w.master_port > 65535) {
    throw UserError(fmt::format("MASTER_PORT must be in 1..65535, got {}", w.master_port));
  }
  if (w.master_addr.empty()) throw UserError("MASTER_ADDR is empty; give rank 0's host name or address");
}

World world_from_env() {
  World w;
  if (const char* a = env("MASTER_ADDR")) w.master_addr = a;
  w.master_port = env_int("MASTER_PORT", w.master_port, false);
  w.world_size = env_int("WORLD_SIZE", 1, true);
  w.rank = env_int("RANK", 0, w.world_size > 1);
  w.local_rank = env_int("LOCAL_RANK", w.rank, false);
  w.local_world_size = env_int("LOCAL_WORLD_SIZE", w.world_size, false);
  validate(w);
  return w;
}

}  // namespace nc::dist
