#pragma once
// The data-parallel flags shared by `train`, `lm` and `continual` (docs/distributed.md), and
// the two ways a command runs data-parallel: as the launcher of --nproc local workers, or as
// one worker (WORLD_SIZE set, by the launcher or by the user as torchrun would).
#include <functional>

#include "commands.h"
#include "neurocore/dist/group.h"
#include "neurocore/dist/world.h"

namespace nc::cli {

struct DistArgs {
  int nproc = 0;             // > 0: launch this many local workers
  double timeout_s = 300;    // --dist-timeout
  double bucket_mb = 25;     // --bucket-mb
  int64_t bucket_bytes() const { return static_cast<int64_t>(bucket_mb * (1 << 20)); }
};

void add_dist_options(CLI::App* cmd, DistArgs& a);

/// Caps this rank's intra-op threads at cores / LOCAL_WORLD_SIZE (at least 1): `threads: 0`
/// (one per core) would otherwise give every local rank every core.
void share_cores(const dist::World& world);

/// --nproc given (this process launches) or WORLD_SIZE set (this process is a worker).
bool distributed(const DistArgs& a);

/// Runs the --nproc workers of this command line and waits; throws ExitCode{code} when one
/// failed (each failure was printed, naming its rank).
void launch_workers(const DistArgs& a, const Global& g);

/// As one rank: rendezvous (before any data is read, so a bad world fails fast), then
/// body(group, world). A failure is printed and ends the process at once with code 2 (user
/// error, a lost rank) or 1: Gloo's threads may still wait on a lost peer, and the normal exit
/// path could wait with them. Files are written atomically, so nothing is half-written.
void as_worker(const DistArgs& a, const Global& g,
               const std::function<void(dist::Group&, const dist::World&)>& body);

}  // namespace nc::cli
