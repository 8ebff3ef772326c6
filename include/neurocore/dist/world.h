#pragma once
// Where this process stands in a data-parallel job: the variables torchrun sets.
//
//   MASTER_ADDR   host of rank 0, which serves the rendezvous store (default 127.0.0.1)
//   MASTER_PORT   its TCP port (default 29500)
//   WORLD_SIZE    number of ranks (>= 1)
//   RANK          this process's rank, 0 <= RANK < WORLD_SIZE
//   LOCAL_RANK    rank on this machine (default RANK)
//   LOCAL_WORLD_SIZE  ranks on this machine (default WORLD_SIZE), sizes the thread pools
#include <string>

namespace nc::dist {

struct World {
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;
  int local_world_size = 1;
};

/// Whether WORLD_SIZE is set in the environment: this process is one rank of a job.
bool launched_as_worker();

/// The World described by the environment. Throws UserError naming the variable, the value
/// seen and the value expected (WORLD_SIZE 0, RANK >= WORLD_SIZE, a port outside 1..65535,
/// RANK missing while WORLD_SIZE is set, ...).
World world_from_env();

/// The same checks on a World built by hand (tests, the launcher).
void validate(const World& w);

}  // namespace nc::dist
